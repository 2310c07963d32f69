"""Reads about people: roles, scopes and a volunteer's standing."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Sum

from .models import Organization, Team, Volunteer

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


def user_roles(user) -> list[str]:
    roles = []
    volunteer = user_volunteer(user)
    if volunteer is not None:
        roles.append(ROLE_VOLUNTEER)
        if Team.objects.filter(leader=volunteer).exists():
            roles.append(ROLE_TEAM_LEADER)
    if user.coordinated_communities.exists():
        roles.append(ROLE_COORDINATOR)
    if user.staff_roles.exists():
        roles.append(ROLE_COMMITTEE)
    if user.is_superuser:
        roles.append(ROLE_SUPERUSER)
    return roles


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


def volunteer_credited_minutes(volunteer: Volunteer) -> int:
    from communities.models import Assignment

    total = Assignment.objects.filter(volunteer=volunteer, hours_status=Assignment.HoursStatus.APPROVED).aggregate(
        total=Sum("credited_minutes")
    )["total"]
    return total or 0
