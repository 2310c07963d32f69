"""Reads about people: roles, scopes and a volunteer's standing."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Exists

from config.prepared import Compiled
from volunteers.models import Organization, OrganizationStaff, Team, Volunteer

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


def _roles_query(user_id, volunteer_id):
    user_model = get_user_model()
    coordinates = user_model._meta.get_field("coordinated_communities").through
    return user_model.objects.filter(pk=user_id).values_list(
        Exists(Team.objects.filter(leader_id=volunteer_id)),
        Exists(coordinates.objects.filter(user_id=user_id)),
        Exists(OrganizationStaff.objects.filter(user_id=user_id)),
    )


# Every page's navigation asks this: one query for the three role tables, compiled once per
# process (config/prepared.py).
_ROLES = Compiled(_roles_query, "user_id", "volunteer_id")


def user_roles(user) -> list[str]:
    roles = []
    volunteer = user_volunteer(user)
    # No volunteer record: no team to lead (``leader_id = NULL`` matches no row).
    found = _ROLES.row(user_id=user.pk, volunteer_id=volunteer.pk if volunteer is not None else None)
    team_leader, coordinator, committee = found if found is not None else (False, False, False)
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
