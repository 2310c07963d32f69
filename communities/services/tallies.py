"""Service-hour totals: per volunteer, per day × community × post type × organization × team,
and per day × organization.

Only approved credited minutes count. A change to an assignment calls ``assignment_changed``
inside its transaction: that sets ``Assignment.tally_pending`` (durable, committed with the
change) and, after commit, asks a worker to recount. A recount recomputes the affected totals
from the assignments under a row lock, so running it twice, or late, gives the same result.
The day × organization rollup (``OrganizationDayTally``) is recounted from its cells in the same
transaction. If the broker is down, the minute sweep (``tally_pending_sweep``) finds the marked
rows later. The nightly ``tallies_recount_all`` rebuilds every total, checks the head counts and
shift counts the database keeps by trigger (``VolunteerCount``, ``ShiftDayCount``), and reports
any drift it fixed.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from communities.models import Assignment, DailyTally, OrganizationDayTally, Shift, ShiftDayCount, VolunteerCount
from communities.services import live, locks
from config.celery import task_named
from config.db import retry_on_conflict
from config.errors import ServiceError
from volunteers.models import Volunteer, VolunteerTally

logger = logging.getLogger(__name__)
Status = Assignment.Status
APPROVED = Assignment.HoursStatus.APPROVED


def star_level_for(minutes: int) -> int:
    hours = minutes / 60
    return sum(1 for threshold in settings.RULES["STAR_THRESHOLDS_HOURS"] if hours >= threshold)


def assignment_changed(assignment: Assignment) -> None:
    """Call inside the transaction that changed ``assignment``'s status or credited time."""
    Assignment.objects.filter(pk=assignment.pk).update(tally_pending=True)
    assignment_id = assignment.pk
    transaction.on_commit(lambda: _enqueue(assignment_id))


def _enqueue(assignment_id: int) -> None:
    try:
        task_named("communities.tasks.tally_assignment_task").delay(assignment_id)
    except Exception:  # broker unreachable: the pending sweep picks the row up later
        logger.warning("tally task not queued for assignment %s; left to the sweep", assignment_id)


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(day, time.min))
    return start, timezone.make_aware(datetime.combine(day + timedelta(days=1), time.min))


def volunteer_tally_recount(volunteer_id: int, *, today: date | None = None) -> VolunteerTally:
    today = today or timezone.localdate()
    year_start, _ = _day_bounds(date(today.year, 1, 1))
    mine = Assignment.objects.filter(volunteer_id=volunteer_id)
    figures = mine.aggregate(
        total=Sum("credited_minutes", filter=Q(hours_status=APPROVED)),
        year=Sum("credited_minutes", filter=Q(hours_status=APPROVED, shift__starts_at__gte=year_start)),
        completed=Count("pk", filter=Q(status=Status.COMPLETED)),
        no_shows=Count("pk", filter=Q(status=Status.NO_SHOW)),
    )
    total = figures["total"] or 0
    values = {
        "total_minutes": total,
        "year": today.year,
        "year_minutes": figures["year"] or 0,
        "completed_shifts": figures["completed"],
        "no_shows": figures["no_shows"],
        "star_level": star_level_for(total),
    }
    tally, _created = VolunteerTally.objects.update_or_create(volunteer_id=volunteer_id, defaults=values)
    return tally


def _cell_of(assignment: Assignment) -> dict:
    volunteer = assignment.volunteer
    shift = assignment.shift
    return {
        "date": timezone.localtime(shift.starts_at).date(),
        "community_id": shift.community_id,
        "post_type_id": shift.post.post_type_id,
        "organization_id": volunteer.organization_id,
        "team_key": volunteer.team_id or 0,
    }


def daily_tally_recount(cell: dict) -> DailyTally | None:
    start, end = _day_bounds(cell["date"])
    assignments = Assignment.objects.filter(
        shift__starts_at__gte=start,
        shift__starts_at__lt=end,
        shift__community_id=cell["community_id"],
        shift__post__post_type_id=cell["post_type_id"],
        volunteer__organization_id=cell["organization_id"],
    )
    assignments = (
        assignments.filter(volunteer__team_id=cell["team_key"])
        if cell["team_key"]
        else assignments.filter(volunteer__team__isnull=True)
    )
    figures = assignments.aggregate(
        minutes=Sum("credited_minutes", filter=Q(hours_status=APPROVED)),
        completed=Count("pk", filter=Q(status=Status.COMPLETED)),
        no_shows=Count("pk", filter=Q(status=Status.NO_SHOW)),
    )
    values = {"minutes": figures["minutes"] or 0, "completed": figures["completed"], "no_shows": figures["no_shows"]}
    if not any(values.values()):
        DailyTally.objects.filter(**cell).delete()
        return None
    tally, _created = DailyTally.objects.update_or_create(**cell, defaults=values)
    return tally


def organization_day_recount(*, day: date, organization_id: int) -> None:
    """Sum the organization's cells of ``day``; call in the transaction that recounted one of them."""
    # Lock the row first, creating it if need be: two transactions recounting two cells of one
    # organization and day would otherwise each sum without the other's cell, and the later
    # write would lose a change. Once the lock is held, the sum below sees every committed cell.
    OrganizationDayTally.objects.bulk_create(
        [OrganizationDayTally(date=day, organization_id=organization_id)],
        update_conflicts=True,
        unique_fields=["date", "organization"],
        update_fields=["updated_at"],
    )
    figures = DailyTally.objects.filter(date=day, organization_id=organization_id).aggregate(
        minutes=Sum("minutes"), completed=Sum("completed"), no_shows=Sum("no_shows")
    )
    OrganizationDayTally.objects.filter(date=day, organization_id=organization_id).update(
        **{name: value or 0 for name, value in figures.items()}, updated_at=timezone.now()
    )


def tally_assignment(assignment_id: int) -> bool:
    """Recount what ``assignment_id`` contributes to. Idempotent; returns False if nothing was pending."""
    for attempt in range(3):
        try:
            return _tally_assignment_once(assignment_id)
        except IntegrityError:  # two first recounts of one cell raced to create it: once more
            if attempt == 2:
                raise
    return False


@retry_on_conflict
@transaction.atomic
def _tally_assignment_once(assignment_id: int) -> bool:
    try:
        assignment = locks.assignment(assignment_id, related=("shift__post", "volunteer"))
    except ServiceError:  # no such assignment
        return False
    if not assignment.tally_pending:
        return False
    # Lock the volunteer so recounts of one volunteer's totals run one at a time.
    locks.volunteer_ids([assignment.volunteer_id])
    volunteer_tally_recount(assignment.volunteer_id)
    cell = _cell_of(assignment)
    daily_tally_recount(cell)
    organization_day_recount(day=cell["date"], organization_id=cell["organization_id"])
    Assignment.objects.filter(pk=assignment_id).update(tally_pending=False)
    return True


def tally_pending_sweep(*, batch: int = 1000) -> int:
    ids = list(Assignment.objects.filter(tally_pending=True).values_list("pk", flat=True)[:batch])
    return sum(1 for assignment_id in ids if tally_assignment(assignment_id))


def tallies_recount_all(*, today: date | None = None) -> dict:
    """Rebuild every total from the assignments and check the kept counts; return how many rows
    were wrong (the drift).

    The report always names the tallies (``volunteers_fixed``, ``cells_fixed``); the rollup and
    the counts appear only when one of theirs was wrong (``organization_days_fixed``,
    ``volunteer_counts_fixed``, ``shift_counts_fixed``, ``shift_attendance_fixed``: the live
    board's check-in rollup of the last 36 hours).
    """
    report = _tallies_rebuild(today=today or timezone.localdate())
    counts = {
        "volunteer_counts_fixed": _volunteer_counts_repair(),
        "shift_counts_fixed": _shift_counts_repair(),
        "shift_attendance_fixed": live.shift_attendance_repair(),
    }
    report.update({name: fixed for name, fixed in counts.items() if fixed})
    if any(report.values()):
        logger.warning("tally drift repaired: %s", report)
    return report


@transaction.atomic
def _tallies_rebuild(*, today: date) -> dict:
    year_start, _ = _day_bounds(date(today.year, 1, 1))

    expected_volunteers: dict[int, dict] = {}
    rows = (
        Assignment.objects.order_by()
        .values("volunteer_id")
        .annotate(
            total=Sum("credited_minutes", filter=Q(hours_status=APPROVED)),
            year=Sum("credited_minutes", filter=Q(hours_status=APPROVED, shift__starts_at__gte=year_start)),
            completed=Count("pk", filter=Q(status=Status.COMPLETED)),
            no_shows=Count("pk", filter=Q(status=Status.NO_SHOW)),
        )
    )
    for row in rows.iterator(chunk_size=5000):
        total = row["total"] or 0
        expected_volunteers[row["volunteer_id"]] = {
            "total_minutes": total,
            "year": today.year,
            "year_minutes": row["year"] or 0,
            "completed_shifts": row["completed"],
            "no_shows": row["no_shows"],
            "star_level": star_level_for(total),
        }
    fields = ["total_minutes", "year", "year_minutes", "completed_shifts", "no_shows", "star_level"]
    existing = {t.volunteer_id: t for t in VolunteerTally.objects.all().iterator(chunk_size=5000)}
    volunteer_drift, to_update, to_create = 0, [], []
    for volunteer_id, values in expected_volunteers.items():
        tally = existing.pop(volunteer_id, None)
        if tally is None:
            if values["total_minutes"] or values["completed_shifts"] or values["no_shows"]:
                to_create.append(VolunteerTally(volunteer_id=volunteer_id, **values))
                volunteer_drift += 1
        elif any(getattr(tally, f) != v for f, v in values.items()):
            for f, v in values.items():
                setattr(tally, f, v)
            to_update.append(tally)
            volunteer_drift += 1
    stale = [t for t in existing.values() if t.total_minutes or t.completed_shifts or t.no_shows]
    for tally in stale:
        for f in fields:
            setattr(tally, f, 0 if f != "year" else today.year)
        to_update.append(tally)
    volunteer_drift += len(stale)
    VolunteerTally.objects.bulk_create(to_create, batch_size=2000)
    VolunteerTally.objects.bulk_update(to_update, fields, batch_size=2000)

    cells = (
        Assignment.objects.order_by()
        .annotate(day=TruncDate("shift__starts_at", tzinfo=timezone.get_current_timezone()))
        .values(
            "day",
            "shift__community_id",
            "shift__post__post_type_id",
            "volunteer__organization_id",
            "volunteer__team_id",
        )
        .annotate(
            minutes=Sum("credited_minutes", filter=Q(hours_status=APPROVED)),
            completed=Count("pk", filter=Q(status=Status.COMPLETED)),
            no_shows=Count("pk", filter=Q(status=Status.NO_SHOW)),
        )
    )
    expected_cells = {}
    for row in cells.iterator(chunk_size=5000):
        values = (row["minutes"] or 0, row["completed"], row["no_shows"])
        if any(values):
            key = (
                row["day"],
                row["shift__community_id"],
                row["shift__post__post_type_id"],
                row["volunteer__organization_id"],
                row["volunteer__team_id"] or 0,
            )
            expected_cells[key] = values
    every_cell = dict(expected_cells)  # the loop below consumes expected_cells
    cell_drift, cell_update, cell_delete = 0, [], []
    for tally in DailyTally.objects.all().iterator(chunk_size=5000):
        key = (tally.date, tally.community_id, tally.post_type_id, tally.organization_id, tally.team_key)
        values = expected_cells.pop(key, None)
        if values is None:
            cell_delete.append(tally.pk)
        elif (tally.minutes, tally.completed, tally.no_shows) != values:
            tally.minutes, tally.completed, tally.no_shows = values
            cell_update.append(tally)
    cell_drift = len(cell_update) + len(cell_delete) + len(expected_cells)
    DailyTally.objects.filter(pk__in=cell_delete).delete()
    DailyTally.objects.bulk_update(cell_update, ["minutes", "completed", "no_shows"], batch_size=2000)
    DailyTally.objects.bulk_create(
        [
            DailyTally(
                date=k[0],
                community_id=k[1],
                post_type_id=k[2],
                organization_id=k[3],
                team_key=k[4],
                minutes=v[0],
                completed=v[1],
                no_shows=v[2],
            )
            for k, v in expected_cells.items()
        ],
        batch_size=2000,
    )
    organization_drift = _organization_days_rebuild(every_cell)
    Assignment.objects.filter(tally_pending=True).update(tally_pending=False)
    report = {"volunteers_fixed": volunteer_drift, "cells_fixed": cell_drift}
    if organization_drift:
        report["organization_days_fixed"] = organization_drift
    return report


def _organization_days_rebuild(cells: dict) -> int:
    """Set every ``OrganizationDayTally`` to the sum of its cells (``cells``: key → figures)."""
    expected: dict[tuple, list[int]] = defaultdict(lambda: [0, 0, 0])
    for (day, _community, _post_type, organization_id, _team), values in cells.items():
        sums = expected[(day, organization_id)]
        for index, value in enumerate(values):
            sums[index] += value
    drift, to_update, to_delete = 0, [], []
    for row in OrganizationDayTally.objects.all().iterator(chunk_size=5000):
        current = (row.minutes, row.completed, row.no_shows)
        values = tuple(expected.pop((row.date, row.organization_id), (0, 0, 0)))
        if not any(values):
            to_delete.append(row.pk)  # no cells: no row
            drift += any(current)
        elif current != values:
            row.minutes, row.completed, row.no_shows = values
            to_update.append(row)
            drift += 1
    drift += len(expected)
    OrganizationDayTally.objects.filter(pk__in=to_delete).delete()
    OrganizationDayTally.objects.bulk_update(to_update, ["minutes", "completed", "no_shows"], batch_size=2000)
    OrganizationDayTally.objects.bulk_create(
        [
            OrganizationDayTally(date=day, organization_id=organization_id, minutes=m, completed=c, no_shows=n)
            for (day, organization_id), (m, c, n) in expected.items()
        ],
        batch_size=2000,
    )
    return drift


# --- The counts the database keeps by trigger (migration 0008) -----------------------------------
# A trigger cannot miss a write, so drift here means someone bypassed it (a TRUNCATE, triggers
# disabled, a restore). The check compares a fresh count with the kept one without locks; a key
# that differs is recounted under its row lock, in a short transaction of its own, so a sign-up
# committed meanwhile is neither lost nor taken for drift.

REPAIR_BATCH = 200  # keys per statement


def _counts_repair(model, keys: tuple[str, ...], values: tuple[str, ...], fresh: dict, recount) -> int:
    zero = (0,) * len(values)
    kept = {row[: len(keys)]: row[len(keys) :] for row in model.objects.values_list(*keys, *values).iterator()}
    suspects = sorted(key for key in fresh.keys() | kept.keys() if fresh.get(key, zero) != kept.get(key, zero))
    fixed = 0
    for start in range(0, len(suspects), REPAIR_BATCH):
        batch = suspects[start : start + REPAIR_BATCH]
        match = Q()
        for key in batch:
            match |= Q(**dict(zip(keys, key, strict=True)))
        with transaction.atomic():
            model.objects.bulk_create(
                [model(**dict(zip(keys, key, strict=True))) for key in batch], ignore_conflicts=True
            )
            rows = {tuple(getattr(row, name) for name in keys): row for row in locks.rows(model.objects.filter(match))}
            counted = recount(batch)  # after the locks: sees every change committed before them
            changed = []
            for key, row in rows.items():
                wanted = counted.get(key, zero)
                if tuple(getattr(row, name) for name in values) != wanted:
                    for name, value in zip(values, wanted, strict=True):
                        setattr(row, name, value)
                    changed.append(row)
            model.objects.bulk_update(changed, list(values))
            fixed += len(changed)
    return fixed


VOLUNTEER_COUNT_KEYS = ("organization_id", "status", "community_key")


def _volunteer_counts(volunteers) -> dict:
    rows = (
        volunteers.order_by()
        .annotate(community_key=Coalesce("deployed_community_id", 0))
        .values_list("organization_id", "status", "community_key")
        .annotate(n=Count("*"))
    )
    return {(o, s, c): (n,) for o, s, c, n in rows.iterator()}


def _volunteer_counts_repair() -> int:
    def recount(batch):
        match = Q()
        for organization_id, status, community_key in batch:
            match |= Q(organization_id=organization_id, status=status, deployed_community_id=community_key or None)
        return _volunteer_counts(Volunteer.objects.filter(match))

    return _counts_repair(
        VolunteerCount, VOLUNTEER_COUNT_KEYS, ("volunteers",), _volunteer_counts(Volunteer.objects.all()), recount
    )


def _shift_counts(shifts) -> dict:
    rows = (
        shifts.filter(status=Shift.Status.OPEN)
        .order_by()
        .annotate(day=TruncDate("starts_at", tzinfo=timezone.get_current_timezone()))
        .values_list("day", "community_id")
        .annotate(
            shifts=Count("*"),
            filled=Count("pk", filter=Q(confirmed_count__gte=F("capacity"))),
            places=Sum("capacity"),
            taken=Sum("confirmed_count"),
        )
    )
    return {(day, community_id): tuple(figures) for day, community_id, *figures in rows.iterator()}


def _shift_counts_repair() -> int:
    def recount(batch):
        by_day: dict[date, list[int]] = defaultdict(list)
        for day, community_id in batch:
            by_day[day].append(community_id)
        match = Q()
        for day, community_ids in by_day.items():
            start, end = _day_bounds(day)
            match |= Q(community_id__in=community_ids, starts_at__gte=start, starts_at__lt=end)
        return _shift_counts(Shift.objects.filter(match))

    return _counts_repair(
        ShiftDayCount,
        ("date", "community_id"),
        ("shifts", "filled", "places", "taken"),
        _shift_counts(Shift.objects.all()),
        recount,
    )


def tallies_by_volunteer_organization() -> dict:
    """Sum of credited minutes per organization from the daily cells (used by the consistency checks)."""
    totals: dict[int, int] = defaultdict(int)
    for row in DailyTally.objects.values("organization_id").annotate(m=Sum("minutes")):
        totals[row["organization_id"]] = row["m"] or 0
    return dict(totals)


# --- Celery tasks: thin, idempotent, ids only --------------------------------------------
