"""Reads about communities, shifts and assignments, already scoped and with their joins named."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from volunteers.models import Volunteer

from .eligibility import eligible_shifts_q
from .models import Assignment, Community, Shift


def community_list(*, district: str | None = None, street: str | None = None, q: str | None = None) -> QuerySet:
    communities = Community.objects.select_related("street__district").order_by("code")
    if district:
        communities = communities.filter(
            Q(street__district__code=district) | Q(street__district_id=district if district.isdigit() else None)
        )
    if street:
        communities = (
            communities.filter(street_id=street) if street.isdigit() else communities.filter(street__name=street)
        )
    if q:
        communities = communities.filter(Q(name__icontains=q) | Q(name_en__icontains=q) | Q(address__icontains=q))
    return communities


def waitlist_position_subquery():
    """1-based place in the queue: waitlisted assignments of the same shift with an earlier ticket."""
    ahead = (
        Assignment.objects.filter(
            shift_id=OuterRef("shift_id"),
            status=Assignment.Status.WAITLISTED,
            waitlist_order__lte=OuterRef("waitlist_order"),
        )
        .order_by()
        .values("shift_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(ahead[:1]), 0)


def assignments_with_position(queryset: QuerySet) -> QuerySet:
    return queryset.annotate(
        waitlist_position=Subquery(
            Assignment.objects.filter(pk=OuterRef("pk"), status=Assignment.Status.WAITLISTED)
            .annotate(position=waitlist_position_subquery())
            .values("position")[:1]
        )
    )


def shift_list(
    *,
    volunteer: Volunteer | None,
    community: int | None = None,
    post_type: str | None = None,
    starts_after: datetime | None = None,
    starts_before: datetime | None = None,
    has_space: bool | None = None,
    eligible: bool | None = None,
    include_past: bool = False,
) -> QuerySet:
    """Shifts in start order. Without a time filter, only shifts that have not ended yet."""
    shifts = Shift.objects.select_related("post__post_type", "community").order_by("starts_at", "id")
    if community:
        shifts = shifts.filter(community_id=community)
    if post_type:
        shifts = shifts.filter(
            Q(post__post_type__code=post_type) | Q(post__post_type_id=post_type if post_type.isdigit() else None)
        )
    if starts_after:
        shifts = shifts.filter(starts_at__gte=starts_after)
    if starts_before:
        shifts = shifts.filter(starts_at__lt=starts_before)
    if not (include_past or starts_after or starts_before):
        shifts = shifts.filter(ends_at__gt=timezone.now())
    if has_space is True:
        shifts = shifts.filter(status=Shift.Status.OPEN, confirmed_count__lt=F("capacity"))
    elif has_space is False:
        shifts = shifts.filter(confirmed_count__gte=F("capacity"))
    if eligible:
        shifts = shifts.filter(eligible_shifts_q(volunteer)) if volunteer else shifts.none()
    if volunteer is not None:
        mine = assignments_with_position(
            Assignment.objects.filter(volunteer=volunteer).exclude(status=Assignment.Status.CANCELLED)
        )
        shifts = shifts.prefetch_related(Prefetch("assignments", queryset=mine, to_attr="my_assignments"))
    return shifts


def volunteer_assignment_list(*, volunteer: Volunteer, status: str | None = None) -> QuerySet:
    assignments = assignments_with_position(
        Assignment.objects.filter(volunteer=volunteer).select_related("shift__post__post_type", "shift__community")
    ).order_by("-shift__starts_at", "-id")
    if status:
        assignments = assignments.filter(status=status)
    return assignments


def volunteer_calendar_shifts(*, volunteer: Volunteer) -> QuerySet:
    return (
        Assignment.objects.filter(volunteer=volunteer, status=Assignment.Status.CONFIRMED)
        .select_related("shift__post__post_type", "shift__community__street__district")
        .order_by("shift__starts_at")
    )
