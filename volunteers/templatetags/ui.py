"""Small display helpers shared by the page templates: ``{% load ui %}``."""

from __future__ import annotations

from django import template
from django.utils import formats, timezone
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def hours(minutes) -> str:
    """Minutes as hours with one decimal, in the active language's number format: 90 → "1.5", 240 → "4"."""
    if minutes in (None, ""):
        return ""
    value = round(int(minutes) / 60, 1)
    return formats.number_format(value, decimal_pos=0 if value.is_integer() else 1)


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


@register.simple_tag
def stars(level: int, out_of: int = 5) -> list[bool]:
    """``[True, True, False, False, False]`` for two stars of five."""
    return [index < level for index in range(out_of)]
