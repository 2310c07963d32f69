"""The live operations board: what is happening at the posts now, read from counters only.

Every figure comes from a counter kept in the transaction of the change it counts: the shifts'
own ``confirmed_count`` (places taken), the check-in rollup ``ShiftAttendance``, the per-day
shift counts ``ShiftDayCount``, the hours rollup ``OrganizationDayTally``, and the small tables
of requests and failed texts (read through their indexes). The one read of assignments is the
short list of who is missing at the few shifts the rollup shows missing people at, through the
``(shift, status)`` index, at most ``MISSING_PEOPLE`` rows.

The city's figures are the same on every board, so they are worked out once and shared through
the cache for ``LIVE_BOARD_CACHE_SECONDS`` (10): the cost of the board does not grow with the
number of boards open. What differs per person (the hours of their organizations, whether a team
leader's number is shown in full) is read per request. ``bench/live_board.py`` measures both.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Avg, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone, translation

from communities.models import (
    MAX_SHIFT_LENGTH,
    Assignment,
    Community,
    CommunityRequest,
    District,
    Notification,
    OrganizationDayTally,
    Shift,
    ShiftAttendance,
    ShiftDayCount,
)
from communities.selectors.people import volunteer_mobile_display, volunteers_with_mobile_visibility
from communities.selectors.stats import day_bounds, hours
from volunteers.models import Team, Volunteer, reader_name
from volunteers.selectors import organization_subtree

MISSING_SHIFTS = 20
MISSING_PEOPLE = 100
OPEN_REQUESTS = 10
COMMUNITY_ROWS = 30  # the communities with the lowest check-in rate
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


def _city(now: datetime) -> dict:
    """The figures every board shows alike, in one pass over the shifts under way.

    One row per shift under way (its community, district, start, places taken and check-in
    counts), summed here per community and district; the shifts with people missing more than
    ``NUDGE_AFTER`` into their time are named, with the team leaders of who is missing."""
    today = timezone.localdate(now)
    rows = list(
        _under_way(now)
        .order_by()
        .values_list(
            "pk",
            "community_id",
            "community__street__district_id",
            "starts_at",
            "confirmed_count",
            Coalesce("attendance__checked_in", Value(0)),
            Coalesce("attendance__checked_out", Value(0)),
        )
    )
    layout = district_layout()
    by_district = {row["id"]: {**row, "expected": 0, "checked_in": 0, "on_duty": 0} for row in layout}
    by_community: dict[int, dict] = {}
    late = now - settings.NOTIFICATIONS["NUDGE_AFTER"]
    missing_ids = []
    for shift_id, community_id, district_id, starts_at, expected, checked_in, checked_out in rows:
        on_duty = max(checked_in - checked_out, 0)
        figures = by_community.setdefault(
            community_id, {"id": community_id, "district": district_id, "expected": 0, "checked_in": 0, "on_duty": 0}
        )
        figures["expected"] += expected
        figures["checked_in"] += checked_in
        figures["on_duty"] += on_duty
        district = by_district.get(district_id)
        if district is not None:
            district["expected"] += expected
            district["checked_in"] += checked_in
            district["on_duty"] += on_duty
        if starts_at <= late and expected > checked_in:
            missing_ids.append((starts_at, shift_id, expected - checked_in))
    communities = sorted(
        by_community.values(), key=lambda row: (row["checked_in"] / row["expected"], -row["expected"], row["id"])
    )
    names = {
        row["pk"]: (row["code"], reader_name(row["name"], row["name_en"]))
        for row in Community.objects.filter(pk__in=[row["id"] for row in communities[:COMMUNITY_ROWS]]).values(
            "pk", "name", "name_en", "code"
        )
    }
    for row in communities[:COMMUNITY_ROWS]:
        row["code"], row["name"] = names.get(row["id"], ("", ""))
    missing_ids.sort()
    missing_ids = missing_ids[:MISSING_SHIFTS]
    shifts = Shift.objects.select_related("post", "community").in_bulk([shift_id for _s, shift_id, _m in missing_ids])
    people = Assignment.objects.filter(
        shift_id__in=list(shifts),
        status__in=(Assignment.Status.CONFIRMED, Assignment.Status.NO_SHOW),
        checked_in_at__isnull=True,
        volunteer__team__leader__isnull=False,
    ).order_by("shift_id", "pk")
    leaders: dict[int, list[int]] = {}
    for shift_id, leader_id in people.values_list("shift_id", "volunteer__team__leader_id")[:MISSING_PEOPLE]:
        if leader_id not in leaders.setdefault(shift_id, []):
            leaders[shift_id].append(leader_id)
    places = ShiftDayCount.objects.filter(date=today).aggregate(
        shifts=Sum("shifts"), places=Sum("places"), taken=Sum("taken")
    )
    attended = ShiftAttendance.objects.filter(date=today).aggregate(
        checked_in=Sum("checked_in"), checked_out=Sum("checked_out"), no_shows=Sum("no_shows")
    )
    start, end = day_bounds(today)
    texts_failed = Notification.objects.filter(
        state__in=(Notification.State.FAILED, Notification.State.UNDELIVERED),
        send_after__gte=start,
        send_after__lt=end,
        channel=Notification.Channel.SMS,
    ).count()
    requests = CommunityRequest.objects.filter(status__in=CommunityRequest.OPEN_STATUSES)
    open_requests = list(requests.select_related("community__street__district")[:OPEN_REQUESTS])
    return {
        "at": now,
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
            "texts_failed_today": texts_failed,
            "open_requests": requests.count(),
        },
        "districts": list(by_district.values()),
        "communities": communities[:COMMUNITY_ROWS],
        "missing": [
            {
                "shift": shift_id,
                "community": shifts[shift_id].community.display_name,
                "post": shifts[shift_id].post.name,
                "starts_at": starts_at,
                "missing": missing,
                "expected": shifts[shift_id].confirmed_count,
                "leader_ids": leaders.get(shift_id, []),
            }
            for starts_at, shift_id, missing in missing_ids
            if shift_id in shifts
        ],
        "requests": [
            {
                "id": request.pk,
                "community": request.community.display_name,
                "district": request.community.street.district.display_name,
                "wanted": request.wanted,
                "missing": request.missing,
                "urgency": request.urgency,
                "urgency_label": str(request.get_urgency_display()),
                "created_at": request.created_at,
            }
            for request in open_requests
        ],
    }


def _city_shared(now: datetime) -> dict:
    """``_city``, shared by every board for ``LIVE_BOARD_CACHE_SECONDS``: however many boards are
    open, the city's figures are worked out about once per that many seconds. One board works
    them out while the others show the previous ones; 0 turns the sharing off."""
    seconds = settings.LIVE_BOARD_CACHE_SECONDS
    if not seconds:
        return _city(now)
    key = f"live-board:{translation.get_language()}"
    kept = cache.get(key)
    if kept is not None and kept["at"] > now - timedelta(seconds=seconds):
        return kept
    if kept is not None and not cache.add(f"{key}:working", 1, timeout=30):
        return kept  # another board is working them out
    fresh = _city(now)
    cache.set(key, fresh, timeout=max(seconds * 30, 300))
    cache.delete(f"{key}:working")
    return fresh


def live_board(*, user, now: datetime | None = None) -> dict:
    """The board as ``user`` sees it: the shared city figures, with the hours of the caller's
    organizations and each team leader's number shown or masked by the one rule."""
    now = now or timezone.now()
    city = _city_shared(now)
    today = timezone.localdate(now)
    days = OrganizationDayTally.objects.all()
    if not user.is_superuser:
        days = days.filter(organization__in=organization_subtree(user))
    minutes = days.aggregate(today=Sum("minutes", filter=Q(date=today)), total=Sum("minutes"))
    total_minutes = minutes["total"] or 0
    leader_ids = {leader_id for shift in city["missing"] for leader_id in shift["leader_ids"]}
    leaders = (
        {
            leader.pk: leader
            for leader in volunteers_with_mobile_visibility(
                Volunteer.objects.filter(pk__in=leader_ids).select_related("team"), user=user
            )
        }
        if leader_ids
        else {}
    )
    teams = dict(Team.objects.filter(leader_id__in=leader_ids).values_list("leader_id", "name")) if leader_ids else {}
    return {
        **city,
        "poll_seconds": settings.LIVE_BOARD_POLL_SECONDS,
        "totals": {
            **city["totals"],
            "hours_today": hours(minutes["today"] or 0),
            "hours_total": hours(total_minutes),
            "hours_total_10k": round(total_minutes / 60 / 10_000, 2),
        },
        "missing": [
            {
                **shift,
                "leaders": [
                    {
                        "name": leaders[leader_id].real_name,
                        "team": teams.get(leader_id, ""),
                        "mobile": volunteer_mobile_display(user, leaders[leader_id]),
                    }
                    for leader_id in shift["leader_ids"]
                    if leader_id in leaders
                ],
            }
            for shift in city["missing"]
        ],
    }
