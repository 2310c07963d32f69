"""The tab bar: each workspace's destinations on a phone, the current one marked.

Volunteers know a bottom tab bar from 志愿汇, i志愿 and WeChat mini-programs; here it holds the
three to five places a role goes back to all day (templates/partials/tabbar.html, drawn below
768 px). A workspace is the role a person works in now (``volunteers.context_processors``):
the most senior role they hold, or the one they switched to.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import pgettext_lazy

from volunteers import selectors as people


@dataclass(frozen=True)
class Tab:
    url_name: str
    label: str
    icon: str  # a name templates/partials/icon.html draws
    pages: frozenset[str]  # the URL names that are this tab or below it
    shows_unread: bool = False  # the count of unread messages beside it


# The pages a destination stands for, where a navigation link names it as the tab bar does: the
# link and the tab are current on any of them ({% if current|within:"profile" %}).
SECTIONS: dict[str, frozenset[str]] = {
    "profile": frozenset(
        {"profile", "profile-contact", "profile-mobile", "records-my-requests", "records-account-delete"}
    ),
    "shift-list": frozenset({"shift-list", "shift-detail"}),
    "my-hours": frozenset({"my-hours", "my-record-report"}),
    "my-shifts": frozenset({"my-shifts", "my-week"}),
    "coordinator-today": frozenset(
        {
            "coordinator-today",
            "coordinator-roster",
            "coordinator-code",
            "coordinator-rota",
            "coordinator-candidates",
            "coordinator-shift-edit",
        }
    ),
    "committee-dashboard": frozenset(
        {
            "committee-dashboard",
            "committee-organization",
            "committee-team",
            "committee-volunteer",
            "committee-certificate-issue",
        }
    ),
    "committee-dispatch": frozenset({"committee-dispatch", "committee-dispatch-detail", "committee-dispatch-recall"}),
    "records-volunteers": frozenset({"records-volunteers", "records-volunteer-edit"}),
    "records-change-requests": frozenset({"records-change-requests", "records-at-risk"}),
}


def within(current: str | None, url_name: str) -> bool:
    """Whether the page ``current`` is ``url_name``'s or one of the pages it stands for."""
    return current in SECTIONS.get(url_name, (url_name,))


def _tab(url_name, label, icon, *below, shows_unread=False) -> Tab:
    """A tab stands for its section's pages (``SECTIONS``) and, on a phone, for ``below`` too:
    pages the wide navigation links on their own."""
    return Tab(url_name, label, icon, SECTIONS.get(url_name, frozenset({url_name})) | set(below), shows_unread)


_SHIFTS = _tab("shift-list", pgettext_lazy("tab", "Shifts"), "near")
_CHECK_IN = _tab("check-in", pgettext_lazy("tab", "Check in"), "scan")
_MY_SHIFTS = _tab("my-shifts", pgettext_lazy("tab", "My shifts"), "calendar")
_ME = _tab(
    "profile",
    pgettext_lazy("tab", "Me"),
    "me",
    *SECTIONS["my-hours"],
    "inbox",
    "password_change",
    "password-set",
    "password_change_done",
    shows_unread=True,
)
_MESSAGES = _tab("inbox", pgettext_lazy("tab", "Messages"), "messages", shows_unread=True)

TABS: dict[str, tuple[Tab, ...]] = {
    people.ROLE_VOLUNTEER: (
        _tab("home", pgettext_lazy("tab", "Home"), "home"),
        _SHIFTS,
        _CHECK_IN,
        _MY_SHIFTS,
        _ME,
    ),
    people.ROLE_TEAM_LEADER: (
        _tab("team-overview", pgettext_lazy("tab", "My team"), "team"),
        _SHIFTS,
        _CHECK_IN,
        _MY_SHIFTS,
        _ME,
    ),
    people.ROLE_COORDINATOR: (
        _tab("coordinator-today", pgettext_lazy("tab", "Today"), "today"),
        _tab("coordinator-hours", pgettext_lazy("tab", "Hours"), "hours"),
        _tab("coordinator-requests", pgettext_lazy("tab", "Requests"), "requests"),
        _tab("coordinator-failed-messages", pgettext_lazy("tab", "Undelivered"), "undelivered"),
        _MESSAGES,
    ),
    people.ROLE_COMMITTEE: (
        _tab("committee-dashboard", pgettext_lazy("tab", "Dashboard"), "dashboard"),
        _tab("committee-dispatch", pgettext_lazy("tab", "Dispatch"), "dispatch"),
        _tab("committee-reports", pgettext_lazy("tab", "Reports"), "reports"),
        _MESSAGES,
    ),
}


def tabs_for(*, workspace: str | None, current: str | None) -> list[dict]:
    """The workspace's tabs as templates/partials/tabbar.html draws them (through
    ``{% tabs_for %}``; the unread count is the navigation's, read once per page)."""
    return [
        {
            "url": reverse(tab.url_name),
            "label": tab.label,
            "icon": tab.icon,
            "on": current in tab.pages,
            "shows_unread": tab.shows_unread,
        }
        for tab in TABS.get(workspace or "", ())
    ]
