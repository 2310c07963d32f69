"""Service-hour statistics for league committee staff: selectors returning plain dicts and lists.

Every figure comes from the kept totals or from small, indexed tables, never from a scan of the
assignments (docs/statistics.md):

- hours, completed shifts and no-shows from ``DailyTally`` (approved credited minutes per day ×
  community × post type × organization × team), or from its day × organization rollup
  ``OrganizationDayTally`` where no district asks for the community;
- per-volunteer totals and star levels from ``VolunteerTally``;
- head counts (registered, deployed, suspended, communities covered) from ``Volunteer``, or for
  the overview and the organization tree from ``VolunteerCount`` (volunteers per organization ×
  status × community, kept by the database);
- shifts and places from ``ShiftDayCount`` (per day × community, kept by the database) for
  today's overview and per community over any range; per duty from ``Shift``
  (``confirmed_count`` is the places taken).

The one bounded exception is "active today" (and a volunteer leaderboard over a date range),
which reads the assignments of a single day's (or range's) shifts.

A ``StatsQuery`` carries the caller's scope (organization subtrees by materialised path) and the
filters; every selector takes one, so the API, the exports, the dashboard and the daily report
compute the same numbers the same way.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from communities.models import (
    Assignment,
    Community,
    DailyTally,
    District,
    Notification,
    OrganizationDayTally,
    PostType,
    Shift,
    ShiftDayCount,
    VolunteerCount,
)
from config.errors import ServiceError
from config.params import as_id
from volunteers.models import (
    Organization,
    Team,
    Volunteer,
    VolunteerCategory,
    VolunteerTally,
    reader_name,
    reads_english,
)

Status = Assignment.Status
APPROVED = Assignment.HoursStatus.APPROVED
MAX_DAILY_POINTS = 1000
LEADERBOARD_DEFAULT = 20
LEADERBOARD_MAX = 100


@dataclass(frozen=True)
class StatsQuery:
    """Who is asking about what. ``paths`` None means the whole organization tree."""

    paths: tuple[str, ...] | None = None
    date_from: date | None = None
    date_to: date | None = None
    district_id: int | None = None
    organization_id: int | None = None

    @property
    def whole_tree(self) -> bool:
        return self.paths is None

    def with_dates(self, date_from: date | None, date_to: date | None) -> StatsQuery:
        return replace(self, date_from=date_from, date_to=date_to)


# --- Building a query: scope and filters -----------------------------------------------------


def _minimal_paths(paths) -> tuple[str, ...]:
    """Drop paths inside another path of the set: "/1/" covers "/1/7/"."""
    kept: list[str] = []
    for path in sorted(set(paths), key=len):
        if not any(path.startswith(other) for other in kept):
            kept.append(path)
    return tuple(sorted(kept))


def _covers_every_root(paths: tuple[str, ...]) -> bool:
    if not any(path.count("/") == 2 for path in paths):
        return False
    roots = set(Organization.objects.filter(parent__isnull=True).values_list("path", flat=True))
    return roots <= set(paths)


def stats_query(
    *,
    user,
    organization: int | None = None,
    district: str | int | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> StatsQuery:
    """The scope of ``user`` (staff: their subtrees; superusers: everything), narrowed by the filters.

    Raises ``permission_denied`` for anyone else, ``not_found`` for an organization outside the
    scope or an unknown district, and ``invalid`` for a date range that ends before it starts.
    """
    if not user.is_authenticated:
        raise ServiceError("not_authenticated")
    if date_from and date_to and date_to < date_from:
        raise ServiceError("invalid", {"date_to": [_("The end date is before the start date.")]})
    paths: tuple[str, ...] | None
    if user.is_superuser:
        paths = None
    else:
        paths = _minimal_paths(user.staff_roles.values_list("organization__path", flat=True))
        if not paths:
            raise ServiceError("permission_denied")
    organization_id = None
    if organization is not None:
        path = Organization.objects.filter(pk=organization).values_list("path", flat=True).first()
        if path is None or (paths is not None and not any(path.startswith(p) for p in paths)):
            raise ServiceError("not_found", {"organization": ["No such organization in your scope."]})
        paths, organization_id = (path,), organization
    if paths is not None and _covers_every_root(paths):
        paths = None
    district_id = None
    if district not in (None, ""):
        found = District.objects.filter(Q(code=str(district)) | Q(pk=as_id(str(district)))).values_list("pk", flat=True)
        district_id = next(iter(found), None)
        if district_id is None:
            raise ServiceError("not_found", {"district": ["No such district."]})
    return StatsQuery(
        paths=paths,
        date_from=date_from,
        date_to=date_to,
        district_id=district_id,
        organization_id=organization_id,
    )


def _path_q(paths: tuple[str, ...], prefix: str = "") -> Q:
    query = Q()
    for path in paths:
        query |= Q(**{f"{prefix}path__startswith": path})
    return query


def scope_organizations(q: StatsQuery):
    organizations = Organization.objects.all()
    return organizations if q.whole_tree else organizations.filter(_path_q(q.paths))


def _org_q(q: StatsQuery, field: str) -> Q:
    """``field`` (an organization foreign key) within the scope, as a sub-select on the small tree."""
    if q.whole_tree:
        return Q()
    return Q(**{f"{field}__in": scope_organizations(q).values("pk")})


def _district_q(q: StatsQuery, field: str) -> Q:
    if q.district_id is None:
        return Q()
    return Q(**{f"{field}__in": Community.objects.filter(street__district_id=q.district_id).values("pk")})


def _date_q(q: StatsQuery, field: str = "date") -> Q:
    query = Q()
    if q.date_from:
        query &= Q(**{f"{field}__gte": q.date_from})
    if q.date_to:
        query &= Q(**{f"{field}__lte": q.date_to})
    return query


def day_bounds(first: date, last: date | None = None) -> tuple[datetime, datetime]:
    """[start of ``first``, start of the day after ``last``) in local time."""
    start = timezone.make_aware(datetime.combine(first, time.min))
    end = timezone.make_aware(datetime.combine((last or first) + timedelta(days=1), time.min))
    return start, end


def _shift_range_q(q: StatsQuery) -> Q:
    query = Q()
    if q.date_from:
        query &= Q(starts_at__gte=day_bounds(q.date_from)[0])
    if q.date_to:
        query &= Q(starts_at__lt=day_bounds(q.date_to)[1])
    return query


def scope_volunteers(q: StatsQuery):
    """Volunteers of the scope; with a district, those deployed to a community in it."""
    return Volunteer.objects.filter(_org_q(q, "organization_id"), _district_q(q, "deployed_community_id"))


def scope_head_counts(q: StatsQuery):
    """``VolunteerCount`` rows of the scope: the same volunteers as ``scope_volunteers``, counted."""
    return VolunteerCount.objects.filter(
        _org_q(q, "organization_id"), _district_q(q, "community_key"), volunteers__gt=0
    )


def _covered_communities(q: StatsQuery):
    """The communities where a volunteer of the scope is deployed, as a sub-select."""
    return (
        VolunteerCount.objects.filter(_org_q(q, "organization_id"), volunteers__gt=0)
        .exclude(community_key=0)
        .values("community_key")
    )


def scope_tallies(q: StatsQuery, *, dated: bool = True):
    tallies = DailyTally.objects.filter(_org_q(q, "organization_id"), _district_q(q, "community_id"))
    return tallies.filter(_date_q(q)) if dated else tallies


def scope_day_tallies(q: StatsQuery, *, dated: bool = True):
    """Tallies by day and organization: the rollup, or the cells when a district narrows the
    scope (the rollup does not say where the time was served)."""
    if q.district_id is not None:
        return scope_tallies(q, dated=dated)
    tallies = OrganizationDayTally.objects.filter(_org_q(q, "organization_id"))
    return tallies.filter(_date_q(q)) if dated else tallies


def scope_shifts(q: StatsQuery):
    """Open shifts at the scope's communities: every community for the whole tree, else those
    where a volunteer of the scope is deployed (the communities the scope covers)."""
    shifts = Shift.objects.filter(status=Shift.Status.OPEN).filter(_district_q(q, "community_id"))
    if not q.whole_tree:
        shifts = shifts.filter(community_id__in=_covered_communities(q))
    return shifts


def scope_shift_counts(q: StatsQuery, *, day: date | None = None):
    """``ShiftDayCount`` rows at the scope's communities, of ``day`` or else of the query's date
    range (every day without one): ``scope_shifts`` in that range, counted per local day."""
    counts = ShiftDayCount.objects.filter(_district_q(q, "community_id"))
    if day is not None:
        counts = counts.filter(date=day)
    else:
        if q.date_from:
            counts = counts.filter(date__gte=q.date_from)
        if q.date_to:
            counts = counts.filter(date__lte=q.date_to)
    if not q.whole_tree:
        counts = counts.filter(community_id__in=_covered_communities(q))
    return counts


def hours(minutes: int) -> float:
    return round((minutes or 0) / 60, 1)


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 3) if whole else 0.0


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


# --- Overview ---------------------------------------------------------------------------------


def stats_overview(q: StatsQuery, *, today: date | None = None) -> dict:
    """The headline figures. Head counts are as of now; hours, completed shifts and no-shows
    cover the date range (all time without one); "this week" runs from Monday to ``today``."""
    today = today or timezone.localdate()
    monday = week_start(today)
    deployed = ~Q(community_key=0)
    people = scope_head_counts(q).aggregate(
        registered=Sum("volunteers"),
        deployed=Sum("volunteers", filter=deployed),
        suspended=Sum("volunteers", filter=Q(status=Volunteer.Status.SUSPENDED)),
        communities=Count("community_key", filter=deployed, distinct=True),
    )
    people = {name: value or 0 for name, value in people.items()}
    start, end = day_bounds(today)
    places = scope_shift_counts(q, day=today).aggregate(
        shifts=Sum("shifts"), filled=Sum("filled"), capacity=Sum("places"), taken=Sum("taken")
    )
    places = {name: value or 0 for name, value in places.items()}
    # Volunteers who checked in at a post today: on duty now or done for the day.
    active = (
        Assignment.objects.filter(checked_in_at__gte=start, checked_in_at__lt=end)
        .filter(_org_q(q, "volunteer__organization_id"), _district_q(q, "shift__community_id"))
        .aggregate(n=Count("volunteer_id", distinct=True))["n"]
    )
    # The range's figures and this week's in one pass over the day rows.
    this_week, in_range = Q(date__gte=monday, date__lte=today), _date_q(q)
    days = scope_day_tallies(q, dated=False)
    if in_range:
        days = days.filter(in_range | this_week)
    ranged = {"filter": in_range} if in_range else {}
    tallied = days.aggregate(
        m=Sum("minutes", **ranged),
        c=Sum("completed", **ranged),
        n=Sum("no_shows", **ranged),
        week_m=Sum("minutes", filter=this_week),
        week_n=Sum("no_shows", filter=this_week),
    )
    minutes = tallied["m"] or 0
    return {
        "today": today,
        "week_start": monday,
        "date_from": q.date_from,
        "date_to": q.date_to,
        "volunteers": people["registered"],
        "deployed": people["deployed"],
        "not_deployed": people["registered"] - people["deployed"],
        "suspended": people["suspended"],
        "active_today": active,
        "communities_covered": people["communities"],
        "shifts_today": places["shifts"],
        "shifts_today_filled": places["filled"],
        "shifts_today_unfilled": places["shifts"] - places["filled"],
        "places_today": places["capacity"],
        "places_today_taken": places["taken"],
        "fill_rate_today": _rate(places["taken"], places["capacity"]),
        "minutes": minutes,
        "hours": hours(minutes),
        "completed": tallied["c"] or 0,
        "no_shows": tallied["n"] or 0,
        "week_minutes": tallied["week_m"] or 0,
        "week_hours": hours(tallied["week_m"] or 0),
        "week_no_shows": tallied["week_n"] or 0,
    }


# --- Organizations ----------------------------------------------------------------------------


def _figures(volunteers=0, deployed=0, minutes=0, completed=0, no_shows=0) -> dict:
    return {
        "volunteers": volunteers,
        "deployed": deployed,
        "minutes": minutes,
        "completed": completed,
        "no_shows": no_shows,
    }


def _finish(figures: dict) -> dict:
    figures["hours"] = hours(figures["minutes"])
    figures["average_hours"] = (
        round(figures["minutes"] / 60 / figures["volunteers"], 2) if figures["volunteers"] else 0.0
    )
    return figures


def stats_organizations(q: StatsQuery) -> list[dict]:
    """The scope's organization tree in path order, each row with its subtree's totals.

    ``parent`` is None at the top of the scope; ``level`` counts from there (0, 1, 2 …).
    """
    organizations = list(
        scope_organizations(q).order_by("path").values("id", "parent_id", "path", "code", "name", "name_en", "kind")
    )
    own: dict[int, dict] = defaultdict(_figures)
    for row in (
        scope_head_counts(q)
        .order_by()
        .values("organization_id")
        .annotate(n=Sum("volunteers"), deployed=Sum("volunteers", filter=~Q(community_key=0)))
    ):
        own[row["organization_id"]].update(volunteers=row["n"] or 0, deployed=row["deployed"] or 0)
    for row in (
        scope_day_tallies(q)
        .order_by()
        .values("organization_id")
        .annotate(m=Sum("minutes"), c=Sum("completed"), n=Sum("no_shows"))
    ):
        own[row["organization_id"]].update(minutes=row["m"] or 0, completed=row["c"] or 0, no_shows=row["n"] or 0)

    ids = {org["id"] for org in organizations}
    totals: dict[int, dict] = {org["id"]: _figures() for org in organizations}
    for org in organizations:
        mine = own.get(org["id"])
        if not mine:
            continue
        # Add to this organization and each ancestor in the scope (the path lists them all).
        for ancestor in (int(part) for part in org["path"].strip("/").split("/")):
            if ancestor in totals:
                for key, value in mine.items():
                    totals[ancestor][key] += value
    top_depth = min((org["path"].count("/") for org in organizations), default=0)
    rows = []
    for org in organizations:
        rows.append(
            {
                "id": org["id"],
                "parent": org["parent_id"] if org["parent_id"] in ids else None,
                "level": org["path"].count("/") - top_depth,
                "code": org["code"],
                "name": _display(org),
                "kind": org["kind"],
                **_finish(totals[org["id"]]),
            }
        )
    return rows


def _display(row: dict) -> str:
    return reader_name(row["name"], row.get("name_en") or "")


def stats_organization_totals(rows: list[dict]) -> dict:
    """The sum over the top rows of ``stats_organizations``: the scope's total."""
    total = _figures()
    for row in rows:
        if row["parent"] is None:
            for key in total:
                total[key] += row[key]
    return _finish(total)


# --- Communities and post types -------------------------------------------------------------


def _shift_figures(shifts, group: str) -> dict[int, dict]:
    out = {}
    for row in (
        shifts.order_by()
        .values(group)
        .annotate(
            shifts=Count("*"),
            filled=Count("starts_at", filter=Q(confirmed_count__gte=F("capacity"))),
            capacity=Sum("capacity"),
            taken=Sum("confirmed_count"),
        )
    ):
        out[row[group]] = row
    return out


def _with_shifts(row: dict, shifts: dict | None) -> dict:
    shifts = shifts or {}
    capacity, taken = shifts.get("capacity") or 0, shifts.get("taken") or 0
    row.update(
        shifts=shifts.get("shifts", 0),
        shifts_filled=shifts.get("filled", 0),
        places=capacity,
        places_taken=taken,
        fill_rate=_rate(taken, capacity),
    )
    return row


# Above this many communities in a scope, stats_communities reads them all rather than by id.
MANY_COMMUNITIES = 500

COMMUNITY_ORDERS = {
    "hours": lambda r: (-r["minutes"], r["code"]),
    "fill_rate": lambda r: (-r["fill_rate"], -r["places"], r["code"]),
    "deployed": lambda r: (-r["deployed"], r["code"]),
    "code": lambda r: (r["code"],),
}


def stats_communities(q: StatsQuery, *, order: str = "hours") -> list[dict]:
    """One row per community the scope covers or has credited time at, in the date range."""
    tallied = {
        row["community_id"]: row
        for row in scope_tallies(q)
        .order_by()
        .values("community_id")
        .annotate(m=Sum("minutes"), c=Sum("completed"), n=Sum("no_shows"))
    }
    deployed = {
        row["deployed_community_id"]: row["n"]
        for row in scope_volunteers(q)
        .filter(deployed_community__isnull=False)
        .order_by()
        .values("deployed_community_id")
        .annotate(n=Count("*"))
    }
    # Per community the shift figures come from the day counts the database keeps, not the shifts.
    shifts = {
        row["community_id"]: row
        for row in scope_shift_counts(q)
        .filter(shifts__gt=0)
        .order_by()
        .values("community_id")
        .annotate(shifts=Sum("shifts"), filled=Sum("filled"), capacity=Sum("places"), taken=Sum("taken"))
    }
    ids = set(tallied) | set(deployed) | set(shifts)
    english = reads_english()
    # Plain tuples, not model instances: a city has some ten thousand communities. Where the
    # scope covers many, every community is read and the rest skipped, instead of sending
    # thousands of ids as parameters.
    communities = Community.objects.order_by().values_list(
        "pk",
        "code",
        "name",
        "name_en",
        "street__name",
        "street__name_en",
        "street__district__name",
        "street__district__name_en",
    )
    if len(ids) <= MANY_COMMUNITIES:
        communities = communities.filter(pk__in=ids)
    rows = []
    for pk, code, name, name_en, street, street_en, district, district_en in communities:
        if pk not in ids:
            continue
        tally = tallied.get(pk, {})
        minutes = tally.get("m") or 0
        rows.append(
            _with_shifts(
                {
                    "id": pk,
                    "code": code,
                    "name": reader_name(name, name_en, english=english),
                    "street": reader_name(street, street_en, english=english),
                    "district": reader_name(district, district_en, english=english),
                    "deployed": deployed.get(pk, 0),
                    "minutes": minutes,
                    "hours": hours(minutes),
                    "completed": tally.get("c") or 0,
                    "no_shows": tally.get("n") or 0,
                },
                shifts.get(pk),
            )
        )
    rows.sort(key=COMMUNITY_ORDERS.get(order, COMMUNITY_ORDERS["hours"]))
    return rows


def stats_post_types(q: StatsQuery) -> list[dict]:
    tallied = {
        row["post_type_id"]: row
        for row in scope_tallies(q)
        .order_by()
        .values("post_type_id")
        .annotate(m=Sum("minutes"), c=Sum("completed"), n=Sum("no_shows"))
    }
    shifts = _shift_figures(scope_shifts(q).filter(_shift_range_q(q)), "post__post_type_id")
    rows = []
    for post_type in PostType.objects.order_by("code"):
        tally = tallied.get(post_type.pk, {})
        minutes = tally.get("m") or 0
        rows.append(
            _with_shifts(
                {
                    "id": post_type.pk,
                    "code": post_type.code,
                    "name": post_type.display_name,
                    "minutes": minutes,
                    "hours": hours(minutes),
                    "completed": tally.get("c") or 0,
                    "no_shows": tally.get("n") or 0,
                },
                shifts.get(post_type.pk),
            )
        )
    return rows


# --- Over time ----------------------------------------------------------------------------------


def stats_daily(q: StatsQuery, *, interval: str = "day") -> list[dict]:
    """A series per day (or per week, starting Mondays) over the date range, gaps filled with zeros.

    Without a range it spans the first to the last day with credited time in the scope.
    """
    rows = {
        row["date"]: row
        for row in scope_tallies(q)
        .order_by()
        .values("date")
        .annotate(m=Sum("minutes"), c=Sum("completed"), n=Sum("no_shows"))
    }
    first = q.date_from or min(rows, default=None)
    last = q.date_to or max(rows, default=None)
    if first is None or last is None or last < first:
        return []
    if interval == "week":
        first, step = week_start(first), 7
    else:
        step = 1
    if (last - first).days // step > MAX_DAILY_POINTS:
        raise ServiceError("invalid", {"date_from": [_("The range is too long for this interval; use interval=week.")]})
    buckets: dict[date, dict] = {}
    day = first
    while day <= last:
        buckets[day] = {"date": day, "minutes": 0, "completed": 0, "no_shows": 0}
        day += timedelta(days=step)
    for day, row in rows.items():
        key = week_start(day) if interval == "week" else day
        bucket = buckets.get(key)
        if bucket is not None:
            bucket["minutes"] += row["m"] or 0
            bucket["completed"] += row["c"] or 0
            bucket["no_shows"] += row["n"] or 0
    series = list(buckets.values())
    for bucket in series:
        bucket["hours"] = hours(bucket["minutes"])
    return series


# --- Leaderboards and stars -----------------------------------------------------------------------


def stats_leaderboard(q: StatsQuery, *, by: str = "volunteer", limit: int = LEADERBOARD_DEFAULT) -> list[dict]:
    """Volunteers or teams by credited hours, most first.

    Teams read the daily tallies. Volunteers read their kept totals; over a date range (which the
    totals do not split) their approved minutes on the range's shifts are summed instead.
    """
    limit = max(1, min(limit, LEADERBOARD_MAX))
    if by == "team":
        return _team_board(q, limit)
    return _volunteer_board(q, limit)


def _team_board(q: StatsQuery, limit: int) -> list[dict]:
    top = list(
        scope_tallies(q)
        .exclude(team_key=0)
        .order_by()
        .values("team_key")
        .annotate(m=Sum("minutes"), c=Sum("completed"), n=Sum("no_shows"))
        .order_by("-m", "team_key")[:limit]
    )
    team_ids = [row["team_key"] for row in top]
    by_id = {team.pk: team for team in Team.objects.filter(pk__in=team_ids).select_related("organization")}
    members = {
        row["team_id"]: row["n"]
        for row in Volunteer.objects.filter(team_id__in=team_ids).order_by().values("team_id").annotate(n=Count("pk"))
    }
    rows = []
    for rank, row in enumerate(top, start=1):
        team = by_id.get(row["team_key"])
        rows.append(
            {
                "rank": rank,
                "id": row["team_key"],
                "name": team.name if team else "",
                "organization": team.organization.display_name if team else "",
                "members": members.get(row["team_key"], 0),
                "minutes": row["m"] or 0,
                "hours": hours(row["m"] or 0),
                "completed": row["c"] or 0,
                "no_shows": row["n"] or 0,
            }
        )
    return rows


def _volunteer_board(q: StatsQuery, limit: int) -> list[dict]:
    volunteers = scope_volunteers(q)
    if q.date_from or q.date_to:
        ranged = (
            Assignment.objects.filter(hours_status=APPROVED, volunteer__in=volunteers.values("pk"))
            .filter(_assignment_range_q(q))
            .order_by()
            .values("volunteer_id")
            .annotate(m=Sum("credited_minutes"), c=Count("pk", filter=Q(status=Status.COMPLETED)))
            .filter(m__gt=0)
            .order_by("-m", "volunteer_id")[:limit]
        )
        top = [(row["volunteer_id"], row["m"], row["c"]) for row in ranged]
    else:
        tallies = (
            VolunteerTally.objects.filter(total_minutes__gt=0)
            .filter(_org_q(q, "volunteer__organization_id"), _district_q(q, "volunteer__deployed_community_id"))
            .order_by("-total_minutes", "volunteer_id")
            .values_list("volunteer_id", "total_minutes", "completed_shifts")[:limit]
        )
        top = list(tallies)
    people = {
        v.pk: v
        for v in Volunteer.objects.filter(pk__in=[vid for vid, _m, _c in top]).select_related(
            "organization", "team", "tally"
        )
    }
    rows = []
    for rank, (volunteer_id, minutes, completed) in enumerate(top, start=1):
        volunteer = people[volunteer_id]
        tally = getattr(volunteer, "tally", None)
        rows.append(
            {
                "rank": rank,
                "id": volunteer_id,
                "volunteer_number": volunteer.volunteer_number,
                "name": volunteer.real_name,
                "organization": volunteer.organization.display_name,
                "team": volunteer.team.name if volunteer.team else "",
                "minutes": minutes or 0,
                "hours": hours(minutes or 0),
                "completed": completed or 0,
                "star_level": tally.star_level if tally else 0,
            }
        )
    return rows


def _assignment_range_q(q: StatsQuery) -> Q:
    query = Q()
    if q.date_from:
        query &= Q(shift__starts_at__gte=day_bounds(q.date_from)[0])
    if q.date_to:
        query &= Q(shift__starts_at__lt=day_bounds(q.date_to)[1])
    return query & _district_q(q, "shift__community_id")


def stats_stars(q: StatsQuery) -> list[dict]:
    """How many volunteers of the scope hold each star level (0 to 5). Levels are cumulative, so
    the date range does not apply."""
    from django.conf import settings

    merged: dict[int, int] = defaultdict(int)
    # Volunteers without a kept total yet have no hours: level 0, like those with a total below 100 h.
    for row in scope_volunteers(q).order_by().values(level=F("tally__star_level")).annotate(n=Count("pk")):
        merged[row["level"] or 0] += row["n"]
    thresholds = [0, *settings.RULES["STAR_THRESHOLDS_HOURS"]]
    return [
        {"level": level, "min_hours": thresholds[level], "volunteers": merged.get(level, 0)}
        for level in range(len(thresholds))
    ]


# --- Drill-down: an organization's teams, a team's members ------------------------------------------


def stats_teams(q: StatsQuery, *, organization_id: int) -> list[dict]:
    """The teams of one organization (not its branches) with members and credited hours."""
    teams = list(Team.objects.filter(organization_id=organization_id).select_related("leader").order_by("name"))
    ids = [team.pk for team in teams]
    tallied = {
        row["team_key"]: row
        for row in scope_tallies(q)
        .filter(team_key__in=ids)
        .order_by()
        .values("team_key")
        .annotate(m=Sum("minutes"), c=Sum("completed"), n=Sum("no_shows"))
    }
    members = {
        row["team_id"]: row
        for row in Volunteer.objects.filter(team_id__in=ids)
        .order_by()
        .values("team_id")
        .annotate(n=Count("pk"), deployed=Count("pk", filter=Q(deployed_community__isnull=False)))
    }
    rows = []
    for team in teams:
        tally, people = tallied.get(team.pk, {}), members.get(team.pk, {})
        minutes = tally.get("m") or 0
        rows.append(
            {
                "id": team.pk,
                "name": team.name,
                "leader": team.leader.real_name if team.leader else "",
                "members": people.get("n", 0),
                "deployed": people.get("deployed", 0),
                "minutes": minutes,
                "hours": hours(minutes),
                "completed": tally.get("c") or 0,
                "no_shows": tally.get("n") or 0,
            }
        )
    rows.sort(key=lambda row: (-row["minutes"], row["name"]))
    return rows


def team_members(*, team_id: int):
    """A team's volunteers with their kept totals, most hours first."""
    return (
        Volunteer.objects.filter(team_id=team_id)
        .select_related("tally", "deployed_community")
        .order_by("-tally__total_minutes", "volunteer_number")
    )


# --- Texts (SMS) per day ------------------------------------------------------------------

SMS_DAYS = 14  # the default window: the last two weeks


def stats_sms_daily(q: StatsQuery) -> list[dict]:
    """Texts per day of creation, to the volunteers in scope: how many went to the provider
    (``sent``, including those since delivered or not), were ``delivered`` by receipt, and
    ``failed`` (refused, or reported undelivered). Without a range: the last ``SMS_DAYS`` days."""
    last = q.date_to or timezone.localdate()
    first = q.date_from or last - timedelta(days=SMS_DAYS - 1)
    if last < first:
        return []
    if (last - first).days > MAX_DAILY_POINTS:
        raise ServiceError("invalid", {"date_from": [_("The range is too long for this interval; use interval=week.")]})
    start = timezone.make_aware(datetime.combine(first, time.min))
    end = timezone.make_aware(datetime.combine(last + timedelta(days=1), time.min))
    State = Notification.State
    rows = (
        Notification.objects.filter(
            _org_q(q, "recipient__volunteer__organization"),
            _district_q(q, "shift__community"),
            channel=Notification.Channel.SMS,
            created_at__gte=start,
            created_at__lt=end,
        )
        .annotate(day=TruncDate("created_at"))
        .order_by()
        .values("day", "state")
        .annotate(n=Count("pk"))
    )
    days = {
        first + timedelta(days=offset): {"sent": 0, "delivered": 0, "failed": 0}
        for offset in range((last - first).days + 1)
    }
    for row in rows:
        bucket = days.get(row["day"])
        if bucket is None:
            continue
        if row["state"] in (State.SENT, State.DELIVERED, State.UNDELIVERED):
            bucket["sent"] += row["n"]
        if row["state"] == State.DELIVERED:
            bucket["delivered"] += row["n"]
        if row["state"] in (State.FAILED, State.UNDELIVERED):
            bucket["failed"] += row["n"]
    return [{"date": day, **counts} for day, counts in days.items()]


# --- Volunteers by category and political status --------------------------------------------


def hours_10k(minutes: int) -> float:
    """Hours in units of 10,000 (万小时), as the programmes' reports give large totals."""
    return round((minutes or 0) / 60 / 10_000, 4)


def stats_people(q: StatsQuery) -> list[dict]:
    """Volunteers of the scope and their credited hours by category (a volunteer may be in
    several) and by political status. Hours are all time, from the per-volunteer tallies, so the
    date range does not apply; a district narrows to volunteers deployed there, as elsewhere."""
    people = scope_volunteers(q)
    through = Volunteer.categories.through
    by_category = {
        row["volunteercategory_id"]: row
        for row in through.objects.filter(volunteer__in=people)
        .order_by()
        .values("volunteercategory_id")
        .annotate(volunteers=Count("pk"), minutes=Sum("volunteer__tally__total_minutes"))
    }
    rows = []
    for category in VolunteerCategory.objects.order_by("code"):
        found = by_category.get(category.pk, {})
        rows.append(_people_row("category", category.code, category.display_name, found))
    by_status = {
        row["political_status"]: row
        for row in people.order_by()
        .values("political_status")
        .annotate(volunteers=Count("pk"), minutes=Sum("tally__total_minutes"))
    }
    for code, label in Volunteer.PoliticalStatus.choices:
        rows.append(_people_row("political_status", code, str(label), by_status.get(code, {})))
    return rows


def _people_row(group: str, code: str, name: str, found: dict) -> dict:
    minutes = found.get("minutes") or 0
    return {
        "group": group,
        "group_label": _("Category") if group == "category" else _("Political status"),
        "code": code,
        "name": name,
        "volunteers": found.get("volunteers") or 0,
        "minutes": minutes,
        "hours": hours(minutes),
        "hours_10k": hours_10k(minutes),
    }
