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


def volunteer_message_language(volunteer: Volunteer | None) -> str:
    """The language a volunteer's messages are written in: their choice, else the programme's."""
    chosen = volunteer.message_language if volunteer is not None else ""
    return chosen or settings.NOTIFICATIONS["LANGUAGE"]


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


def volunteer_credited_minutes(volunteer: Volunteer) -> int:
    from communities.models import Assignment

    total = Assignment.objects.filter(volunteer=volunteer, hours_status=Assignment.HoursStatus.APPROVED).aggregate(
        total=Sum("credited_minutes")
    )["total"]
    return total or 0


# --- Who may see a volunteer's mobile number (docs/privacy.md) -----------------------------


def _start_of_today():
    from datetime import datetime, time

    from django.utils import timezone

    return timezone.make_aware(datetime.combine(timezone.localdate(), time.min))


def volunteer_mobile_visible_q(user):
    """A filter on ``Volunteer`` for the volunteers whose mobile number ``user`` may see.

    The volunteer themself; superusers; staff of an organization whose subtree holds the
    volunteer's organization; the leader of the volunteer's team; and coordinators of a community
    where the volunteer has a live assignment (confirmed, waitlisted, completed or no-show) on a
    shift that ends today or later.
    """
    from django.db.models import Exists, OuterRef, Q

    from communities.models import Assignment

    if not user.is_authenticated or not user.is_active:
        return Q(pk__in=[])
    if user.is_superuser:
        return Q(pk__isnull=False)
    query = Q(user_id=user.pk) | Q(team__leader__user_id=user.pk)
    for path in user.staff_roles.values_list("organization__path", flat=True):
        query |= Q(organization__path__startswith=path)
    query |= Exists(
        Assignment.objects.filter(
            volunteer_id=OuterRef("pk"),
            status__in=Assignment.LIVE_STATUSES,
            shift__ends_at__gte=_start_of_today(),
            shift__community__coordinators=user,
        )
    )
    return query


def volunteer_mobile_visible_to(user, volunteer: Volunteer) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser or volunteer.user_id == user.pk:
        return True
    return Volunteer.objects.filter(volunteer_mobile_visible_q(user), pk=volunteer.pk).exists()


def volunteers_with_mobile_visibility(queryset, *, user):
    """``queryset`` annotated with ``mobile_visible`` for ``user``, for lists: one query, no N+1."""
    from django.db.models import BooleanField, Case, Value, When

    return queryset.annotate(
        mobile_visible=Case(
            When(volunteer_mobile_visible_q(user), then=Value(True)),
            default=Value(False),
            output_field=BooleanField(),
        )
    )


def volunteers_mark_mobile_visibility(volunteers, *, user) -> None:
    """Set ``mobile_visible`` on already loaded volunteers for ``user``, in one query: for lists
    whose volunteers come through a join (a roster's assignments)."""
    volunteers = list(volunteers)
    ids = {volunteer.pk for volunteer in volunteers}
    visible = (
        set(Volunteer.objects.filter(volunteer_mobile_visible_q(user), pk__in=ids).values_list("pk", flat=True))
        if ids
        else set()
    )
    for volunteer in volunteers:
        volunteer.mobile_visible = volunteer.pk in visible


def volunteer_mobile_display(user, volunteer: Volunteer) -> str:
    """The full number for those who may see it, the masked one for everyone else.

    With a queryset from ``volunteers_with_mobile_visibility`` the annotation is used, no query.
    """
    visible = getattr(volunteer, "mobile_visible", None)
    if visible is None:
        visible = volunteer_mobile_visible_to(user, volunteer)
    return volunteer.mobile if visible else volunteer.mobile_masked
