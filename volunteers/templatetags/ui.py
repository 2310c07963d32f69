"""Small display helpers shared by the page templates: ``{% load ui %}``."""

from __future__ import annotations

from django import template
from django.template import Context
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from config import formats as house

register = template.Library()


@register.filter
def hours(minutes) -> str:
    """Minutes as hours with one decimal, grouped as every number is: 90 → "1.5", 240 → "4", 90000 → "1,500"."""
    if minutes in (None, ""):
        return ""
    return house.number(round(int(minutes) / 60, 1))


@register.filter
def hours_minutes(minutes) -> tuple[int, int]:
    """Minutes as whole hours and the minutes left: 270 → (4, 30). The hours forms take these."""
    return divmod(int(minutes or 0), 60)


@register.filter
def duration(minutes) -> str:
    """Minutes in hours and minutes, in words of the active language: 270 → "4 小时 30 分钟"."""
    if minutes in (None, ""):
        return ""
    hours, rest = divmod(int(minutes), 60)
    if not rest:
        return _("%(hours)d h") % {"hours": hours}
    if not hours:
        return _("%(minutes)d min") % {"minutes": rest}
    return _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": rest}


@register.filter
def crosses_midnight(shift) -> bool:
    return timezone.localtime(shift.starts_at).date() != timezone.localtime(shift.ends_at).date()


@register.simple_tag(takes_context=True)
def render_once(context, template_name: str):
    """``{% render_once "partials/nav.html" %}``: a template drawn more than once on a page with the
    same context (the navigation, for phones and for wide screens) is rendered the first time only."""
    done = context.render_context.setdefault("render_once", {})
    if template_name not in done:
        done[template_name] = context.template.engine.get_template(template_name).render(context)
    return done[template_name]


_SHIFT_TIMES: dict[tuple, str] = {}
_SHIFT_TIMES_MAX = 5000


@register.simple_tag(takes_context=True)
def shift_time(context, shift):
    """``{% shift_time shift %}``: communities/_shift_time.html for ``shift``. Lists draw it on every
    row and thousands of shifts share their hours, so each process renders it once per start, end,
    language, time zone and current year (all it may depend on) and keeps the text."""
    # The year too: a day of another year than today's is written with its year (config/formats.py).
    key = (
        shift.starts_at,
        shift.ends_at,
        get_language(),
        timezone.get_current_timezone_name(),
        timezone.localdate().year,
        context.autoescape,
    )
    html = _SHIFT_TIMES.get(key)
    if html is None:
        partial = context.template.engine.get_template("communities/_shift_time.html")
        html = partial.render(Context({"shift": shift}, autoescape=context.autoescape))
        if len(_SHIFT_TIMES) >= _SHIFT_TIMES_MAX:
            _SHIFT_TIMES.clear()
        _SHIFT_TIMES[key] = html
    return html


@register.simple_tag
def stars(level: int, out_of: int = 5) -> list[bool]:
    """``[True, True, False, False, False]`` for two stars of five."""
    return [index < level for index in range(out_of)]


# --- One format for dates, times and numbers (config/formats.py) -------------------------------


@register.filter
def long_date(value) -> str:
    """2026年12月7日 / 7 December 2026."""
    return house.long_date(value)


@register.filter
def day(value) -> str:
    """12月7日 周一 / Mon 7 Dec."""
    return house.day(value)


@register.filter
def moment(value) -> str:
    """12月7日 周一 09:00 / Mon 7 Dec 09:00."""
    return house.moment(value)


@register.filter
def clock(value) -> str:
    """09:00."""
    return house.clock(value)


def _times(shift) -> tuple:
    """A shift's start and end, from a model or from a selector's row (a dict)."""
    if isinstance(shift, dict):
        return shift["starts_at"], shift["ends_at"]
    return shift.starts_at, shift.ends_at


@register.filter
def span(shift) -> str:
    """A shift's day and times: 12月7日 周一 22:00–次日02:00."""
    return house.span(*_times(shift))


@register.filter
def time_span(shift) -> str:
    """A shift's times without its day: 22:00–次日02:00."""
    return house.time_span(*_times(shift))


@register.filter
def ends(shift) -> str:
    """When a shift ends, said from its start: 12:00, or 次日02:00 / 02:00 (next day)."""
    return house.end_clock(*_times(shift))


@register.filter
def until(start, end) -> str:
    """Hours of the day: ``{{ time_from|until:time_to }}`` → 08:00–12:00, 22:00–次日02:00."""
    if start in (None, "") or end in (None, ""):
        return ""
    return house.daily_time_span(start, end)


@register.filter
def num(value, decimals=None) -> str:
    """3,297; ``|num:1`` always with one decimal (1,234.0)."""
    return house.number(value, None if decimals in (None, "") else int(decimals))
