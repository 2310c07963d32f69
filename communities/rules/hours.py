"""How much service time an attendance is worth (domain page: actual time at the post).

Credited time is the part of the checked-in interval inside the shift, so it never exceeds the
shift's length, and a shift across midnight counts like any other. It is then rounded per
started hour by ``settings.RULES["HOURS_ROUNDING"]``: a list of (remainder up to N minutes,
credit M minutes). The default is the common local rule: up to 15 min → 0, up to 45 → 30
minutes, above → a full hour.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings


def overlap_minutes(checked_in: datetime, checked_out: datetime, starts_at: datetime, ends_at: datetime) -> int:
    start = max(checked_in, starts_at)
    end = min(checked_out, ends_at)
    if end <= start:
        return 0
    return int((end - start).total_seconds() // 60)


def round_minutes(minutes: int, rule: list[tuple[int, int]] | None = None) -> int:
    rule = rule if rule is not None else settings.RULES["HOURS_ROUNDING"]
    if not rule:
        return minutes
    hours, remainder = divmod(minutes, 60)
    for up_to, credit in rule:
        if remainder <= up_to:
            return hours * 60 + credit
    return hours * 60 + 60


def credited_minutes(checked_in: datetime, checked_out: datetime, starts_at: datetime, ends_at: datetime) -> int:
    shift_minutes = int((ends_at - starts_at).total_seconds() // 60)
    return min(round_minutes(overlap_minutes(checked_in, checked_out, starts_at, ends_at)), shift_minutes)
