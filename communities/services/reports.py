"""The league committee's daily report (日报): written every day, also when nothing happened (零报).

``daily_report_write(day=…)`` writes one ``DailyReport`` per organization, every level of the
tree, so the staff of any organization find the report of their own subtree. Each report holds
the subtree's figures for the day and the same figures for each direct sub-organization
(``by_organization``). Writing a day again replaces its reports (one per day and organization,
a unique constraint), so a retried or repeated task has the effect of one run.

The figures are the statistics' (``communities.selectors.stats``) for one day: head counts as at writing
(hence a report is kept rather than recomputed), shifts of the day at the communities the
subtree covers (every community for the whole tree), credited hours, completed shifts and
no-shows from the daily tallies, volunteers active that day, and volunteers sent a check-in nudge.

Beat runs ``communities.tasks.daily_report_task`` at ``DAILY_REPORT_TIME`` (default 21:00) for the current day.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils import timezone

from communities.models import Assignment, DailyReport, DailyTally, Notification, ShiftDayCount, VolunteerCount
from communities.selectors.stats import StatsQuery, day_bounds, hours, scope_organizations
from volunteers.models import Organization, Volunteer

FIGURES = (
    "volunteers",
    "deployed",
    "suspended",
    "communities_covered",
    "shifts",
    "shifts_filled",
    "shifts_unfilled",
    "places",
    "places_taken",
    "active",
    "minutes",
    "hours",
    "completed",
    "no_shows",
    "nudges",
)
# Counted per organization and added up the tree; the others are derived per subtree.
ADDITIVE = ("volunteers", "deployed", "suspended", "active", "minutes", "completed", "no_shows", "nudges")
# Kinds of notification that count as a nudge (communities.notifications.outbox: "checkin_nudge").
NUDGE_MARK = "nudge"


def _own_figures(day: date) -> tuple[dict[int, dict], dict[int, set[int]], dict[int, dict]]:
    """Per organization: its own additive figures and covered communities; per community: shifts."""
    start, end = day_bounds(day)
    own: dict[int, dict] = defaultdict(lambda: dict.fromkeys(ADDITIVE, 0))
    # Head counts and deployments from the counts the database keeps (VolunteerCount), as the
    # statistics read them.
    heads = VolunteerCount.objects.filter(volunteers__gt=0).order_by()
    for row in heads.values("organization_id").annotate(
        n=Sum("volunteers"),
        deployed=Sum("volunteers", filter=~Q(community_key=0)),
        suspended=Sum("volunteers", filter=Q(status=Volunteer.Status.SUSPENDED)),
    ):
        own[row["organization_id"]].update(
            volunteers=row["n"], deployed=row["deployed"] or 0, suspended=row["suspended"] or 0
        )
    covered: dict[int, set[int]] = defaultdict(set)
    for organization_id, community_id in heads.exclude(community_key=0).values_list("organization_id", "community_key"):
        covered[organization_id].add(community_id)
    for row in (
        DailyTally.objects.filter(date=day)
        .order_by()
        .values("organization_id")
        .annotate(m=Sum("minutes"), c=Sum("completed"), n=Sum("no_shows"))
    ):
        own[row["organization_id"]].update(minutes=row["m"] or 0, completed=row["c"] or 0, no_shows=row["n"] or 0)
    for row in (
        # Active: checked in at a post that day, as in the statistics.
        Assignment.objects.filter(checked_in_at__gte=start, checked_in_at__lt=end)
        .order_by()
        .values("volunteer__organization_id")
        .annotate(n=Count("volunteer_id", distinct=True))
    ):
        own[row["volunteer__organization_id"]]["active"] = row["n"]
    for row in (
        Notification.objects.filter(
            kind__contains=NUDGE_MARK,
            state=Notification.State.SENT,
            sent_at__gte=start,
            sent_at__lt=end,
            assignment__isnull=False,
        )
        .order_by()
        .values("assignment__volunteer__organization_id")
        .annotate(n=Count("assignment_id", distinct=True))
    ):
        own[row["assignment__volunteer__organization_id"]]["nudges"] = row["n"]
    # Open shifts of the day per community, as the database keeps them counted (ShiftDayCount).
    shifts = {
        row["community_id"]: row
        for row in ShiftDayCount.objects.filter(date=day, shifts__gt=0).values(
            "community_id", "shifts", "filled", "taken", capacity=F("places")
        )
    }
    return own, covered, shifts


def daily_report_figures(*, day: date) -> dict[int, dict]:
    """Each organization's report data for ``day``: its subtree's figures and its children's."""
    organizations = list(
        Organization.objects.order_by("path").values("id", "parent_id", "path", "code", "name", "name_en")
    )
    roots = [org for org in organizations if org["parent_id"] is None]
    own, covered, shifts = _own_figures(day)

    totals = {org["id"]: dict.fromkeys(ADDITIVE, 0) for org in organizations}
    communities: dict[int, set[int]] = {org["id"]: set() for org in organizations}
    for org in organizations:
        ancestors = [int(part) for part in org["path"].strip("/").split("/") if int(part) in totals]
        for ancestor in ancestors:
            for key, value in own.get(org["id"], {}).items():
                totals[ancestor][key] += value
            communities[ancestor] |= covered.get(org["id"], set())

    figures: dict[int, dict] = {}
    for org in organizations:
        # The only root is the whole tree: every shift counts, as in the statistics.
        whole_tree = org["parent_id"] is None and len(roots) == 1
        places = shifts.values() if whole_tree else [shifts[c] for c in communities[org["id"]] if c in shifts]
        count = sum(row["shifts"] for row in places)
        filled = sum(row["filled"] for row in places)
        total = totals[org["id"]]
        figures[org["id"]] = {
            **total,
            "communities_covered": len(communities[org["id"]]),
            "shifts": count,
            "shifts_filled": filled,
            "shifts_unfilled": count - filled,
            "places": sum(row["capacity"] or 0 for row in places),
            "places_taken": sum(row["taken"] or 0 for row in places),
            "hours": hours(total["minutes"]),
        }
    data = {}
    for org in organizations:
        mine = figures[org["id"]]
        activity = (mine[key] for key in ("shifts", "minutes", "completed", "no_shows", "nudges", "active"))
        data[org["id"]] = {
            "date": day.isoformat(),
            **mine,
            "zero_report": not any(activity),
            "by_organization": [
                {
                    "id": child["id"],
                    "code": child["code"],
                    "name": child["name"],
                    "name_en": child["name_en"],
                    **figures[child["id"]],
                }
                for child in organizations
                if child["parent_id"] == org["id"]
            ],
        }
    return data


def daily_report_write(*, day: date | None = None) -> list[DailyReport]:
    """Write (or rewrite) ``day``'s report for every organization; return them, the tree's top first."""
    day = day or timezone.localdate()
    now = timezone.now()
    data = daily_report_figures(day=day)
    DailyReport.objects.bulk_create(
        [
            DailyReport(date=day, organization_id=org_id, data=figures, created_at=now)
            for org_id, figures in data.items()
        ],
        update_conflicts=True,
        unique_fields=["date", "organization"],
        update_fields=["data", "created_at"],
    )
    return list(DailyReport.objects.filter(date=day).select_related("organization").order_by("organization__path"))


def daily_report_list(*, query: StatsQuery, day: date | None = None) -> QuerySet:
    """Reports of the organizations in the scope, newest first, the tree's top first within a day."""
    reports = DailyReport.objects.filter(organization__in=scope_organizations(query)).select_related("organization")
    if day:
        reports = reports.filter(date=day)
    return reports.order_by("-date", "organization__path")


def daily_report_latest(*, organization_id: int, day: date) -> DailyReport | None:
    return DailyReport.objects.filter(organization_id=organization_id, date=day).first()
