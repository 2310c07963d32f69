"""Service-hour totals: per volunteer, and per day × community × post type × organization × team.

Only approved credited minutes count. A change to an assignment calls ``assignment_changed``
inside its transaction: that sets ``Assignment.tally_pending`` (durable, committed with the
change) and, after commit, asks a worker to recount. A recount recomputes the affected totals
from the assignments under a row lock, so running it twice, or late, gives the same result.
If the broker is down, the minute sweep (``tally_pending_sweep``) finds the marked rows later.
The nightly ``tallies_recount_all`` rebuilds every total and reports any drift it fixed.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime, time, timedelta

from celery import shared_task
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from volunteers.models import Volunteer, VolunteerTally

from .models import Assignment, DailyTally

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
        tally_assignment_task.delay(assignment_id)
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


def tally_assignment(assignment_id: int) -> bool:
    """Recount what ``assignment_id`` contributes to. Idempotent; returns False if nothing was pending."""
    for attempt in range(3):
        try:
            with transaction.atomic():
                assignment = (
                    Assignment.objects.select_for_update(of=("self",))
                    .select_related("shift__post", "volunteer")
                    .filter(pk=assignment_id, tally_pending=True)
                    .first()
                )
                if assignment is None:
                    return False
                # Lock the volunteer so recounts of one volunteer's totals run one at a time.
                Volunteer.objects.select_for_update().filter(pk=assignment.volunteer_id).first()
                volunteer_tally_recount(assignment.volunteer_id)
                daily_tally_recount(_cell_of(assignment))
                Assignment.objects.filter(pk=assignment_id).update(tally_pending=False)
                return True
        except IntegrityError:  # two first recounts of one cell raced to create it: once more
            if attempt == 2:
                raise
    return False


def tally_pending_sweep(*, batch: int = 1000) -> int:
    ids = list(Assignment.objects.filter(tally_pending=True).values_list("pk", flat=True)[:batch])
    return sum(1 for assignment_id in ids if tally_assignment(assignment_id))


@transaction.atomic
def tallies_recount_all(*, today: date | None = None) -> dict:
    """Rebuild every total from the assignments; return how many rows were wrong (the drift)."""
    today = today or timezone.localdate()
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
    Assignment.objects.filter(tally_pending=True).update(tally_pending=False)
    report = {"volunteers_fixed": volunteer_drift, "cells_fixed": cell_drift}
    if volunteer_drift or cell_drift:
        logger.warning("tally drift repaired: %s", report)
    return report


def tallies_by_volunteer_organization() -> dict:
    """Sum of credited minutes per organization from the daily cells (used by the consistency checks)."""
    totals: dict[int, int] = defaultdict(int)
    for row in DailyTally.objects.values("organization_id").annotate(m=Sum("minutes")):
        totals[row["organization_id"]] = row["m"] or 0
    return dict(totals)


# --- Celery tasks: thin, idempotent, ids only --------------------------------------------


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, retry_backoff_max=300, max_retries=5)
def tally_assignment_task(assignment_id: int) -> bool:
    return tally_assignment(assignment_id)


@shared_task(acks_late=True)
def tally_pending_sweep_task() -> int:
    return tally_pending_sweep()


@shared_task(acks_late=True, time_limit=3600, soft_time_limit=3500)
def tallies_recount_all_task() -> dict:
    return tallies_recount_all()
