"""The client's address, read in one place for lockouts, throttles and logs.

Behind ``NUM_PROXIES`` trusted reverse proxies, ``REMOTE_ADDR`` is the nearest proxy's address
and ``X-Forwarded-For`` ends with one entry per proxy: the outermost trusted proxy wrote the
address of whoever connected to it, which is the client. Entries before that one are whatever
the client sent and can be forged, so they are never read. Without a trusted proxy the header
is ignored altogether.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from django.conf import settings


def client_address(meta: Mapping, *, proxies: int | None = None) -> str | None:
    """The client's address from a request's ``META`` (or a WSGI environ)."""
    remote = meta.get("REMOTE_ADDR") or None
    proxies = settings.NUM_PROXIES if proxies is None else proxies
    if proxies <= 0:
        return remote
    hops = [hop.strip() for hop in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if not hops:
        return remote
    candidate = hops[-min(proxies, len(hops))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        # Only a misconfigured proxy writes something else; the proxy's own address is the safe
        # side (it shares limits more widely, it never lets a client pick its own bucket).
        return remote


def client_ip(request) -> str | None:
    """The address of the client that sent ``request`` (a Django or DRF request, or None)."""
    if request is None:
        return None
    return client_address(request.META)
