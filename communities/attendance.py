"""Attendance and hours: check-in and check-out, no-shows, crediting and approving hours.

Every change writes an audit entry (who, when, before, after, why) and, when credited time may
have changed, asks ``tallies`` to recount the affected totals after commit — the one way totals
change. Coordinator actions take the assignment row lock; the volunteer's own check-in too, so
a check-in racing a no-show mark resolves one way or the other, never both.
"""

from __future__ import annotations

import math
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from config.db import retry_on_conflict
from config.errors import ServiceError

from . import checkin_codes, hours, locks, tallies
from .audit import audit_record, snapshot
from .models import Assignment, AuditEntry, Shift

Status = Assignment.Status
Action = AuditEntry.Action


def _lock_assignment(assignment_id: int) -> Assignment:
    return locks.assignment(assignment_id, related=("shift__community", "shift__post", "volunteer"))


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("reason_required")
    return reason


def _notify(event: str, assignment: Assignment) -> None:
    from .services import _after_commit

    _after_commit(event, assignment)


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    radius = 6_371_000
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = math.radians(lat2 - lat1), math.radians(lng2 - lng1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * radius * math.asin(math.sqrt(a))


def checkin_code_current(*, shift: Shift, at: float | None = None) -> dict:
    code, expires_in = checkin_codes.current_code(shift.checkin_secret, at)
    return {"code": code, "expires_in": expires_in, "step_seconds": checkin_codes.STEP_SECONDS}


def _check_in_window(shift: Shift, now: datetime) -> None:
    opens = shift.starts_at - settings.RULES["CHECKIN_OPENS_BEFORE"]
    if now < opens:
        raise ServiceError("checkin_not_open", {"opens_at": opens.isoformat()})
    if now >= shift.ends_at:
        raise ServiceError("shift_over")


@retry_on_conflict
@transaction.atomic
def assignment_check_in(
    *,
    assignment_id: int,
    volunteer,
    code: str,
    latitude: float | None = None,
    longitude: float | None = None,
    now: datetime | None = None,
) -> Assignment:
    """The volunteer checks in at the post with the code shown there."""
    now = now or timezone.now()
    assignment = _lock_assignment(assignment_id)
    if assignment.volunteer_id != volunteer.pk:
        raise ServiceError("not_found")
    shift = assignment.shift
    if assignment.checked_in_at is not None:
        raise ServiceError("already_checked_in", {"checked_in_at": assignment.checked_in_at.isoformat()})
    if assignment.status != Status.CONFIRMED:
        raise ServiceError("not_checkable", {"status": assignment.status})
    if shift.status == Shift.Status.CANCELLED:
        raise ServiceError("shift_cancelled")
    _check_in_window(shift, now)
    if not checkin_codes.code_is_valid(shift.checkin_secret, code, now.timestamp()):
        raise ServiceError("checkin_code_invalid")

    community = shift.community
    flagged, distance = False, None
    if community.latitude is not None and community.longitude is not None and community.geofence_radius_m:
        if latitude is None or longitude is None:
            flagged = True
        else:
            distance = round(distance_m(float(community.latitude), float(community.longitude), latitude, longitude))
            if distance > community.geofence_radius_m:
                raise ServiceError(
                    "outside_geofence", {"distance_m": distance, "radius_m": community.geofence_radius_m}
                )
    before = snapshot(assignment)
    assignment.checked_in_at = now
    assignment.checkin_method = "code"
    assignment.checkin_flagged = flagged
    assignment.checkin_distance_m = distance
    assignment.save(
        update_fields=["checked_in_at", "checkin_method", "checkin_flagged", "checkin_distance_m", "updated_at"]
    )
    audit_record(
        action=Action.CHECK_IN,
        actor=volunteer.user,
        assignment=assignment,
        before=before,
        after={**snapshot(assignment), "flagged": flagged, "distance_m": distance},
    )
    return assignment


def _complete(assignment: Assignment, checked_out_at: datetime) -> None:
    shift = assignment.shift
    assignment.checked_out_at = checked_out_at
    assignment.status = Status.COMPLETED
    assignment.credited_minutes = hours.credited_minutes(
        assignment.checked_in_at, checked_out_at, shift.starts_at, shift.ends_at
    )
    assignment.hours_status = Assignment.HoursStatus.PENDING


@retry_on_conflict
@transaction.atomic
def assignment_check_out(*, assignment_id: int, volunteer, now: datetime | None = None) -> Assignment:
    """The volunteer checks out; the credited time awaits the coordinator's approval."""
    now = now or timezone.now()
    assignment = _lock_assignment(assignment_id)
    if assignment.volunteer_id != volunteer.pk:
        raise ServiceError("not_found")
    if assignment.checked_in_at is None or assignment.status != Status.CONFIRMED:
        raise ServiceError("not_checked_in")
    before = snapshot(assignment)
    _complete(assignment, max(now, assignment.checked_in_at))
    assignment.checkout_method = "self"
    assignment.save()
    audit_record(
        action=Action.CHECK_OUT, actor=volunteer.user, assignment=assignment, before=before, after=snapshot(assignment)
    )
    tallies.assignment_changed(assignment)
    return assignment


@retry_on_conflict
@transaction.atomic
def assignment_check_in_manual(
    *, assignment_id: int, actor, reason: str, at: datetime | None = None, now: datetime | None = None
) -> Assignment:
    """A coordinator checks a volunteer in by hand (also clears a no-show)."""
    reason = _require_reason(reason)
    now = now or timezone.now()
    assignment = _lock_assignment(assignment_id)
    if assignment.status not in (Status.CONFIRMED, Status.NO_SHOW) or assignment.checked_in_at is not None:
        raise ServiceError("not_checkable", {"status": assignment.status})
    at = at or now
    if at >= assignment.shift.ends_at or at < assignment.shift.starts_at - settings.RULES["CHECKIN_OPENS_BEFORE"]:
        raise ServiceError("invalid", {"at": ["The time must lie within the shift."]})
    before = snapshot(assignment)
    assignment.status = Status.CONFIRMED
    assignment.no_show_at = None
    assignment.checked_in_at = at
    assignment.checkin_method = "manual"
    assignment.checkin_flagged = False
    assignment.save()
    audit_record(
        action=Action.MANUAL_CHECK_IN,
        actor=actor,
        assignment=assignment,
        before=before,
        after=snapshot(assignment),
        reason=reason,
    )
    if before["status"] == Status.NO_SHOW:
        tallies.assignment_changed(assignment)
    return assignment


@retry_on_conflict
@transaction.atomic
def assignment_check_out_manual(
    *, assignment_id: int, actor, reason: str, at: datetime | None = None, now: datetime | None = None
) -> Assignment:
    """A coordinator checks a volunteer out, e.g. one who forgot: at the shift's end by default."""
    reason = _require_reason(reason)
    now = now or timezone.now()
    assignment = _lock_assignment(assignment_id)
    if assignment.checked_in_at is None or assignment.status != Status.CONFIRMED:
        raise ServiceError("not_checked_in")
    at = at or min(now, assignment.shift.ends_at)
    if at < assignment.checked_in_at:
        raise ServiceError("invalid", {"at": ["Check-out cannot be before check-in."]})
    before = snapshot(assignment)
    _complete(assignment, at)
    assignment.checkout_method = "manual"
    assignment.save()
    audit_record(
        action=Action.MANUAL_CHECK_OUT,
        actor=actor,
        assignment=assignment,
        before=before,
        after=snapshot(assignment),
        reason=reason,
    )
    tallies.assignment_changed(assignment)
    return assignment


def _mark_no_show(assignment: Assignment, *, actor, reason: str, now: datetime) -> None:
    before = snapshot(assignment)
    assignment.status = Status.NO_SHOW
    assignment.no_show_at = now
    assignment.save(update_fields=["status", "no_show_at", "updated_at"])
    audit_record(
        action=Action.NO_SHOW,
        actor=actor,
        assignment=assignment,
        before=before,
        after=snapshot(assignment),
        reason=reason,
    )
    tallies.assignment_changed(assignment)
    _notify("no_show", assignment)


@retry_on_conflict
@transaction.atomic
def assignment_mark_no_show(*, assignment_id: int, actor, reason: str, now: datetime | None = None) -> Assignment:
    reason = _require_reason(reason)
    now = now or timezone.now()
    assignment = _lock_assignment(assignment_id)
    if assignment.status != Status.CONFIRMED or assignment.checked_in_at is not None:
        raise ServiceError("not_checkable", {"status": assignment.status})
    if now < assignment.shift.starts_at:
        raise ServiceError("shift_not_started")
    _mark_no_show(assignment, actor=actor, reason=reason, now=now)
    return assignment


@retry_on_conflict
@transaction.atomic
def assignment_clear_no_show(*, assignment_id: int, actor, reason: str) -> Assignment:
    """Undo a no-show mark: the volunteer is confirmed again, not yet checked in."""
    reason = _require_reason(reason)
    assignment = _lock_assignment(assignment_id)
    if assignment.status != Status.NO_SHOW:
        raise ServiceError("not_checkable", {"status": assignment.status})
    before = snapshot(assignment)
    assignment.status = Status.CONFIRMED
    assignment.no_show_at = None
    assignment.save(update_fields=["status", "no_show_at", "updated_at"])
    audit_record(
        action=Action.NO_SHOW_CLEARED,
        actor=actor,
        assignment=assignment,
        before=before,
        after=snapshot(assignment),
        reason=reason,
    )
    tallies.assignment_changed(assignment)
    return assignment


def no_show_sweep(*, now: datetime | None = None, batch: int = 500) -> int:
    """Mark confirmed volunteers not checked in ``NO_SHOW_AFTER`` past the start. Safe to run twice."""
    now = now or timezone.now()
    due_ids = list(
        Assignment.objects.filter(
            status=Status.CONFIRMED,
            checked_in_at__isnull=True,
            shift__starts_at__lte=now - settings.RULES["NO_SHOW_AFTER"],
            shift__status=Shift.Status.OPEN,
        ).values_list("pk", flat=True)[:batch]
    )
    return sum(1 for assignment_id in due_ids if _sweep_no_show(assignment_id, now))


@retry_on_conflict
@transaction.atomic
def _sweep_no_show(assignment_id: int, now: datetime) -> bool:
    assignment = _lock_assignment(assignment_id)
    # Re-checked under the lock: a check-in may have landed since the query above.
    if assignment.status == Status.CONFIRMED and assignment.checked_in_at is None:
        _mark_no_show(assignment, actor=None, reason="automatic", now=now)
        return True
    return False


@retry_on_conflict
@transaction.atomic
def hours_approve(*, assignment_id: int, actor, now: datetime | None = None) -> Assignment:
    assignment = _lock_assignment(assignment_id)
    if assignment.status != Status.COMPLETED or assignment.hours_status != Assignment.HoursStatus.PENDING:
        raise ServiceError("hours_not_pending", {"hours_status": assignment.hours_status})
    before = snapshot(assignment)
    assignment.hours_status = Assignment.HoursStatus.APPROVED
    assignment.verified_by = actor
    assignment.verified_at = now or timezone.now()
    assignment.save(update_fields=["hours_status", "verified_by", "verified_at", "updated_at"])
    audit_record(
        action=Action.HOURS_APPROVED, actor=actor, assignment=assignment, before=before, after=snapshot(assignment)
    )
    tallies.assignment_changed(assignment)
    return assignment


@retry_on_conflict
@transaction.atomic
def hours_adjust(
    *, assignment_id: int, actor, credited_minutes: int, reason: str, now: datetime | None = None
) -> Assignment:
    """Set the credited time by hand (approved at once); never more than the shift's length."""
    reason = _require_reason(reason)
    assignment = _lock_assignment(assignment_id)
    if assignment.status != Status.COMPLETED:
        raise ServiceError("not_checkable", {"status": assignment.status})
    limit = assignment.shift.duration_minutes
    if credited_minutes < 0 or credited_minutes > limit:
        raise ServiceError("hours_out_of_range", {"max_minutes": limit})
    before = snapshot(assignment)
    assignment.credited_minutes = credited_minutes
    assignment.hours_status = Assignment.HoursStatus.APPROVED
    assignment.verified_by = actor
    assignment.verified_at = now or timezone.now()
    assignment.save(update_fields=["credited_minutes", "hours_status", "verified_by", "verified_at", "updated_at"])
    audit_record(
        action=Action.HOURS_ADJUSTED,
        actor=actor,
        assignment=assignment,
        before=before,
        after=snapshot(assignment),
        reason=reason,
    )
    tallies.assignment_changed(assignment)
    return assignment
