"""Reads about communities, shifts and assignments, already scoped and with their joins named."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import (
    BooleanField,
    Case,
    Count,
    ExpressionWrapper,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Power, Sqrt
from django.utils import timezone

from communities.models import MAX_SHIFT_LENGTH, Assignment, Community, Notification, RecordCorrection, Shift, Street
from communities.rules.eligibility import candidates_q, eligible_shifts_q
from config.params import as_id
from config.prepared import Compiled
from volunteers.models import Volunteer

# A place whose holder is at the post: confirmed and checked in, not yet out.
AT_POST = Q(status=Assignment.Status.CONFIRMED, checked_in_at__isnull=False)


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


# --- Near me ---------------------------------------------------------------------------------

# How near a shift is to a volunteer's place, in the order the list shows them.
NEAR_COMMUNITY, NEAR_STREET, NEAR_DISTRICT, NEAR_ELSEWHERE = 0, 1, 2, 3
KM_PER_DEGREE = 111.195  # of latitude, on a sphere of the Earth's mean radius


@dataclass(frozen=True)
class Place:
    """Where a volunteer lives or works, as far as it is known: where "near me" starts."""

    community_id: int | None = None
    street_id: int | None = None
    district_id: int | None = None
    latitude: float | None = None
    longitude: float | None = None

    @property
    def located(self) -> bool:
        return self.latitude is not None and self.longitude is not None


def volunteer_place(volunteer: Volunteer | None) -> Place | None:
    """The residence the volunteer gave (community, street, district: any of them), else the
    community they are deployed to; None when neither is known. At most one query."""
    if volunteer is None:
        return None
    community_id = volunteer.residence_community_id
    street_id = volunteer.residence_street_id
    district_id = volunteer.residence_district_id
    if community_id is None and street_id is None and district_id is None:
        community_id = volunteer.deployed_community_id
        if community_id is None:
            return None
    latitude = longitude = None
    if community_id is not None:
        row = (
            Community.objects.filter(pk=community_id)
            .values_list("street_id", "street__district_id", "latitude", "longitude")
            .first()
        )
        if row is None:
            return None
        street_id = street_id or row[0]
        district_id = district_id or row[1]
        if row[2] is not None and row[3] is not None:
            latitude, longitude = float(row[2]), float(row[3])
    elif street_id is not None and district_id is None:
        district_id = Street.objects.filter(pk=street_id).values_list("district_id", flat=True).first()
    return Place(community_id, street_id, district_id, latitude, longitude)


def _nearness(place: Place) -> Case:
    """0 in the place's community, 1 on its street, 2 in its district, 3 elsewhere."""
    whens = []
    if place.community_id is not None:
        whens.append(When(community_id=place.community_id, then=Value(NEAR_COMMUNITY)))
    if place.street_id is not None:
        whens.append(When(community__street_id=place.street_id, then=Value(NEAR_STREET)))
    if place.district_id is not None:
        whens.append(When(community__street__district_id=place.district_id, then=Value(NEAR_DISTRICT)))
    return Case(*whens, default=Value(NEAR_ELSEWHERE), output_field=IntegerField())


def _distance_km(place: Place) -> ExpressionWrapper:
    """Distance from the place to the shift's community, flat-earth over a city (an error far
    under a percent at Suzhou's size); null where the community has no coordinates."""
    shrink = math.cos(math.radians(place.latitude))
    east = (Cast("community__longitude", FloatField()) - Value(place.longitude)) * Value(shrink)
    north = Cast("community__latitude", FloatField()) - Value(place.latitude)
    return ExpressionWrapper(Sqrt(Power(east, 2) + Power(north, 2)) * Value(KM_PER_DEGREE), output_field=FloatField())


def shift_list(
    *,
    volunteer: Volunteer | None,
    community: int | None = None,
    communities: list[int] | None = None,
    district: int | None = None,
    street: int | None = None,
    near: Place | None = None,
    post_type: str | None = None,
    starts_after: datetime | None = None,
    starts_before: datetime | None = None,
    has_space: bool | None = None,
    eligible: bool | None = None,
    include_past: bool = False,
) -> QuerySet:
    """Shifts in start order. Without a time filter, only shifts that have not ended yet.

    With ``near``: the place's own community first, then its street, its district and the rest
    (``nearness``), each by distance where both ends have coordinates (``distance_km``), then
    by start.
    """
    shifts = Shift.objects.select_related("post__post_type", "community").order_by("starts_at", "id")
    if community:
        shifts = shifts.filter(community_id=community)
    if communities is not None:
        shifts = shifts.filter(community_id__in=communities)
    if district:
        shifts = shifts.filter(community__street__district_id=district)
    if street:
        shifts = shifts.filter(community__street_id=street)
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
        # Exactly the shifts the sign-up would accept now (communities_refusal, docs/rules.md).
        if volunteer is None:
            return shifts.none()
        shifts = shifts.filter(eligible_shifts_q(volunteer, timezone.now(), among=shifts))
    if near is not None:
        shifts = shifts.annotate(nearness=_nearness(near))
        if near.located:
            shifts = shifts.annotate(distance_km=_distance_km(near)).order_by(
                "nearness", F("distance_km").asc(nulls_last=True), "starts_at", "id"
            )
        else:
            shifts = shifts.order_by("nearness", "starts_at", "id")
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


_PER_THREAD = threading.local()


def _mine_base() -> QuerySet:
    """Built once per thread (its subquery and annotations cost more to put together than the
    rows cost to read); each caller filters a copy. Never evaluated itself. Not once per process:
    copies share the subquery's query, and compiling it adjusts that query's alias counts for a
    moment, so two threads of a threaded server compiling at once could write each other's SQL
    (tests/communities/selectors/test_shifts_threads.py)."""
    base = getattr(_PER_THREAD, "mine_base", None)
    if base is None:
        base = _PER_THREAD.mine_base = assignments_with_position(
            Assignment.objects.select_related("shift__post__post_type", "shift__community")
        ).annotate(
            # Placed from the waitlist: a direct sign-up is confirmed before its row is created, a
            # promotion only later (see services.shift_sign_up and waitlist_promote).
            promoted=ExpressionWrapper(Q(confirmed_at__gt=F("created_at")), output_field=BooleanField())
        )
    return base


def _mine(volunteer: Volunteer) -> QuerySet:
    return _mine_base().filter(volunteer=volunteer)


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


def shift_attendance_count(shift: Shift) -> int:
    """Places on ``shift`` whose attendance is recorded (checked in, completed or a no-show): its
    times are fixed once there is one (``coordination.shift_update``), and the page says so."""
    return (
        Assignment.objects.filter(shift=shift)
        .filter(Q(checked_in_at__isnull=False) | Q(status__in=(Assignment.Status.COMPLETED, Assignment.Status.NO_SHOW)))
        .count()
    )


@dataclass(frozen=True)
class CancelEffect:
    checked_out: int  # at the post on a shift under way: checked out, the time served credited
    released: int  # the other confirmed places: released and told


def cancel_checks_out(shift: Shift, *, now: datetime) -> bool:
    """Whether cancelling ``shift`` at ``now`` checks out those at the post (it is under way)
    rather than releasing their places (``coordination.shift_cancel``)."""
    return now >= shift.starts_at


def shift_cancel_effect(shift: Shift, *, now: datetime) -> CancelEffect:
    """What cancelling ``shift`` now would do to its confirmed places (``coordination.shift_cancel``)."""
    counts = Assignment.objects.filter(shift=shift, status=Assignment.Status.CONFIRMED).aggregate(
        at_post=Count("pk", filter=AT_POST), total=Count("pk")
    )
    checked_out = counts["at_post"] if cancel_checks_out(shift, now=now) else 0
    return CancelEffect(checked_out=checked_out, released=counts["total"] - checked_out)


def _checkin_open_q(now: datetime) -> Q:
    """Confirmed places not yet checked in whose check-in window is open at ``now``."""
    return Q(
        status=Assignment.Status.CONFIRMED,
        checked_in_at__isnull=True,
        shift__starts_at__lte=now + settings.RULES["CHECKIN_OPENS_BEFORE"],
        shift__ends_at__gt=now,
    )


def volunteer_checkin_open(*, volunteer: Volunteer, now: datetime | None = None) -> QuerySet:
    """Confirmed places not yet checked in whose check-in window is open now."""
    now = now or timezone.now()
    return (
        _mine(volunteer).filter(_checkin_open_q(now)).select_related("code_attempts").order_by("shift__starts_at", "id")
    )


def volunteer_checkin_open_ids(*, volunteer: Volunteer, now: datetime | None = None) -> set[int]:
    """The ids of ``volunteer_checkin_open``'s places, without the rows: a list marks them."""
    now = now or timezone.now()
    return set(Assignment.objects.filter(_checkin_open_q(now), volunteer=volunteer).values_list("pk", flat=True))


def volunteer_record_places(*, volunteer: Volunteer, now: datetime | None = None) -> QuerySet:
    """The places on the volunteer's record, most recent first: attended (with their credited
    time), marked missed, and held on a shift that has started without a check-out yet; each with
    its reported errors newest first (``reports``). The hours page."""
    now = now or timezone.now()
    held = Q(status=Assignment.Status.CONFIRMED, shift__starts_at__lte=now)
    return (
        Assignment.objects.filter(
            Q(status__in=(Assignment.Status.COMPLETED, Assignment.Status.NO_SHOW)) | held, volunteer=volunteer
        )
        .select_related("shift__post__post_type", "shift__community")
        .prefetch_related(
            Prefetch("corrections", queryset=RecordCorrection.objects.order_by("-created_at", "-id"), to_attr="reports")
        )
        .order_by("-shift__starts_at", "-id")
    )


def corrections_open_for(user) -> QuerySet:
    """Reported errors waiting for an answer at the communities ``user`` coordinates, oldest first."""
    return (
        RecordCorrection.objects.filter(
            status=RecordCorrection.Status.PENDING, assignment__shift__community__in=communities_managed_by(user)
        )
        .select_related("assignment__volunteer", "assignment__shift__post__post_type", "assignment__shift__community")
        .order_by("created_at", "id")
    )


def notification_inbox(user) -> QuerySet:
    """The in-app messages addressed to ``user``, newest first."""
    return Notification.objects.filter(recipient=user, channel=Notification.Channel.INAPP).order_by(
        "-created_at", "-id"
    )


def broadcast_inbox_message(user, broadcast_id: int) -> Notification | None:
    """The reader's own inbox copy of a call-out (the page its SMS links to); None for anyone
    the call-out did not reach."""
    return (
        notification_inbox(user)
        .filter(key=f"b{broadcast_id}:broadcast:{Notification.Channel.INAPP}:u{user.pk}")
        .first()
    )


# Every page's navigation asks this: compiled once per process (config/prepared.py). Grouped by
# the recipient so that the compiled query is a plain SELECT (no row: none unread).
_UNREAD = Compiled(
    lambda user_id: (
        notification_inbox(user_id)
        .filter(read_at__isnull=True)
        .order_by()
        .values("recipient_id")
        .annotate(unread=Count("id"))
        .values_list("unread")
    ),
    "user_id",
)


def notification_unread_count(user) -> int:
    if not user.is_authenticated:
        return 0
    row = _UNREAD.row(user_id=user.pk)
    return row[0] if row else 0


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
    """Volunteers a coordinator may give ``shift`` now, best first, each with the figures behind
    its rank.

    Who: exactly those the assignment would accept (``communities_refusal``, the rules every
    path asks: window, no live place yet, eligibility, overlap, rest, daily limit; docs/rules.md),
    not anonymised. Ranking: deployed to this community, then matching skills, then fewest
    credited hours in the last 7 days.
    """
    from datetime import timedelta

    from django.db.models import Case, IntegerField, Sum, Value, When

    post_type = shift.post.post_type
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
    candidates = Volunteer.objects.filter(candidates_q(shift, timezone.now()), anonymised_at__isnull=True)
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
