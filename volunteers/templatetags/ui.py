"""Small display helpers shared by the page templates: ``{% load ui %}``."""

from __future__ import annotations

from django import forms, template
from django.template import Context
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
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


@register.simple_tag
def field(bound) -> str:
    """``{% field form.name %}``: one labelled form field, its help and its errors; a checkbox puts
    the box before the label; a set of choices (checkboxes or radio buttons) is a fieldset whose
    legend names it, each choice labelled by its own box. Written here rather than as an included
    template: forms draw it for every field, on every visit."""
    widget = bound.field.widget
    errors = bound.errors
    if isinstance(widget, forms.RadioSelect):  # CheckboxSelectMultiple too
        choices = format_html_join(
            "", '<label class="choice">{} {}</label>', ((box.tag(), box.choice_label) for box in bound)
        ) or format_html('<span class="help">{}</span>', _("None"))
        help_text = (
            format_html('<span class="help" id="{}_helptext">{}</span>', bound.auto_id, bound.help_text)
            if bound.help_text
            else ""
        )
        return format_html(
            '<fieldset class="field choice-set{}">\n  <legend>{}</legend>\n  <div class="choice-options">{}</div>\n'
            "  {}\n  {}\n</fieldset>",
            " field-invalid" if errors else "",
            bound.label,
            choices,
            help_text,
            errors,
        )
    check = getattr(widget, "input_type", None) == "checkbox"
    classes = "field" + (" field-check" if check else "") + (" field-invalid" if errors else "")
    label = format_html('<label for="{}">{}</label>', bound.id_for_label, bound.label)
    control = format_html("{}{}", bound, label) if check else format_html("{}{}", label, bound)
    help_text = (
        format_html('<span class="help" id="{}_helptext">{}</span>', bound.auto_id, bound.help_text)
        if bound.help_text
        else ""
    )
    return format_html('<div class="{}">\n  {}\n  {}\n  {}\n</div>', classes, control, help_text, errors)


# What {% csrf_token %} reads while a keyed partial is drawn; each page puts its own token there.
_CSRF_MARK = "\x00csrf-token\x00"
_KEYED: dict[tuple, str] = {}
_KEYED_MAX = 5000


def _keyable(value):
    """A value as it enters the key: an object offering ``render_key`` (the caller's roles) by that."""
    return getattr(value, "render_key", value)


@register.simple_tag(takes_context=True)
def render_keyed(context, template_name: str, **values):
    """``{% render_keyed "partials/nav.html" roles=roles current=... %}``: the partial drawn with
    nothing but ``values`` (and the language), so the same values always give the same markup;
    each process draws it once per distinct values and keeps the text. The navigation, drawn on
    every page (twice: phones and wide screens), is the same for everyone holding the same roles
    on the same page. ``{% csrf_token %}`` in the partial gets this page's token."""
    token = context.get("csrf_token")
    token = str(token) if token else ""
    if not token or token == "NOTPROVIDED":  # noqa: S105 - Django's marker, not a secret
        partial = context.template.engine.get_template(template_name)
        return partial.render(Context({**values, "csrf_token": token}, autoescape=context.autoescape))
    key = (
        template_name,
        get_language(),
        context.autoescape,
        tuple(sorted((name, _keyable(value)) for name, value in values.items())),
    )
    html = _KEYED.get(key)
    if html is None:
        partial = context.template.engine.get_template(template_name)
        html = partial.render(Context({**values, "csrf_token": _CSRF_MARK}, autoescape=context.autoescape))
        if len(_KEYED) >= _KEYED_MAX:
            _KEYED.clear()
        _KEYED[key] = html
    return mark_safe(html.replace(_CSRF_MARK, token))  # noqa: S308 - the token is Django's own


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
