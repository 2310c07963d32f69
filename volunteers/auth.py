"""Log-in lockout, wherever a password is checked: the web and admin log-in, the token endpoint,
the password-change page and the password confirmation of account deletion.

``LockoutModelBackend`` is Django's ``ModelBackend`` with a guard in front. Every password check
is counted as a ``LoginFailure`` row *before* the password is checked, and deleted again if the
password was right; the guard refuses (``PermissionDenied`` stops every later backend) when, in
the last ``WINDOW_SECONDS``:

- this account from this client address already has ``CLIENT_FAILURES`` failures: the pair is
  locked, so an attacker who names the coordinator locks only themself out;
- this address has ``IP_FAILURES`` failures over every account (password spraying);
- this account has ``ACCOUNT_FAILURES`` failures from every address together, and the latest was
  less than ``ACCOUNT_DELAY_SECONDS`` ago: guesses spread over many addresses are slowed to one
  per delay, but the account is never shut: its owner waits at most that delay (and the SMS-code
  log-in does not go through passwords at all).

Counting and checking are one step: under a lock per account and per address (a transaction-level
advisory lock) the recent rows are counted and the attempt's row is inserted, then the lock is
released and the password is checked. A burst of concurrent guesses therefore gets at most the limit checked.

Attempts refused while locked are not recorded: an attacker cannot keep a lock alive forever by
hammering it, and the table grows by at most ``IP_FAILURES`` rows per address and window. The
client address is ``config.client.client_ip`` (behind ``NUM_PROXIES`` trusted proxies). Staff
lift a lockout with ``login_lockout_clear`` (the admin's action on failed log-ins), which is
recorded as a ``LoginUnlock``.
"""

from __future__ import annotations

import functools
import logging
import math
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, connections, router, transaction
from django.utils import timezone

from config.client import client_ip
from config.errors import ServiceError
from config.prepared import Columns, column, table
from volunteers.models import LoginFailure, LoginUnlock, Volunteer

logger = logging.getLogger(__name__)

DEFAULTS = {
    "CLIENT_FAILURES": 5,
    "IP_FAILURES": 20,
    "ACCOUNT_FAILURES": 10,
    "ACCOUNT_DELAY_SECONDS": 60,
    "WINDOW_SECONDS": 15 * 60,
}
# Where the backend leaves the wait of a refused attempt for the view that called authenticate().
_WAIT_ATTRIBUTE = "_login_lockout_wait"


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
    """0 when this account may be tried from this address, else the seconds until it may."""
    config = lockout_settings()
    now = now or timezone.now()
    window = config["WINDOW_SECONDS"]
    recent = LoginFailure.objects.filter(created_at__gt=now - timedelta(seconds=window)).order_by("-created_at")
    waits = []
    name = normalise_username(username)
    if name:
        limit = config["CLIENT_FAILURES"]
        times = list(recent.filter(username=name, ip_address=ip).values_list("created_at", flat=True)[:limit])
        waits.append(_retry_after(times, limit, now, window))
        limit = config["ACCOUNT_FAILURES"]
        times = list(recent.filter(username=name).values_list("created_at", flat=True)[:limit])
        if limit > 0 and len(times) >= limit:
            release = times[0].timestamp() + config["ACCOUNT_DELAY_SECONDS"]
            waits.append(max(0, math.ceil(release - now.timestamp())))
    if ip:
        limit = config["IP_FAILURES"]
        times = list(recent.filter(ip_address=ip).values_list("created_at", flat=True)[:limit])
        waits.append(_retry_after(times, limit, now, window))
    return max(waits, default=0)


def _lock(name: str, ip: str | None) -> None:
    """Serialise counting for this account and this address until the transaction ends."""
    keys = sorted(key for key in (f"login:account:{name}" if name else "", f"login:ip:{ip}" if ip else "") if key)
    with connection.cursor() as cursor:
        for key in keys:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])


def login_attempt_begin(*, username: str, ip: str | None) -> tuple[int | None, int]:
    """Count a password check before it runs: ``(the attempt's row id, 0)``, or ``(None, wait)``
    when a limit is reached (nothing is recorded then)."""
    name = normalise_username(username)
    with transaction.atomic():
        _lock(name, ip)
        now = timezone.now()
        wait = lockout_retry_after(username=name, ip=ip, now=now)
        if wait:
            return None, wait
        attempt = LoginFailure.objects.create(username=name, ip_address=ip, created_at=now)
    return attempt.pk, 0


def login_attempt_succeeded(*, username: str, ip: str | None) -> None:
    """The password was right: this client's failures for the account are forgiven (the attempt's
    own row with them). Other addresses' failures stay, so a guesser elsewhere gains nothing."""
    LoginFailure.objects.filter(username=normalise_username(username), ip_address=ip).delete()


def login_lockout_clear(*, actor, username: str) -> LoginUnlock:
    """Lift every lockout of an account (its failures from every address), as staff may; recorded."""
    if not (getattr(actor, "is_active", False) and actor.has_perm("volunteers.delete_loginfailure")):
        raise ServiceError("permission_denied")
    name = normalise_username(username)
    with transaction.atomic():
        cleared, _ = LoginFailure.objects.filter(username=name).delete()
        unlock = LoginUnlock.objects.create(actor=actor, username=name, failures_cleared=cleared)
    # The username may be a mobile number: config/logging.py masks it.
    logger.info("Log-in lockout of %s lifted by user %s (%s failures cleared).", name, actor.pk, cleared)
    return unlock


def lockout_wait(request) -> int:
    """The seconds a log-in refused by the lockout must wait, after ``authenticate()`` returned
    None for ``request``; 0 when it was refused for another reason (a wrong password)."""
    return getattr(request, _WAIT_ATTRIBUTE, 0) if request is not None else 0


@functools.cache
def _user_query(alias: str) -> tuple[str, Columns, Columns]:
    user_model = get_user_model()
    users, volunteers = Columns.of(user_model, "u", alias), Columns.of(Volunteer, "v", alias)
    pk = user_model._meta.pk.column
    sql = (
        f"SELECT {users.sql}, {volunteers.sql} FROM {table(user_model, alias)} u "  # noqa: S608 - quoted names only
        f"LEFT JOIN {table(Volunteer, alias)} v ON v.{column(Volunteer, 'user', alias)} = u.{connections[alias].ops.quote_name(pk)} "
        f"WHERE u.{connections[alias].ops.quote_name(pk)} = %s"
    )
    return sql, users, volunteers


def user_with_volunteer(user_id):
    """The user with their volunteer record (or the knowledge that they have none), as
    ``select_related("volunteer")`` loads them: every page asks for both (roles, navigation).
    One query, written once per process (config/prepared.py), not composed on each request."""
    user_model = get_user_model()
    try:
        user_id = user_model._meta.pk.to_python(user_id)
    except ValidationError:
        return None
    alias = router.db_for_read(user_model)
    sql, users, volunteers = _user_query(alias)
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, [user_id])
        row = cursor.fetchone()
    if row is None:
        return None
    user = users.build(row, db=alias)
    volunteer = volunteers.build(row, users.width, db=alias)
    user_model._meta.get_field("volunteer").set_cached_value(user, volunteer)
    if volunteer is not None:
        Volunteer._meta.get_field("user").set_cached_value(volunteer, user)
    return user


class LockoutModelBackend(ModelBackend):
    """``ModelBackend`` behind the lockout guard (it also serves sessions and permissions)."""

    def get_user(self, user_id):
        user = user_with_volunteer(user_id)
        return user if user is not None and self.user_can_authenticate(user) else None

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(self._username_field())
        if username is None or password is None:
            return None
        ip = client_ip(request)
        _attempt, wait = login_attempt_begin(username=username, ip=ip)
        if wait:
            if request is not None:
                setattr(request, _WAIT_ATTRIBUTE, wait)
            # The username may be a mobile number: it is never logged (see config/logging.py).
            logger.warning("Log-in refused from %s: too many recent failures for this account or address.", ip)
            raise PermissionDenied
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            return None  # the attempt's row stays as the failure
        login_attempt_succeeded(username=username, ip=ip)
        return user

    @staticmethod
    def _username_field() -> str:
        from django.contrib.auth import get_user_model

        return get_user_model().USERNAME_FIELD
