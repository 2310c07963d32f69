"""Log-in lockout, for the web log-in and the API token endpoint alike.

``LockoutModelBackend`` is Django's ``ModelBackend`` with a guard in front: a username with
``USERNAME_FAILURES`` failed log-ins within ``WINDOW``, or an address with ``IP_FAILURES``, is
refused without the password being checked (``PermissionDenied`` stops every later backend),
until enough of those failures have aged out of the window. Failures are rows in the database
(``LoginFailure``), so every process and worker sees the same count. A successful log-in clears
the username's failures; an address's failures only age out.

Attempts refused while locked are not recorded: an attacker cannot keep a lock alive forever by
hammering it, and the table grows by at most ``IP_FAILURES`` rows per address and window.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from config.client import client_ip

from .models import LoginFailure

logger = logging.getLogger(__name__)

DEFAULTS = {"USERNAME_FAILURES": 5, "IP_FAILURES": 20, "WINDOW_SECONDS": 15 * 60}


def lockout_settings() -> dict:
    return {**DEFAULTS, **getattr(settings, "LOGIN_LOCKOUT", {})}


def normalise_username(username: str) -> str:
    return (username or "").strip().casefold()[:150]


def _retry_after(times: list[datetime], limit: int, now: datetime, window_seconds: int) -> int:
    """Seconds until fewer than ``limit`` of ``times`` (newest first) lie inside the window."""
    if limit <= 0 or len(times) < limit:
        return 0
    release = times[limit - 1].timestamp() + window_seconds
    return max(1, math.ceil(release - now.timestamp()))


def lockout_retry_after(*, username: str, ip: str | None, now: datetime | None = None) -> int:
    """0 when a log-in may be tried, else the seconds until it may."""
    config = lockout_settings()
    now = now or timezone.now()
    since = now - timedelta(seconds=config["WINDOW_SECONDS"])
    recent = LoginFailure.objects.filter(created_at__gt=since).order_by("-created_at")
    waits = []
    name = normalise_username(username)
    if name:
        limit = config["USERNAME_FAILURES"]
        times = list(recent.filter(username=name).values_list("created_at", flat=True)[:limit])
        waits.append(_retry_after(times, limit, now, config["WINDOW_SECONDS"]))
    if ip:
        limit = config["IP_FAILURES"]
        times = list(recent.filter(ip_address=ip).values_list("created_at", flat=True)[:limit])
        waits.append(_retry_after(times, limit, now, config["WINDOW_SECONDS"]))
    return max(waits, default=0)


def login_failure_record(*, username: str, ip: str | None) -> LoginFailure:
    return LoginFailure.objects.create(username=normalise_username(username), ip_address=ip)


def login_failures_clear(*, username: str) -> None:
    LoginFailure.objects.filter(username=normalise_username(username)).delete()


class LockoutModelBackend(ModelBackend):
    """``ModelBackend`` behind the lockout guard (it also serves sessions and permissions)."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(self._username_field())
        if username is None or password is None:
            return None
        ip = client_ip(request)
        if lockout_retry_after(username=username, ip=ip):
            # The username may be a mobile number: it is never logged (see config/logging.py).
            logger.warning("Log-in refused from %s: too many recent failures for this account or address.", ip)
            raise PermissionDenied
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            login_failure_record(username=username, ip=ip)
            return None
        login_failures_clear(username=username)
        return user

    @staticmethod
    def _username_field() -> str:
        from django.contrib.auth import get_user_model

        return get_user_model().USERNAME_FIELD
