"""What every page's layout needs from participation: the number of unread messages."""

from __future__ import annotations

from functools import cache

from communities.selectors.shifts import notification_unread_count


def inbox(request) -> dict:
    # Templates call a callable variable on each use, hence the cache: one count per request,
    # and none on pages that never draw the navigation.
    @cache
    def inbox_unread() -> int:
        return notification_unread_count(request.user)

    return {"inbox_unread": inbox_unread}
