"""What every page's layout needs: the caller's roles and workspace, for the navigation."""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from volunteers import selectors

# Where a person lands after log-in and at "/": their chosen workspace if they still hold its
# role, else the most senior one they hold.
WORKSPACE_SESSION_KEY = "workspace"


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
        self.workspaces = selectors.user_workspaces(names)

    @property
    def render_key(self) -> tuple:
        """Everything the navigation reads of the roles (``{% render_keyed %}``)."""
        return (
            self.volunteer,
            self.team_leader,
            self.coordinator,
            self.committee,
            self.superuser,
            self.staff,
            tuple(self.workspaces),
        )


def request_roles(request) -> Roles:
    """The caller's roles, read once per request however many places ask."""
    roles = getattr(request, "_roles", None)
    if roles is None:
        roles = request._roles = Roles(request.user)
    return roles


def request_workspace(request) -> str | None:
    """The workspace the caller is in: the one chosen in this session, else the most senior."""
    held = request_roles(request).workspaces
    if not held:
        return None
    chosen = request.session.get(WORKSPACE_SESSION_KEY) if hasattr(request, "session") else None
    return chosen if chosen in held else held[0]


def navigation(request) -> dict:
    # Lazy: pages that never draw the navigation pay no queries for it.
    return {
        "roles": SimpleLazyObject(lambda: request_roles(request)),
        "workspace": SimpleLazyObject(lambda: request_workspace(request) or ""),
    }
