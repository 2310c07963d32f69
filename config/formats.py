"""One way to write dates, times and numbers, in the active language: every page, text message,
export and PDF goes through these (templates through the filters in ``volunteers/templatetags/ui``).

Chinese: 2026年12月7日 (long), 12月7日 周一 (a day), 12月7日 周一 09:00 (a moment),
12月7日 周一 22:00–次日02:00 (a shift that ends the next day), 3,297 (numbers).
English: 7 December 2026, Mon 7 Dec, Mon 7 Dec 09:00, Mon 7 Dec 22:00–02:00 (next day), 3,297.
A day in another year than today's carries its year (2025年12月7日 周日 / Sun 7 Dec 2025).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import get_language

_WEEKDAYS_ZH = "一二三四五六日"
_WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _chinese() -> bool:
    return (get_language() or settings.LANGUAGE_CODE).lower().startswith("zh")


def _local(value: datetime) -> datetime:
    return timezone.localtime(value) if timezone.is_aware(value) else value


def _as_date(value) -> date:
    return _local(value).date() if isinstance(value, datetime) else value


def long_date(value) -> str:
    """2026年12月7日 / 7 December 2026 (certificates, formal text)."""
    if value in (None, ""):
        return ""
    day = _as_date(value)
    if _chinese():
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"


def long_date_range(start, end) -> str:
    """2026年11月30日至2026年12月7日 / 30 November 2026 to 7 December 2026."""
    if _chinese():
        return f"{long_date(start)}至{long_date(end)}"
    return f"{long_date(start)} to {long_date(end)}"


def day(value, *, today: date | None = None) -> str:
    """12月7日 周一 / Mon 7 Dec; with the year when it is not this year."""
    if value in (None, ""):
        return ""
    the_day = _as_date(value)
    this_year = (today or timezone.localdate()).year
    if _chinese():
        year = f"{the_day.year}年" if the_day.year != this_year else ""
        return f"{year}{the_day.month}月{the_day.day}日 周{_WEEKDAYS_ZH[the_day.weekday()]}"
    year = f" {the_day.year}" if the_day.year != this_year else ""
    return f"{_WEEKDAYS_EN[the_day.weekday()]} {the_day.day} {_MONTHS_EN[the_day.month - 1][:3]}{year}"


def clock(value) -> str:
    """09:00 (24-hour, both languages)."""
    if value in (None, ""):
        return ""
    return f"{_local(value):%H:%M}" if isinstance(value, datetime) else f"{value:%H:%M}"


def moment(value, *, today: date | None = None) -> str:
    """12月7日 周一 09:00 / Mon 7 Dec 09:00."""
    if value in (None, ""):
        return ""
    return f"{day(value, today=today)} {clock(value)}"


def end_clock(start: datetime, end: datetime) -> str:
    """When something that began at ``start`` ends: 12:00 the same day; 次日02:00 / 02:00 (next day)
    the day after; a later day named in full."""
    start, end = _local(start), _local(end)
    days = (end.date() - start.date()).days
    if days <= 0:
        return clock(end)
    if days == 1:
        return f"次日{clock(end)}" if _chinese() else f"{clock(end)} (next day)"
    return moment(end)


def time_span(start: datetime, end: datetime) -> str:
    """22:00–02:00 within a day; 22:00–次日02:00 / 22:00–02:00 (next day) across midnight; a
    later end day named in full."""
    return f"{clock(start)}–{end_clock(start, end)}"


def daily_time_span(start: time, end: time) -> str:
    """Hours of the day without a date: 08:00–12:00, 22:00–次日02:00 / 22:00–02:00 (next day) when the
    end is not after the start."""
    base = date(2000, 1, 3)
    return time_span(datetime.combine(base, start), datetime.combine(base + timedelta(days=end <= start), end))


def span(start: datetime, end: datetime, *, today: date | None = None) -> str:
    """12月7日 周一 22:00–次日02:00 / Mon 7 Dec 22:00–02:00 (next day): a shift's time."""
    return f"{day(start, today=today)} {time_span(start, end)}"


def number(value, decimals: int | None = None) -> str:
    """3,297 / 1,234.5: thousands grouped with a comma in both languages, as Chinese reports do."""
    if value in (None, ""):
        return ""
    if decimals is None:
        decimals = 0 if float(value).is_integer() else 1
    return f"{float(value):,.{decimals}f}"


def in_days(value: date, *, today: date | None = None) -> int:
    """Whole days from today to ``value`` (negative when past)."""
    return (_as_date(value) - (today or timezone.localdate())).days


__all__ = [
    "clock",
    "day",
    "end_clock",
    "in_days",
    "long_date",
    "long_date_range",
    "moment",
    "number",
    "span",
    "time_span",
]
