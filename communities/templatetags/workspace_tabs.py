"""``{% tabs_for workspace current as tabs %}``: the tab bar's destinations; ``current|within:"profile"``:
whether the page is one a destination stands for (communities/views/tabs.py)."""

from __future__ import annotations

from django import template

from communities.views.tabs import tabs_for as _tabs_for
from communities.views.tabs import within as _within

register = template.Library()


@register.simple_tag
def tabs_for(workspace: str, current: str | None) -> list[dict]:
    return _tabs_for(workspace=workspace or None, current=current or None)


@register.filter
def within(current: str | None, url_name: str) -> bool:
    return _within(current, url_name)
