"""The live operations board: what is happening at the posts now, read from counters only.

Every figure comes from a counter kept in the transaction of the change it counts: the shifts'
own ``confirmed_count`` (places taken), the check-in rollup ``ShiftAttendance``, the per-day
shift counts ``ShiftDayCount``, the hours rollup ``OrganizationDayTally``, and the small tables
of requests and failed texts (read through their indexes). The one read of assignments is the
short list of who is missing at the few shifts the rollup shows missing people at, through the
``(shift, status)`` index, at most ``MISSING_PEOPLE`` rows. ``bench/live_board.py`` measures it.
"""

from __future__ import annotations

import time
from datetime import datetime

from django.conf import settings
from django.db.models import Avg, F, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from communities.models import (
    MAX_SHIFT_LENGTH,
    Assignment,
    CommunityRequest,
    District,
    Notification,
    OrganizationDayTally,
    Shift,
    ShiftAttendance,
    ShiftDayCount,
)
from communities.selectors.people import volunteer_mobile_display, volunteers_mark_mobile_visibility
from communities.selectors.stats import day_bounds, hours
from volunteers.models import reader_name
from volunteers.selectors import organization_subtree

MISSING_SHIFTS = 20
MISSING_PEOPLE = 100
OPEN_REQUESTS = 10
LAYOUT_SECONDS = 600
WIDTH, HEIGHT, MARGIN = 600, 400, 65

_layout: dict = {"at": 0.0, "districts": []}


def _under_way(now: datetime):
    """Open shifts under way now with someone expected (the start bound lets the index serve it)."""
    return Shift.objects.filter(
        status=Shift.Status.OPEN,
        starts_at__lte=now,
        starts_at__gt=now - MAX_SHIFT_LENGTH,
        ends_at__gt=now,
        confirmed_count__gt=0,
    )


def district_layout() -> list[dict]:
    """Each district with a place on the board's map: the mean position of its communities, fitted
    into the drawing; districts without coordinates on a row below. Kept for ten minutes."""
    if time.monotonic() - _layout["at"] < LAYOUT_SECONDS and _layout["districts"]:
        return _layout["districts"]
    rows = list(
        District.objects.annotate(
            lat=Avg("streets__communities__latitude"), lng=Avg("streets__communities__longitude")
        ).order_by("code")
    )
    placed = [row for row in rows if row.lat is not None and row.lng is not None]
    districts = []
    if placed:
        lats, lngs = [float(row.lat) for row in placed], [float(row.lng) for row in placed]
        lat_span, lng_span = (max(lats) - min(lats)) or 1.0, (max(lngs) - min(lngs)) or 1.0
    unplaced = 0
    for row in rows:
        if row.lat is not None and row.lng is not None:
            x = MARGIN + (float(row.lng) - min(lngs)) / lng_span * (WIDTH - 2 * MARGIN)
            y = MARGIN + (max(lats) - float(row.lat)) / lat_span * (HEIGHT - 2 * MARGIN)
        else:
            x, y = MARGIN + unplaced * 130, HEIGHT - MARGIN
            unplaced += 1
        districts.append({"id": row.pk, "code": row.code, "name": row.display_name, "x": round(x), "y": round(y)})
    _layout.update(at=time.monotonic(), districts=districts)
    return districts


def live_board(*, user, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    today = timezone.localdate(now)
    under_way = _under_way(now)

    # Checked in vs expected per community (and so per district), for shifts under way.
    per_community = list(
        under_way.order_by()
        .values(
            "community_id",
            "community__code",
            "community__name",
            "community__name_en",
            "community__street__district_id",
        )
        .annotate(
            expected=Sum("confirmed_count"),
            checked_in=Sum(Coalesce("attendance__checked_in", Value(0))),
            checked_out=Sum(Coalesce("attendance__checked_out", Value(0))),
        )
    )
    layout = district_layout()
    by_district = {row["id"]: {**row, "expected": 0, "checked_in": 0, "on_duty": 0} for row in layout}
    communities = []
    for row in per_community:
        on_duty = max(row["checked_in"] - row["checked_out"], 0)
        communities.append(
            {
                "id": row["community_id"],
                "code": row["community__code"],
                "name": reader_name(row["community__name"], row["community__name_en"]),
                "district": row["community__street__district_id"],
                "expected": row["expected"],
                "checked_in": row["checked_in"],
                "on_duty": on_duty,
            }
        )
        district = by_district.get(row["community__street__district_id"])
        if district is not None:
            district["expected"] += row["expected"]
            district["checked_in"] += row["checked_in"]
            district["on_duty"] += on_duty
    communities.sort(key=lambda row: (row["checked_in"] / row["expected"], -row["expected"], row["code"]))

    # Missing check-ins past the nudge time, with whom to call.
    late = now - settings.NOTIFICATIONS["NUDGE_AFTER"]
    missing_shifts = list(
        under_way.filter(starts_at__lte=late)
        .annotate(missing=F("confirmed_count") - Coalesce("attendance__checked_in", Value(0)))
        .filter(missing__gt=0)
        .select_related("post", "community")
        .order_by("starts_at", "pk")[:MISSING_SHIFTS]
    )
    people = (
        Assignment.objects.filter(
            shift_id__in=[shift.pk for shift in missing_shifts],
            status__in=(Assignment.Status.CONFIRMED, Assignment.Status.NO_SHOW),
            checked_in_at__isnull=True,
        )
        .select_related("volunteer__team__leader")
        .order_by("shift_id", "pk")[:MISSING_PEOPLE]
    )
    people = [assignment for assignment in people if assignment.volunteer.team and assignment.volunteer.team.leader]
    # Each leader's number full or masked by the one rule, for all of them in one query.
    volunteers_mark_mobile_visibility([assignment.volunteer.team.leader for assignment in people], user=user)
    leaders: dict[int, dict] = {}
    for assignment in people:
        team = assignment.volunteer.team
        leaders.setdefault(assignment.shift_id, {})[team.leader.pk] = {
            "name": team.leader.real_name,
            "team": team.name,
            "mobile": volunteer_mobile_display(user, team.leader),
        }
    missing = [
        {
            "shift": shift.pk,
            "community": shift.community.display_name,
            "post": shift.post.name,
            "starts_at": shift.starts_at,
            "missing": shift.missing,
            "expected": shift.confirmed_count,
            "leaders": list(leaders.get(shift.pk, {}).values()),
        }
        for shift in missing_shifts
    ]

    # Today's totals.
    places = ShiftDayCount.objects.filter(date=today).aggregate(
        shifts=Sum("shifts"), places=Sum("places"), taken=Sum("taken")
    )
    attended = ShiftAttendance.objects.filter(date=today).aggregate(
        checked_in=Sum("checked_in"), checked_out=Sum("checked_out"), no_shows=Sum("no_shows")
    )
    days = OrganizationDayTally.objects.all()
    if not user.is_superuser:
        days = days.filter(organization__in=organization_subtree(user))
    minutes = days.aggregate(today=Sum("minutes", filter=Q(date=today)), total=Sum("minutes"))
    start, end = day_bounds(today)
    texts_failed = Notification.objects.filter(
        state__in=(Notification.State.FAILED, Notification.State.UNDELIVERED),
        send_after__gte=start,
        send_after__lt=end,
        channel=Notification.Channel.SMS,
    ).count()
    requests = CommunityRequest.objects.filter(status__in=CommunityRequest.OPEN_STATUSES)
    open_requests = list(requests.select_related("community__street__district")[:OPEN_REQUESTS])
    total_minutes = minutes["total"] or 0
    return {
        "at": now,
        "poll_seconds": settings.LIVE_BOARD_POLL_SECONDS,
        "totals": {
            "on_duty": sum(row["on_duty"] for row in communities),
            "expected_now": sum(row["expected"] for row in communities),
            "checked_in_now": sum(row["checked_in"] for row in communities),
            "shifts_today": places["shifts"] or 0,
            "places_today": places["places"] or 0,
            "taken_today": places["taken"] or 0,
            "checked_in_today": attended["checked_in"] or 0,
            "checked_out_today": attended["checked_out"] or 0,
            "no_shows_today": attended["no_shows"] or 0,
            "hours_today": hours(minutes["today"] or 0),
            "hours_total": hours(total_minutes),
            "hours_total_10k": round(total_minutes / 60 / 10_000, 2),
            "texts_failed_today": texts_failed,
            "open_requests": requests.count(),
        },
        "districts": list(by_district.values()),
        "communities": communities,
        "missing": missing,
        "requests": [
            {
                "id": request.pk,
                "community": request.community.display_name,
                "district": request.community.street.district.display_name,
                "wanted": request.wanted,
                "missing": request.missing,
                "urgency": request.urgency,
                "urgency_label": request.get_urgency_display(),
                "created_at": request.created_at,
            }
            for request in open_requests
        ],
    }
