"""Reading what a client put in a URL: ids, dates, and where to go next.

Each reader answers ``None`` for anything it cannot use, never an exception, so a bad query value
is a filter that matches nothing or a 400, not a 500. ``str.isdigit()`` is not the test for an id:
it is true for ``²`` and ``①``, which ``int()`` refuses, and an id also has to fit in the
database's 64-bit integer.
"""

from __future__ import annotations

import re
from datetime import date

from django.utils.dateparse import parse_date
from django.utils.http import url_has_allowed_host_and_scheme

_ID = re.compile(r"[0-9]{1,18}")  # ASCII digits only; 18 digits always fit in a signed 64-bit integer


def as_id(value) -> int | None:
    """A database id written in ASCII digits, else ``None``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 <= value < 2**63 else None
    if isinstance(value, str) and _ID.fullmatch(value):
        return int(value)
    return None


def as_text(value, max_length: int = 100) -> str:
    """A search box's text from a URL or form: no NUL (PostgreSQL text cannot hold one), trimmed,
    at most ``max_length`` characters; empty for anything else."""
    if not isinstance(value, str):
        return ""
    return value.replace("\x00", "").strip()[:max_length]


def as_date(value) -> date | None:
    """A real ``YYYY-MM-DD`` date, else ``None`` (``2027-02-30`` is well formed but no date)."""
    if not isinstance(value, str):
        return None
    try:
        return parse_date(value)
    except ValueError:
        return None


def safe_next_url(request, default: str) -> str:
    """The ``next`` a form or link carries, if it is a path on this site; else ``default``.

    Only a path (``/…``): ``redirect()`` takes any other text for the name of a URL pattern, so
    ``next=abc`` would be a ``NoReverseMatch``, a 500.
    """
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate.startswith("/") and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def object_id(pk) -> int:
    """The id in an API detail URL. DRF's router takes any text there; text that is no id names nothing."""
    from config.errors import ServiceError

    value = as_id(pk)
    if not value:  # ids start at 1
        raise ServiceError("not_found")
    return value
