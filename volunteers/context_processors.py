"""What every page's layout needs: the caller's roles, for the navigation."""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from volunteers import selectors


class Roles:
    """The caller's roles as attributes, so templates write ``{% if roles.coordinator %}``."""

    def __init__(self, user):
        names = set(selectors.user_roles(user)) if user.is_authenticated else set()
        self.volunteer = selectors.ROLE_VOLUNTEER in names
        self.team_leader = selectors.ROLE_TEAM_LEADER in names
        self.coordinator = selectors.ROLE_COORDINATOR in names
        self.committee = selectors.ROLE_COMMITTEE in names
        self.superuser = selectors.ROLE_SUPERUSER in names
        self.staff = bool(user.is_authenticated and user.is_staff)


def navigation(request) -> dict:
    # Lazy: pages that never draw the navigation pay no queries for it.
    return {"roles": SimpleLazyObject(lambda: Roles(request.user))}
