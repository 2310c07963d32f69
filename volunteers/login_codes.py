"""Log-in by a code texted to the mobile number (短信验证码登录), the default way in for every role.

``login_code_request`` answers the same way whether or not the number belongs to anyone, so
nobody learns who is registered: the limits are counted for every number, and a code is made
and texted only for a known one. ``login_code_verify`` returns the account a right code belongs
to. Rules (docs/privacy.md, "Log-in codes"):

- a code is ``DIGITS`` random digits, valid ``VALID_SECONDS``; a new code replaces the live one
  (the database holds at most one live code per number: a partial unique index);
- only a keyed HMAC of the number and the code is stored (``crypto.keyed_hash``), and the code
  is never logged: it exists in clear only in the text handed to the SMS backend;
- every check of a code first takes one of its ``MAX_ATTEMPTS`` tries with a conditional
  ``UPDATE … SET attempts = attempts + 1 WHERE attempts < MAX_ATTEMPTS AND <live>``, so
  concurrent guesses never get more checks than that; the try that uses the limit up and is
  wrong burns the code, and a used code never works again;
- requests are limited per number (``PER_NUMBER``) and per client address (``PER_IP``, generous:
  a carrier NAT or a company network puts hundreds of phones behind one address) in Redis, with
  an atomic sliding window (a Lua script), so every worker and machine shares the counts. While
  Redis is away the limits let requests through (logged): the provider's own per-number limits
  still hold, and log-in must not depend on the broker.

The text is urgent (never held by quiet hours) and goes out right after commit, straight to the
SMS backend rather than through ``Notification`` rows: a row would keep the code in clear, the
inbox would show it, and a code that arrives after the sweep's minute is useless anyway. Its key
``login-code:<id>`` is unique, so an idempotent backend never sends it twice.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth.backends import BaseBackend
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext
from redis.exceptions import RedisError

from config.client import client_ip
from config.errors import ServiceError
from volunteers import crypto
from volunteers.auth import user_with_volunteer
from volunteers.idcard import mask_mobile, validate_mobile
from volunteers.models import LoginCode, StaffContact, Volunteer

logger = logging.getLogger(__name__)

DEFAULTS = {
    "DIGITS": 6,
    "VALID_SECONDS": 5 * 60,
    "MAX_ATTEMPTS": 5,
    "PER_NUMBER": [(1, 60), (5, 60 * 60), (10, 24 * 60 * 60)],
    "PER_IP": [(300, 60), (3000, 60 * 60)],
    "SEND_IN_BACKGROUND": True,
}


def code_settings() -> dict:
    return {**DEFAULTS, **getattr(settings, "LOGIN_CODE", {})}


def resend_after() -> int:
    """Seconds before the same number may ask again (the shortest per-number window)."""
    return min(seconds for _count, seconds in code_settings()["PER_NUMBER"])


def normalise_mobile(value: str) -> str:
    """``+86 138-1234-5678`` → ``13812345678``; raises ``ServiceError("invalid")`` otherwise."""
    digits = re.sub(r"[\s()+-]", "", value or "")
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    try:
        validate_mobile(digits)
    except ValidationError as error:
        raise ServiceError("invalid", details={"mobile": list(error.messages)}) from None
    return digits


def _code_hash(mobile: str, code: str) -> str:
    return crypto.keyed_hash("login-code", f"{mobile}:{code}")


# --- Limits in Redis ---------------------------------------------------------------------

# KEYS[1]: the bucket (a sorted set of request times). ARGV: now, a unique member, the longest
# window, then count and seconds per limit. Returns 0 and records the request, or the seconds
# until the first limit that is full lets one more through (nothing recorded then).
_SLIDING_WINDOW = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[3]))
local wait = 0
for i = 4, #ARGV, 2 do
  local count = tonumber(ARGV[i])
  local window = tonumber(ARGV[i + 1])
  if redis.call('ZCOUNT', KEYS[1], now - window, '+inf') >= count then
    local nth = redis.call('ZREVRANGEBYSCORE', KEYS[1], '+inf', now - window, 'WITHSCORES', 'LIMIT', count - 1, 1)
    local release = tonumber(nth[2]) + window - now
    if release > wait then wait = release end
  end
end
if wait > 0 then return tostring(wait) end
redis.call('ZADD', KEYS[1], now, ARGV[2])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[3])) + 1)
return '0'
"""


def _take(bucket: str, limits: list[tuple[int, int]]) -> int:
    """Record one request in ``bucket`` if every limit allows it: 0, else the seconds to wait."""
    if not limits:
        return 0
    key = cache.make_key(bucket)
    client = cache._cache.get_client(key, write=True)  # Django's RedisCache: a redis.Redis
    args = [repr(time.time()), secrets.token_hex(8), max(seconds for _count, seconds in limits)]
    for count, seconds in limits:
        args += [count, seconds]
    wait = float(client.eval(_SLIDING_WINDOW, 1, key, *args))
    return max(1, int(wait + 0.999)) if wait > 0 else 0


def _check_limits(*, mobile: str, ip: str | None) -> None:
    config = code_settings()
    number_bucket = f"login-code:number:{crypto.keyed_hash('login-code-bucket', mobile)}"
    try:
        # The address first: a request it refuses must not spend the number's allowance.
        wait = _take(f"login-code:ip:{ip}", config["PER_IP"]) if ip else 0
        if not wait:
            wait = _take(number_bucket, config["PER_NUMBER"])
    except RedisError as exc:
        logger.warning("Log-in code limits not counted, Redis unreachable: %s", type(exc).__name__)
        return
    if wait:
        raise ServiceError("sms_code_throttled", details={"retry_after": wait})


# --- Issuing and sending -----------------------------------------------------------------


def user_for_mobile(mobile: str):
    """The active account a mobile number logs in to: a volunteer's, else a staff member's."""
    volunteer = (
        Volunteer.objects.select_related("user")
        .filter(mobile=mobile, user__is_active=True, anonymised_at__isnull=True)
        .first()
    )
    if volunteer is not None:
        return volunteer.user
    contact = StaffContact.objects.select_related("user").filter(mobile=mobile, user__is_active=True).first()
    return contact.user if contact is not None else None


def _new_code(digits: int) -> str:
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def login_code_request(*, mobile: str, ip: str | None) -> int:
    """Text a log-in code to ``mobile`` if it belongs to an active account; answer the seconds
    before the number may ask again either way. Refused with ``sms_code_throttled``."""
    mobile = normalise_mobile(mobile)
    _check_limits(mobile=mobile, ip=ip)
    user = user_for_mobile(mobile)
    if user is None:
        return resend_after()
    return _issue(mobile, kind="login_code", language=_message_language(user))


def mobile_code_request(*, mobile: str, ip: str | None) -> int:
    """Text a code to any valid mainland number, to prove that whoever types it back holds the
    number (answering a recruitment call, docs/recruitment.md). Same limits, same table and
    one live code per number as log-in codes: a code proves the number, whatever it was asked
    for. Refused with ``sms_code_throttled``; answers the seconds before the next request."""
    mobile = normalise_mobile(mobile)
    _check_limits(mobile=mobile, ip=ip)
    user = user_for_mobile(mobile)
    language = _message_language(user) if user is not None else settings.NOTIFICATIONS.get("LANGUAGE", "zh-hans")
    return _issue(mobile, kind="register_code", language=language)


def verification_code_request(*, mobile: str, ip: str | None, user) -> int:
    """Text a code to ``mobile``, a number ``user`` wants to move to (it is nobody's yet): the
    same limits, the one live code per number and the same checking (``mobile_code_check``) as
    log-in codes, in a text that says what the code is for. The seconds before the number may
    ask again."""
    mobile = normalise_mobile(mobile)
    _check_limits(mobile=mobile, ip=ip)
    return _issue(mobile, kind="mobile_code", language=_message_language(user))


def _issue(mobile: str, *, kind: str, language: str) -> int:
    config = code_settings()
    code = _new_code(config["DIGITS"])
    for _attempt in range(3):
        try:
            with transaction.atomic():
                now = timezone.now()
                # Replace the live code: the partial unique index admits one per number, so two
                # requests at once (Redis away) cannot both leave a live code.
                LoginCode.objects.filter(mobile=mobile, closed_at__isnull=True).update(closed_at=now)
                login_code = LoginCode.objects.create(
                    mobile=mobile,
                    code_hash=_code_hash(mobile, code),
                    created_at=now,
                    expires_at=now + timedelta(seconds=config["VALID_SECONDS"]),
                )
                transaction.on_commit(partial(_send_after_commit, login_code.pk, mobile, code, kind, language))
            break
        except IntegrityError:
            continue  # another request's code went in between: replace that one
    else:
        raise ServiceError("sms_code_throttled", details={"retry_after": resend_after()})
    logger.info("Code %s (%s) issued for %s.", login_code.pk, kind, mask_mobile(mobile))
    return resend_after()


def login_code_text(*, code: str, minutes: int, language: str, kind: str = "login_code") -> str:
    with translation.override(language):
        if kind == "mobile_code":
            return gettext(
                "Your code to make this your mobile number is %(code)s, valid for %(minutes)s minutes. "
                "If you did not ask for it, ignore this text."
            ) % {"code": code, "minutes": minutes}
        if kind == "register_code":
            return gettext(
                "Your verification code for volunteer registration is %(code)s, valid for %(minutes)s minutes. "
                "If you did not ask for it, ignore this text."
            ) % {"code": code, "minutes": minutes}
        return gettext(
            "Your log-in code is %(code)s, valid for %(minutes)s minutes. If you did not ask for it, ignore this text."
        ) % {"code": code, "minutes": minutes}


def _message_language(user) -> str:
    from volunteers.selectors import volunteer_message_language

    volunteer = Volunteer.objects.filter(user=user).first()
    if volunteer is not None:
        return volunteer_message_language(volunteer)
    return settings.NOTIFICATIONS.get("LANGUAGE", settings.LANGUAGE_CODE)


def _send_after_commit(code_id: int, mobile: str, code: str, kind: str, language: str) -> None:
    minutes = max(1, code_settings()["VALID_SECONDS"] // 60)
    from config.sms.backends import SmsMessage  # the SMS backends live with the notifications

    message = SmsMessage(
        key=f"login-code:{code_id}",
        to=mobile,
        text=login_code_text(code=code, minutes=minutes, language=language, kind=kind),
        kind=kind,
        params={"code": code, "minutes": minutes},
    )
    if code_settings()["SEND_IN_BACKGROUND"]:
        _executor().submit(_send, message, code_id)
    else:
        _send(message, code_id)


_executor_lock = threading.Lock()
_executor_instance: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    global _executor_instance
    with _executor_lock:
        if _executor_instance is None:
            _executor_instance = ThreadPoolExecutor(max_workers=2, thread_name_prefix="login-code")
        return _executor_instance


def _send(message, code_id: int) -> None:
    """Hand one code text to the SMS backend. Never raises, never logs the text."""
    from config.sms.backends import get_backend

    try:
        result = get_backend().send_messages([message])[0]
    except Exception as exc:  # a provider fault must not surface in the request
        logger.error("Log-in code %s not sent: %s", code_id, type(exc).__name__)
        return
    if result.ok:
        logger.info("Log-in code %s handed to the SMS backend.", code_id)
    else:
        logger.warning("Log-in code %s not sent: %s", code_id, result.error)


# --- Checking ----------------------------------------------------------------------------


def mobile_code_check(*, mobile: str, code: str) -> str:
    """Use up ``code`` if it is the live code texted to ``mobile``; the normalised number. A
    wrong, expired, used or burnt code: ``ServiceError("login_code_invalid")`` (one answer for
    all, so a guesser learns nothing)."""
    try:
        mobile = normalise_mobile(mobile)
    except ServiceError:
        raise ServiceError("login_code_invalid") from None
    code = (code or "").strip()
    config = code_settings()
    limit = config["MAX_ATTEMPTS"]
    now = timezone.now()
    live = LoginCode.objects.filter(mobile=mobile, closed_at__isnull=True, expires_at__gt=now, attempts__lt=limit)
    found = live.values_list("pk", "code_hash").first()
    if found is None:
        raise ServiceError("login_code_invalid")
    pk, code_hash = found
    # One try taken before the check: at most ``limit`` checks, however many arrive at once.
    if not live.filter(pk=pk).update(attempts=F("attempts") + 1):
        raise ServiceError("login_code_invalid")
    right = bool(code) and hmac.compare_digest(code_hash, _code_hash(mobile, code))
    if not right:
        burnt = LoginCode.objects.filter(pk=pk, closed_at__isnull=True, attempts__gte=limit).update(closed_at=now)
        if burnt:
            logger.info("Log-in code %s burnt after %s wrong tries.", pk, limit)
        raise ServiceError("login_code_invalid")
    if not LoginCode.objects.filter(pk=pk, closed_at__isnull=True).update(used_at=now, closed_at=now):
        raise ServiceError("login_code_invalid")  # used by a concurrent request a moment ago
    return mobile


def login_code_verify(*, mobile: str, code: str):
    """The active account ``code`` logs in to, or ``ServiceError("login_code_invalid")`` for a
    wrong, expired, used or burnt code (one answer for all, so a guesser learns nothing)."""
    mobile = mobile_code_check(mobile=mobile, code=code)
    user = user_for_mobile(mobile)
    if user is None:
        raise ServiceError("login_code_invalid")
    return user


class LoginCodeBackend(BaseBackend):
    """``authenticate(request, mobile=…, code=…)``; the lockout backend serves sessions."""

    def authenticate(self, request, mobile=None, code=None, **kwargs):
        if mobile is None or code is None:
            return None
        try:
            user = login_code_verify(mobile=mobile, code=code)
        except ServiceError:
            logger.info("Log-in by code refused from %s.", client_ip(request))
            return None
        return user

    def get_user(self, user_id):
        user = user_with_volunteer(user_id)
        return user if user is not None and user.is_active else None
