"""``{% tabs_for workspace current as tabs %}``: the tab bar's destinations (communities/views/tabs.py)."""

from __future__ import annotations

from django import template

from communities.views.tabs import tabs_for as _tabs_for

register = template.Library()


@register.simple_tag
def tabs_for(workspace: str, current: str | None) -> list[dict]:
    return _tabs_for(workspace=workspace or None, current=current or None)
