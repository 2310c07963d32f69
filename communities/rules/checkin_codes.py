"""Rotating check-in codes: six digits that change every minute, like TOTP (RFC 6238).

The code is an HMAC of the current time step keyed by the server secret and the shift's own
secret, so it cannot be computed away from the coordinator's screen, and a code seen earlier
stops working within two minutes (the current and the previous step are accepted, so a code
read just before it changes still works). Guessing is bounded by ``attendance``: a few wrong
codes per volunteer and step, then a lock on the assignment's code check-in.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time

from django.conf import settings

STEP_SECONDS = 60
DIGITS = 6


def step_of(at: float | None = None) -> int:
    """The code step ``at`` falls in (now by default)."""
    return int((time.time() if at is None else at) // STEP_SECONDS)


def seconds_left(at: float) -> int:
    """Whole seconds until the code after ``at`` changes, rounded up (never 0)."""
    return math.ceil(STEP_SECONDS - (at % STEP_SECONDS))


def code_for_step(secret: str, step: int) -> str:
    key = f"{settings.SECRET_KEY}:{secret}".encode()
    digest = hmac.new(key, step.to_bytes(8, "big"), hashlib.sha256).digest()
    offset = digest[-1] & 0x0F
    number = int.from_bytes(digest[offset : offset + 4], "big") & 0x7FFFFFFF
    return f"{number % 10**DIGITS:0{DIGITS}d}"


def current_code(secret: str, at: float | None = None) -> tuple[str, int]:
    """The code now and the whole seconds until it changes, rounded up: a page that reloads
    after that long shows the next code (rounded down, the last second of a step gave 0, and
    the code page reloaded at once, again and again, until the step ended)."""
    at = time.time() if at is None else at
    return code_for_step(secret, step_of(at)), seconds_left(at)


def code_is_valid(secret: str, code: str, at: float | None = None) -> bool:
    code = (code or "").strip()
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return False
    step = step_of(at)
    return any(hmac.compare_digest(code_for_step(secret, s), code) for s in (step, step - 1))
