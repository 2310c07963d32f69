"""The check-in rollup the live operations board reads (``ShiftAttendance``).

``shift_attendance_add`` is called by every attendance change that moves a count (check-in,
check-out, no-show, and their undoing), inside that change's transaction, so the board never
shows a check-in that did not commit and never misses one that did. The shift's row is created
on its first change and updated with a relative ``UPDATE``: concurrent check-ins of one shift
queue on that row for the rest of their (short) transactions, the last lock each takes.
The nightly recount (``shift_attendance_repair``) finds and fixes drift.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from communities.models import Assignment, Shift, ShiftAttendance
from communities.services import locks

Status = Assignment.Status


def shift_attendance_add(shift: Shift, *, checked_in: int = 0, checked_out: int = 0, no_shows: int = 0) -> None:
    """Move the shift's counts by the given amounts; call inside the change's transaction."""
    if not (checked_in or checked_out or no_shows):
        return
    ShiftAttendance.objects.bulk_create(
        [
            ShiftAttendance(
                shift_id=shift.pk,
                community_id=shift.community_id,
                date=timezone.localdate(shift.starts_at),
                starts_at=shift.starts_at,
                ends_at=shift.ends_at,
            )
        ],
        ignore_conflicts=True,
    )
    ShiftAttendance.objects.filter(shift_id=shift.pk).update(
        checked_in=F("checked_in") + checked_in,
        checked_out=F("checked_out") + checked_out,
        no_shows=F("no_shows") + no_shows,
    )


def _counted(shift_ids) -> dict[int, tuple[int, int, int]]:
    rows = (
        Assignment.objects.filter(shift_id__in=shift_ids)
        .order_by()
        .values("shift_id")
        .annotate(
            checked_in=Count("pk", filter=Q(checked_in_at__isnull=False) & ~Q(status=Status.CANCELLED)),
            checked_out=Count("pk", filter=Q(status=Status.COMPLETED)),
            no_shows=Count("pk", filter=Q(status=Status.NO_SHOW)),
        )
    )
    return {row["shift_id"]: (row["checked_in"], row["checked_out"], row["no_shows"]) for row in rows}


def shift_attendance_repair(*, since=None, now=None, batch: int = 500) -> int:
    """Recount the rollup of shifts that started between ``since`` (default: a day and a half
    ago) and now from their assignments; return how many rows were wrong. Each batch under its
    rows' locks (shifts not yet started have no attendance to count)."""
    now = now or timezone.now()
    since = since or now - timedelta(hours=36)
    shift_ids = list(
        Shift.objects.filter(starts_at__gte=since, starts_at__lte=now).order_by("pk").values_list("pk", flat=True)
    )
    fixed = 0
    for start in range(0, len(shift_ids), batch):
        ids = shift_ids[start : start + batch]
        with transaction.atomic():
            kept = {row.shift_id: row for row in locks.rows(ShiftAttendance.objects.filter(shift_id__in=ids))}
            counted = _counted(ids)
            shifts = {shift.pk: shift for shift in Shift.objects.filter(pk__in=set(counted) - set(kept))}
            for shift_id in ids:
                wanted = counted.get(shift_id, (0, 0, 0))
                row = kept.get(shift_id)
                have = (row.checked_in, row.checked_out, row.no_shows) if row else (0, 0, 0)
                if have == wanted:
                    continue
                fixed += 1
                if row is None:
                    shift_attendance_add(
                        shifts[shift_id], checked_in=wanted[0], checked_out=wanted[1], no_shows=wanted[2]
                    )
                else:
                    row.checked_in, row.checked_out, row.no_shows = wanted
                    row.save(update_fields=["checked_in", "checked_out", "no_shows"])
    return fixed
