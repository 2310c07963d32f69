"""Reads about people that depend on their participation: credited time, and who may see a
volunteer's mobile number (docs/privacy.md: a community's coordinators see the numbers of the
volunteers on its shifts)."""

from __future__ import annotations

from datetime import datetime, time

from django.db.models import BooleanField, Case, Exists, OuterRef, Q, Sum, Value, When
from django.utils import timezone

from communities.models import Assignment
from volunteers.models import Volunteer


def volunteer_credited_minutes(volunteer: Volunteer) -> int:
    total = Assignment.objects.filter(volunteer=volunteer, hours_status=Assignment.HoursStatus.APPROVED).aggregate(
        total=Sum("credited_minutes")
    )["total"]
    return total or 0


# --- Who may see a volunteer's mobile number (docs/privacy.md) -----------------------------


def _start_of_today():
    return timezone.make_aware(datetime.combine(timezone.localdate(), time.min))


def volunteer_mobile_visible_q(user):
    """A filter on ``Volunteer`` for the volunteers whose mobile number ``user`` may see.

    The volunteer themself; superusers; staff of an organization whose subtree holds the
    volunteer's organization; the leader of the volunteer's team; and coordinators of a community
    where the volunteer has a live assignment (confirmed, waitlisted, completed or no-show) on a
    shift that ends today or later.
    """
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
