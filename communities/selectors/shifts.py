"""Reads about communities, shifts and assignments, already scoped and with their joins named."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db.models import BooleanField, Count, ExpressionWrapper, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from communities.models import MAX_SHIFT_LENGTH, Assignment, Community, Notification, Shift
from communities.rules.eligibility import eligible_shifts_q, eligible_volunteers_q
from config.params import as_id
from volunteers.models import Volunteer


def community_list(*, district: str | None = None, street: str | None = None, q: str | None = None) -> QuerySet:
    communities = Community.objects.select_related("street__district").order_by("code")
    if district:
        communities = communities.filter(Q(street__district__code=district) | Q(street__district_id=as_id(district)))
    if street:
        communities = (
            communities.filter(street_id=as_id(street))
            if as_id(street) is not None
            else communities.filter(street__name=street)
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
    communities: list[int] | None = None,
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
    if communities is not None:
        shifts = shifts.filter(community_id__in=communities)
    if post_type:
        shifts = shifts.filter(Q(post__post_type__code=post_type) | Q(post__post_type_id=as_id(post_type)))
    if starts_after:
        shifts = shifts.filter(starts_at__gte=starts_after)
    if starts_before:
        shifts = shifts.filter(starts_at__lt=starts_before)
    if not (include_past or starts_after or starts_before):
        # Not ended yet; no shift is longer than a day (a database constraint), so the scan in
        # start order begins a day back, not at the first shift ever held.
        now = timezone.now()
        shifts = shifts.filter(ends_at__gt=now, starts_at__gt=now - MAX_SHIFT_LENGTH)
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


# --- The volunteer's own pages --------------------------------------------------------------


def _mine(volunteer: Volunteer) -> QuerySet:
    return assignments_with_position(
        Assignment.objects.filter(volunteer=volunteer).select_related("shift__post__post_type", "shift__community")
    ).annotate(
        # Placed from the waitlist: a direct sign-up is confirmed before its row is created, a
        # promotion only later (see services.shift_sign_up and waitlist_promote).
        promoted=ExpressionWrapper(Q(confirmed_at__gt=F("created_at")), output_field=BooleanField())
    )


def shift_detail(*, shift_id: int, volunteer: Volunteer | None) -> Shift:
    """One shift, past ones included, with its requirements and the caller's own assignment."""
    return (
        shift_list(volunteer=volunteer, include_past=True)
        .prefetch_related("post__post_type__required_skills", "post__post_type__required_qualifications")
        .get(pk=shift_id)
    )


def volunteer_upcoming_assignments(*, volunteer: Volunteer, now: datetime | None = None) -> QuerySet:
    """Confirmed and waitlisted places on shifts that have not ended, soonest first."""
    now = now or timezone.now()
    return (
        _mine(volunteer)
        .filter(status__in=(Assignment.Status.CONFIRMED, Assignment.Status.WAITLISTED), shift__ends_at__gt=now)
        .order_by("shift__starts_at", "id")
    )


def volunteer_past_assignments(*, volunteer: Volunteer, now: datetime | None = None) -> QuerySet:
    """Everything else: ended shifts and cancelled places, most recent first."""
    now = now or timezone.now()
    return (
        _mine(volunteer)
        .filter(Q(shift__ends_at__lte=now) | ~Q(status__in=(Assignment.Status.CONFIRMED, Assignment.Status.WAITLISTED)))
        .order_by("-shift__starts_at", "-id")
    )


def volunteer_assignments_between(*, volunteer: Volunteer, start: datetime, end: datetime) -> QuerySet:
    """Live places on shifts that overlap [start, end): the week calendar."""
    return (
        _mine(volunteer)
        .exclude(status=Assignment.Status.CANCELLED)
        .filter(shift__starts_at__lt=end, shift__ends_at__gt=start)
        .order_by("shift__starts_at", "id")
    )


def volunteer_checkin_open(*, volunteer: Volunteer, now: datetime | None = None) -> QuerySet:
    """Confirmed places not yet checked in whose check-in window is open now."""
    now = now or timezone.now()
    return (
        _mine(volunteer)
        .filter(
            status=Assignment.Status.CONFIRMED,
            checked_in_at__isnull=True,
            shift__starts_at__lte=now + settings.RULES["CHECKIN_OPENS_BEFORE"],
            shift__ends_at__gt=now,
        )
        .select_related("code_attempts")
        .order_by("shift__starts_at", "id")
    )


def volunteer_completed_assignments(*, volunteer: Volunteer) -> QuerySet:
    """Attended shifts with their credited time, most recent first: the hours page."""
    return (
        Assignment.objects.filter(volunteer=volunteer, status=Assignment.Status.COMPLETED)
        .select_related("shift__post__post_type", "shift__community")
        .order_by("-shift__starts_at", "-id")
    )


def notification_inbox(user) -> QuerySet:
    """The in-app messages addressed to ``user``, newest first."""
    return Notification.objects.filter(recipient=user, channel=Notification.Channel.INAPP).order_by(
        "-created_at", "-id"
    )


def notification_unread_count(user) -> int:
    if not user.is_authenticated:
        return 0
    return notification_inbox(user).filter(read_at__isnull=True).count()


# --- Coordinators ----------------------------------------------------------------------------


def communities_managed_by(user) -> QuerySet:
    """Communities whose shifts and attendance ``user`` may manage."""
    if not user.is_authenticated:
        return Community.objects.none()
    if user.is_superuser:
        return Community.objects.all()
    return Community.objects.filter(coordinators=user)


def shifts_managed_by(user) -> QuerySet:
    return Shift.objects.filter(community__in=communities_managed_by(user))


def assignments_managed_by(user) -> QuerySet:
    return Assignment.objects.filter(shift__community__in=communities_managed_by(user))


def shift_candidates(*, shift: Shift) -> QuerySet:
    """Volunteers who may take ``shift`` now, best first, each with the figures behind its rank.

    Eligibility, schedule and limits are filters in SQL (the rest window around the shift covers
    overlaps too); ranking is: deployed to this community, then matching skills, then fewest
    credited hours in the last 7 days. Daily-limit is checked conservatively: any confirmed or
    completed minutes on a shift touching the same days count in full (the sign-up counts only
    the part inside each day, so a shift across midnight can leave out someone it would take).
    """
    from datetime import timedelta

    from django.conf import settings
    from django.db.models import Case, DurationField, ExpressionWrapper, IntegerField, Max, Sum, Value, When

    post_type = shift.post.post_type
    rest = timedelta(hours=settings.RULES["MIN_REST_HOURS"])
    # The volunteers to leave out are an uncorrelated set, computed once from the shifts in a time
    # window (an index range on the shift's start), so the planner hashes it instead of probing
    # per volunteer. No shift lasts more than a day (a database constraint), so a lower bound on
    # the start keeps the window a narrow range of the start-time index.
    longest = MAX_SHIFT_LENGTH
    day_start = timezone.localtime(shift.starts_at).replace(hour=0, minute=0, second=0, microsecond=0)
    day_end = timezone.localtime(shift.ends_at).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    limit = timedelta(hours=settings.RULES["MAX_HOURS_PER_DAY"]) - (shift.ends_at - shift.starts_at)
    # One pass over the confirmed and completed assignments in that window, grouped by volunteer:
    # out if busy (a shift inside the rest window around this one, which covers overlaps too) or
    # over the daily limit (shifts touching the same days, counted in full).
    lo, hi = min(shift.starts_at - rest, day_start), max(shift.ends_at + rest, day_end)
    in_rest_window = Q(shift__starts_at__lt=shift.ends_at + rest, shift__ends_at__gt=shift.starts_at - rest)
    on_same_days = Q(shift__starts_at__lt=day_end, shift__ends_at__gt=day_start)
    unavailable = (
        Assignment.objects.filter(
            status__in=(Assignment.Status.CONFIRMED, Assignment.Status.COMPLETED),
            shift__starts_at__lt=hi,
            shift__starts_at__gt=lo - longest,
            shift__ends_at__gt=lo,
        )
        .order_by()
        .values("volunteer_id")
        .annotate(
            busy=Max(Case(When(in_rest_window, then=Value(1)), default=Value(0), output_field=IntegerField())),
            day_total=Sum(
                ExpressionWrapper(F("shift__ends_at") - F("shift__starts_at"), output_field=DurationField()),
                filter=on_same_days,
            ),
        )
        .filter(Q(busy=1) | Q(day_total__gt=limit))
        .values("volunteer_id")
    )
    taken = (
        Assignment.objects.filter(shift_id=shift.pk).exclude(status=Assignment.Status.CANCELLED).values("volunteer_id")
    )
    week_ago = timezone.now() - timedelta(days=7)
    recent_minutes = (
        Assignment.objects.filter(
            volunteer_id=OuterRef("pk"),
            hours_status=Assignment.HoursStatus.APPROVED,
            shift__starts_at__gte=week_ago,
        )
        .order_by()
        .values("volunteer_id")
        .annotate(total=Sum("credited_minutes"))
        .values("total")
    )
    required_skill_ids = list(post_type.required_skills.values_list("pk", flat=True))
    matching = (
        Volunteer.skills.through.objects.filter(volunteer_id=OuterRef("pk"), skill_id__in=required_skill_ids)
        .order_by()
        .values("volunteer_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    if limit.total_seconds() < 0:
        return Volunteer.objects.none()
    candidates = (
        Volunteer.objects.filter(eligible_volunteers_q(shift, post_type), anonymised_at__isnull=True)
        .exclude(pk__in=unavailable)
        .exclude(pk__in=taken)
    )
    return (
        candidates.annotate(
            deployed_here=Case(
                When(deployed_community_id=shift.community_id, then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            ),
            matching_skills=Coalesce(Subquery(matching[:1], output_field=IntegerField()), 0),
            recent_minutes=Coalesce(Subquery(recent_minutes[:1], output_field=IntegerField()), 0),
        )
        .select_related("organization", "team", "deployed_community")
        .order_by("-deployed_here", "-matching_skills", "recent_minutes", "volunteer_number")
    )


def community_roster(*, community: Community, day) -> list[Shift]:
    """The day's shifts at ``community`` with every live assignment, in three queries."""
    from datetime import datetime, time, timedelta

    start = timezone.make_aware(datetime.combine(day, time.min))
    end = start + timedelta(days=1)
    live = (
        Assignment.objects.exclude(status=Assignment.Status.CANCELLED)
        .select_related("volunteer__team", "code_attempts")
        .order_by("status", "waitlist_order", "volunteer__volunteer_number")
    )
    return list(
        Shift.objects.filter(community=community, starts_at__lt=end, ends_at__gt=start)
        .select_related("post__post_type")
        .prefetch_related(Prefetch("assignments", queryset=live, to_attr="live_assignments"))
        .order_by("post__name", "starts_at")
    )


def day_bounds(day):
    """Local midnight to midnight, as aware datetimes."""
    from datetime import datetime, time, timedelta

    start = timezone.make_aware(datetime.combine(day, time.min))
    return start, start + timedelta(days=1)
