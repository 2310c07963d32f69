"""The pieces every shift row repeats, written in Python: ``{% load shift_rows %}``.

A list page draws these on each of its 20-40 rows; as templates (an include per row, each with a
dozen conditions and lookups) they cost more CPU than the rows' data (docs/performance.md, "pages
next to their API twins"). The markup and the words are the ones the templates drew, with the
same message ids.
"""

from __future__ import annotations

from django import template
from django.urls import reverse
from django.utils.formats import localize
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from config import formats as house

register = template.Library()

_CANCELLED, _CONFIRMED, _WAITLISTED = "cancelled", "confirmed", "waitlisted"


def _csrf_input(context) -> SafeString:
    """What ``{% csrf_token %}`` draws."""
    token = context.get("csrf_token")
    if not token or token == "NOTPROVIDED":  # noqa: S105 - the marker Django puts there, not a secret
        return mark_safe("")
    return format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', token)


def my_status(mine) -> SafeString:
    """The volunteer's own place: status, waitlist position, check-in state."""
    parts = [format_html('<span class="badge badge-{}">{}</span>', mine.status, mine.get_status_display())]
    position = getattr(mine, "waitlist_position", None)
    if mine.status == _WAITLISTED and position:
        parts.append(
            format_html(
                '<span class="badge badge-waitlisted">{}</span>',
                _("No. %(position)s in line") % {"position": localize(position)},
            )
        )
    if mine.checked_in_at and not mine.checked_out_at:
        parts.append(
            format_html(
                '<span class="badge badge-info">{}</span>',
                _("Checked in at %(time)s") % {"time": house.clock(mine.checked_in_at)},
            )
        )
    return mark_safe("\n".join(parts))  # noqa: S308 - each part is format_html's


@register.simple_tag(name="my_status")
def my_status_tag(mine) -> SafeString:
    return my_status(mine)


@register.simple_tag
def places(shift) -> SafeString:
    """Places taken, full, the waitlist, or cancelled."""
    if shift.status == _CANCELLED:
        return format_html('<span class="badge badge-cancelled">{}</span>', _("Shift cancelled"))
    if shift.has_space:
        return format_html(
            '<span class="badge badge-space">{}</span>',
            _("%(taken)s of %(capacity)s places taken")
            % {"taken": localize(shift.confirmed_count), "capacity": localize(shift.capacity)},
        )
    full = format_html('<span class="badge badge-full">{}</span>', _("Full"))
    if not shift.waitlist_count:
        return full
    return format_html(
        '{} <span class="badge">{}</span>',
        full,
        _("%(waiting)s on the waitlist") % {"waiting": localize(shift.waitlist_count)},
    )


@register.simple_tag(takes_context=True)
def shift_actions(context, shift, mine=None, next_url=None, volunteer=None) -> SafeString:
    """Sign up / join the waitlist / cancel for one shift. On lists ``shift.offer``
    (communities.selectors.offers) says what the sign-up would answer: a button only where it
    would take the volunteer. ``next_url`` and ``volunteer`` default to the page's ``next`` and
    ``volunteer``; ``now`` is the page's."""
    now = context.get("now")
    next_url = context.get("next", "") if next_url is None else next_url
    volunteer = context.get("volunteer") if volunteer is None else volunteer
    inner: SafeString | str = ""
    offer = getattr(shift, "offer", None)
    if mine:
        inner = my_status(mine)
        if (
            mine.status in (_CONFIRMED, _WAITLISTED)
            and now is not None
            and shift.starts_at > now
            and not mine.checked_in_at
        ):
            label = _("Leave the waitlist") if mine.status == _WAITLISTED else _("Cancel my place")
            inner = format_html(
                '{}\n<form method="post" action="{}">{}<input type="hidden" name="next" value="{}">'
                '<button type="submit" class="button button-quiet button-small">{}</button></form>',
                inner,
                reverse("assignment-cancel", args=[mine.pk]),
                _csrf_input(context),
                next_url,
                label,
            )
    elif shift.status == _CANCELLED:
        pass
    elif now is not None and shift.ends_at <= now:
        inner = format_html('<span class="badge">{}</span>', _("Ended"))
    elif offer is not None and offer.action == "unavailable":
        inner = format_html('<span class="badge badge-unavailable">{}</span>', _("Not open to you"))
    elif volunteer:
        if shift.has_space:
            button = format_html('<button type="submit" class="button button-small">{}</button>', _("Sign up"))
        else:
            button = format_html(
                '<button type="submit" class="button button-amber button-small">{}</button>', _("Join the waitlist")
            )
        inner = format_html(
            '<form method="post" action="{}">{}<input type="hidden" name="next" value="{}">{}</form>',
            reverse("shift-sign-up", args=[shift.pk]),
            _csrf_input(context),
            next_url,
            button,
        )
    return format_html('<div class="actions">{}</div>', inner)
