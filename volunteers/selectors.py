"""Reads about people: roles, scopes and a volunteer's standing."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Exists, Value

from volunteers.models import Organization, Team, Volunteer

ROLE_VOLUNTEER = "volunteer"
ROLE_TEAM_LEADER = "team_leader"
ROLE_COORDINATOR = "coordinator"
ROLE_COMMITTEE = "committee_staff"
ROLE_SUPERUSER = "superuser"


def user_volunteer(user) -> Volunteer | None:
    if not user.is_authenticated:
        return None
    try:
        return user.volunteer
    except Volunteer.DoesNotExist:
        return None


def volunteer_message_language(volunteer: Volunteer | None) -> str:
    """The language a volunteer's messages are written in: their choice, else the programme's."""
    chosen = volunteer.message_language if volunteer is not None else ""
    return chosen or settings.NOTIFICATIONS["LANGUAGE"]


def user_roles(user) -> list[str]:
    """Every page's navigation asks this: one query for the three role tables, not one each."""
    roles = []
    volunteer = user_volunteer(user)
    leads = Exists(Team.objects.filter(leader=volunteer)) if volunteer is not None else Value(False)
    team_leader, coordinator, committee = (
        get_user_model()
        .objects.filter(pk=user.pk)
        .values_list(leads, Exists(user.coordinated_communities.all()), Exists(user.staff_roles.all()))
        .get()
    )
    if volunteer is not None:
        roles.append(ROLE_VOLUNTEER)
        if team_leader:
            roles.append(ROLE_TEAM_LEADER)
    if coordinator:
        roles.append(ROLE_COORDINATOR)
    if committee:
        roles.append(ROLE_COMMITTEE)
    if user.is_superuser:
        roles.append(ROLE_SUPERUSER)
    return roles


# Workspaces, most senior first: a person holding several roles lands on the first they hold.
WORKSPACE_ORDER = (ROLE_COMMITTEE, ROLE_COORDINATOR, ROLE_TEAM_LEADER, ROLE_VOLUNTEER)


def user_workspaces(roles) -> list[str]:
    """The workspaces of a person with ``roles`` (from ``user_roles``), most senior first. A
    superuser works in the committee's workspace."""
    held = set(roles)
    if ROLE_SUPERUSER in held:
        held.add(ROLE_COMMITTEE)
    return [role for role in WORKSPACE_ORDER if role in held]


def can_coordinate(user) -> bool:
    """Superusers, and users who coordinate at least one community."""
    return user.is_authenticated and (user.is_superuser or user.coordinated_communities.exists())


def is_committee_staff(user) -> bool:
    """Superusers, and league committee / organization staff."""
    return user.is_authenticated and (user.is_superuser or user.staff_roles.exists())


def organization_subtree(user):
    """Organizations a staff user may see: every subtree they are staff of (all for superusers)."""
    if user.is_superuser:
        return Organization.objects.all()
    paths = list(user.staff_roles.values_list("organization__path", flat=True))
    if not paths:
        return Organization.objects.none()
    from django.db.models import Q

    query = Q()
    for path in paths:
        query |= Q(path__startswith=path)
    return Organization.objects.filter(query)


def star_level(hours: float) -> int:
    return sum(1 for threshold in settings.RULES["STAR_THRESHOLDS_HOURS"] if hours >= threshold)
