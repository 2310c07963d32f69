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
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from communities.models import Assignment, AuditEntry, CheckinCodeAttempts, CheckinCodeGuard, Shift
from communities.notifications import outbox
from communities.rules import checkin_codes, hours
from communities.selectors.shifts import AT_POST
from communities.services import live, locks, tallies
from communities.services.audit import audit_record, snapshot
from communities.services.signup import _after_commit
from config.db import retry_on_conflict
from config.errors import ServiceError

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


def check_in_opens(shift: Shift) -> datetime:
    return shift.starts_at - settings.RULES["CHECKIN_OPENS_BEFORE"]


def _check_in_window(shift: Shift, now: datetime) -> None:
    opens = check_in_opens(shift)
    if now < opens:
        raise ServiceError("checkin_not_open", {"opens_at": opens.isoformat()})
    if now >= shift.ends_at:
        raise ServiceError("shift_over")


def assignment_check_in(
    *,
    assignment_id: int,
    volunteer,
    code: str,
    latitude: float | None = None,
    longitude: float | None = None,
    now: datetime | None = None,
) -> Assignment:
    """The volunteer checks in at the post with the code shown there.

    Wrong codes are limited (``_take_code_attempt``, ``_wrong_code``): a wrong code is refused
    *after* its transaction commits, so the count of wrong codes is kept. Location is recorded
    and flagged for the coordinator, never a reason to accept or refuse: the phone reports it
    and a community's coordinates are public.
    """
    now = now or timezone.now()
    assignment, refusal = _check_in(
        assignment_id=assignment_id, volunteer=volunteer, code=code, latitude=latitude, longitude=longitude, now=now
    )
    if refusal is not None:
        raise refusal
    return assignment


@retry_on_conflict
@transaction.atomic
def _check_in(
    *, assignment_id: int, volunteer, code: str, latitude: float | None, longitude: float | None, now: datetime
) -> tuple[Assignment, ServiceError | None]:
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
    if CheckinCodeAttempts.objects.filter(assignment_id=assignment.pk, locked_at__isnull=False).exists():
        raise ServiceError("checkin_locked")
    step = checkin_codes.step_of(now.timestamp())
    step_failures = _take_code_attempt(volunteer_id=assignment.volunteer_id, step=step)
    if step_failures is None:
        wait = checkin_codes.seconds_left(now.timestamp())
        raise ServiceError("checkin_too_many_attempts", {"retry_after_seconds": wait})
    if not checkin_codes.code_is_valid(shift.checkin_secret, code, now.timestamp()):
        return assignment, _wrong_code(assignment, step_failures=step_failures, now=now)
    _give_back_code_attempt(volunteer_id=assignment.volunteer_id, step=step)

    community = shift.community
    flagged, distance, outside = False, None, False
    if community.latitude is not None and community.longitude is not None and community.geofence_radius_m:
        if latitude is None or longitude is None:
            flagged = True
        else:
            distance = round(distance_m(float(community.latitude), float(community.longitude), latitude, longitude))
            outside = flagged = distance > community.geofence_radius_m
    before = snapshot(assignment)
    assignment.checked_in_at = now
    assignment.checkin_method = "code"
    assignment.checkin_flagged = flagged
    assignment.checkin_distance_m = distance
    assignment.save(
        update_fields=["checked_in_at", "checkin_method", "checkin_flagged", "checkin_distance_m", "updated_at"]
    )
    live.shift_attendance_add(shift, checked_in=1)
    audit_record(
        action=Action.CHECK_IN,
        actor=volunteer.user,
        assignment=assignment,
        before=before,
        after={**snapshot(assignment), "flagged": flagged, "distance_m": distance, "outside_geofence": outside},
    )
    return assignment, None


def _take_code_attempt(*, volunteer_id: int, step: int) -> int | None:
    """Count one code attempt of the volunteer in ``step``: the attempts so far, or None when the
    step's limit is reached. One conditional UPDATE: concurrent attempts queue on the row, and
    each sees the count the one before it left, so no more than the limit are ever checked."""
    limit = settings.RULES["CHECKIN_CODE_TRIES_PER_STEP"]
    CheckinCodeGuard.objects.bulk_create(
        [CheckinCodeGuard(volunteer_id=volunteer_id, step=step, failures=0)], ignore_conflicts=True
    )
    taken = (
        CheckinCodeGuard.objects.filter(volunteer_id=volunteer_id)
        .filter(~Q(step=step) | Q(failures__lt=limit))
        .update(step=step, failures=Case(When(step=step, then=F("failures") + 1), default=Value(1)))
    )
    if not taken:
        return None
    return CheckinCodeGuard.objects.values_list("failures", flat=True).get(volunteer_id=volunteer_id)


def _give_back_code_attempt(*, volunteer_id: int, step: int) -> None:
    """A right code is not a wrong one: the guard counts wrong codes only."""
    CheckinCodeGuard.objects.filter(volunteer_id=volunteer_id, step=step, failures__gt=0).update(
        failures=F("failures") - 1
    )


def _wrong_code(assignment: Assignment, *, step_failures: int, now: datetime) -> ServiceError:
    """Count a wrong code against the assignment (under its row lock, so one at a time); at the
    limit, lock its code check-in and tell its coordinators, who can check the volunteer in by hand."""
    limit = settings.RULES["CHECKIN_CODE_LOCK_AFTER"]
    attempts, _created = CheckinCodeAttempts.objects.get_or_create(assignment_id=assignment.pk)
    attempts.failures += 1
    if attempts.failures < limit:
        attempts.save(update_fields=["failures"])
        left = min(settings.RULES["CHECKIN_CODE_TRIES_PER_STEP"] - step_failures, limit - attempts.failures)
        return ServiceError("checkin_code_invalid", {"attempts_left": max(left, 0)})
    attempts.locked_at = now
    attempts.save(update_fields=["failures", "locked_at"])
    audit_record(
        action=Action.CHECKIN_LOCKED,
        assignment=assignment,
        before=snapshot(assignment),
        after={**snapshot(assignment), "checkin_code_failures": attempts.failures, "locked_at": now.isoformat()},
    )
    outbox.checkin_locked_event(assignment=assignment, failures=attempts.failures, now=now)
    return ServiceError("checkin_locked")


def _refuse_before_start(shift: Shift, now: datetime) -> None:
    """No hours are credited for a shift that has not started: checked out before the start, a
    volunteer would be credited nothing, with no way back."""
    if now < shift.starts_at:
        raise ServiceError("shift_not_started", {"starts_at": shift.starts_at.isoformat()})


def _refuse_future(at: datetime, now: datetime) -> None:
    """A coordinator records what happened (a back-entry, with a reason), never what has not yet."""
    if at > now:
        raise ServiceError("invalid", {"at": [_("The time cannot be in the future.")]})


def _check_out(assignment: Assignment, *, at: datetime, method: str, actor, reason: str = "") -> None:
    """The one check-out (the volunteer's, a coordinator's, a cancellation's): completed at
    ``at``, the time credited by the hours rule and awaiting approval, audited, tallied. The
    caller holds the assignment's lock and moves the live board's count."""
    shift = assignment.shift
    before = snapshot(assignment)
    assignment.checked_out_at = at
    assignment.status = Status.COMPLETED
    assignment.credited_minutes = hours.credited_minutes(assignment.checked_in_at, at, shift.starts_at, shift.ends_at)
    assignment.hours_status = Assignment.HoursStatus.PENDING
    assignment.checkout_method = method
    assignment.save()
    audit_record(
        action=Action.CHECK_OUT if method == "self" else Action.MANUAL_CHECK_OUT,
        actor=actor,
        assignment=assignment,
        before=before,
        after=snapshot(assignment),
        reason=reason,
    )
    tallies.assignment_changed(assignment)


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
    _refuse_before_start(assignment.shift, now)
    _check_out(assignment, at=max(now, assignment.checked_in_at), method="self", actor=volunteer.user)
    live.shift_attendance_add(assignment.shift, checked_out=1)
    return assignment


def shift_checked_in_close(shift: Shift, *, assignment_ids: list[int], actor, reason: str, now: datetime) -> int:
    """Check out at ``now`` everyone of ``assignment_ids`` checked in on ``shift``, as a
    coordinator's check-out does (credited, awaiting approval, audited, tallied): a shift cancelled
    while under way credits the time its volunteers served. The caller holds the shift's lock and
    these assignments'; returns how many were checked out."""
    served = list(Assignment.objects.filter(AT_POST, pk__in=assignment_ids, shift=shift).select_related("volunteer"))
    for assignment in served:
        assignment.shift = shift
        _check_out(assignment, at=max(now, assignment.checked_in_at), method="manual", actor=actor, reason=reason)
    live.shift_attendance_add(shift, checked_out=len(served))
    return len(served)


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
    _refuse_future(at, now)
    if at >= assignment.shift.ends_at or at < check_in_opens(assignment.shift):
        raise ServiceError("invalid", {"at": [_("The time must lie within the shift.")]})
    before = snapshot(assignment)
    assignment.status = Status.CONFIRMED
    assignment.no_show_at = None
    assignment.checked_in_at = at
    assignment.checkin_method = "manual"
    assignment.checkin_flagged = False
    assignment.save()
    live.shift_attendance_add(assignment.shift, checked_in=1, no_shows=-1 if before["status"] == Status.NO_SHOW else 0)
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
    _refuse_before_start(assignment.shift, now)
    at = at or min(now, assignment.shift.ends_at)
    _refuse_future(at, now)
    if at < assignment.checked_in_at:
        raise ServiceError("invalid", {"at": [_("Check-out cannot be before check-in.")]})
    if at < assignment.shift.starts_at:
        raise ServiceError("invalid", {"at": [_("Check-out cannot be before the shift starts.")]})
    _check_out(assignment, at=at, method="manual", actor=actor, reason=reason)
    live.shift_attendance_add(assignment.shift, checked_out=1)
    return assignment


def no_show_grace_ends(shift: Shift) -> datetime:
    """From when a volunteer not checked in counts as a no-show: the sweep's moment, and a
    coordinator's too unless they mark it early on purpose (``assignment_mark_no_show``)."""
    return shift.starts_at + settings.RULES["NO_SHOW_AFTER"]


def _mark_no_show(assignment: Assignment, *, actor, reason: str, now: datetime, early: bool = False) -> None:
    before = snapshot(assignment)
    assignment.status = Status.NO_SHOW
    assignment.no_show_at = now
    assignment.save(update_fields=["status", "no_show_at", "updated_at"])
    live.shift_attendance_add(assignment.shift, no_shows=1)
    audit_record(
        action=Action.NO_SHOW,
        actor=actor,
        assignment=assignment,
        before=before,
        after={**snapshot(assignment), "early": True} if early else snapshot(assignment),
        reason=reason,
    )
    tallies.assignment_changed(assignment)
    _notify("no_show", assignment)


@retry_on_conflict
@transaction.atomic
def assignment_mark_no_show(
    *, assignment_id: int, actor, reason: str, early: bool = False, now: datetime | None = None
) -> Assignment:
    """A coordinator marks a no-show: after the sweep's grace, or earlier when they say so
    (``early``, e.g. the volunteer called in sick), with the reason in the audit trail."""
    reason = _require_reason(reason)
    now = now or timezone.now()
    assignment = _lock_assignment(assignment_id)
    if assignment.status != Status.CONFIRMED or assignment.checked_in_at is not None:
        raise ServiceError("not_checkable", {"status": assignment.status})
    _refuse_before_start(assignment.shift, now)
    grace_ends = no_show_grace_ends(assignment.shift)
    if now < grace_ends and not early:
        raise ServiceError("no_show_too_early", {"allowed_at": grace_ends.isoformat()})
    _mark_no_show(assignment, actor=actor, reason=reason, now=now, early=now < grace_ends)
    return assignment


@retry_on_conflict
@transaction.atomic
def assignment_clear_no_show(*, assignment_id: int, actor, reason: str) -> Assignment:
    """Undo a no-show mark: the volunteer is confirmed again, not yet checked in."""
    reason = _require_reason(reason)
    assignment = _lock_assignment(assignment_id)
    if assignment.status != Status.NO_SHOW:
        raise ServiceError("not_checkable", {"status": assignment.status})
    _clear_no_show(assignment, actor=actor, reason=reason)
    return assignment


@retry_on_conflict
@transaction.atomic
def assignment_reopen(*, assignment_id: int, actor, reason: str) -> Assignment:
    """Undo a mistaken check-out (back to checked in, nothing credited) or no-show (back to
    confirmed, so the volunteer can check in), with a reason in the audit trail."""
    reason = _require_reason(reason)
    assignment = _lock_assignment(assignment_id)
    if assignment.status == Status.NO_SHOW:
        _clear_no_show(assignment, actor=actor, reason=reason)
        return assignment
    if assignment.status != Status.COMPLETED:
        raise ServiceError("not_checkable", {"status": assignment.status})
    before = snapshot(assignment)
    assignment.status = Status.CONFIRMED
    assignment.checked_out_at = None
    assignment.checkout_method = ""
    assignment.credited_minutes = None
    assignment.hours_status = Assignment.HoursStatus.NONE
    assignment.verified_by = None
    assignment.verified_at = None
    assignment.save()
    live.shift_attendance_add(assignment.shift, checked_out=-1)
    audit_record(
        action=Action.REOPENED,
        actor=actor,
        assignment=assignment,
        before=before,
        after=snapshot(assignment),
        reason=reason,
    )
    tallies.assignment_changed(assignment)
    return assignment


def _clear_no_show(assignment: Assignment, *, actor, reason: str) -> None:
    before = snapshot(assignment)
    assignment.status = Status.CONFIRMED
    assignment.no_show_at = None
    assignment.save(update_fields=["status", "no_show_at", "updated_at"])
    live.shift_attendance_add(assignment.shift, no_shows=-1)
    audit_record(
        action=Action.NO_SHOW_CLEARED,
        actor=actor,
        assignment=assignment,
        before=before,
        after=snapshot(assignment),
        reason=reason,
    )
    tallies.assignment_changed(assignment)


def no_show_sweep(*, now: datetime | None = None, batch: int = 500) -> int:
    """Mark confirmed volunteers not checked in ``NO_SHOW_AFTER`` past the start. Safe to run twice."""
    now = now or timezone.now()
    due_ids = list(
        Assignment.objects.filter(
            status=Status.CONFIRMED,
            checked_in_at__isnull=True,
            # ``no_show_grace_ends`` as a filter: the start at least NO_SHOW_AFTER ago.
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
    now = now or timezone.now()
    assignment = _lock_assignment(assignment_id)
    if assignment.status != Status.COMPLETED or assignment.hours_status != Assignment.HoursStatus.PENDING:
        raise ServiceError("hours_not_pending", {"hours_status": assignment.hours_status})
    _refuse_before_start(assignment.shift, now)
    _approve(assignment, actor=actor, now=now)
    return assignment


@retry_on_conflict
@transaction.atomic
def hours_approve_shift(*, shift_id: int, actor, now: datetime | None = None) -> list[Assignment]:
    """Approve every credited time of one shift still awaiting approval, each as ``hours_approve``
    does (its own audit entry, its tallies). All or none; the approved, in id order."""
    now = now or timezone.now()
    shift = Shift.objects.filter(pk=shift_id).first()
    if shift is None:
        raise ServiceError("not_found")
    _refuse_before_start(shift, now)
    pending = Assignment.objects.filter(
        shift_id=shift_id, status=Status.COMPLETED, hours_status=Assignment.HoursStatus.PENDING
    )
    # Locked, then read again: a row approved or adjusted meanwhile is no longer pending.
    locked = locks.assignments(pending.values_list("pk", flat=True))
    assignments = list(pending.filter(pk__in=locked).select_related("shift", "volunteer").order_by("pk"))
    if not assignments:
        raise ServiceError("hours_not_pending", {"shift": shift_id, "pending": 0})
    for assignment in assignments:
        _approve(assignment, actor=actor, now=now)
    return assignments


def _approve(assignment: Assignment, *, actor, now: datetime) -> None:
    before = snapshot(assignment)
    assignment.hours_status = Assignment.HoursStatus.APPROVED
    assignment.verified_by = actor
    assignment.verified_at = now
    assignment.save(update_fields=["hours_status", "verified_by", "verified_at", "updated_at"])
    audit_record(
        action=Action.HOURS_APPROVED, actor=actor, assignment=assignment, before=before, after=snapshot(assignment)
    )
    tallies.assignment_changed(assignment)


@retry_on_conflict
@transaction.atomic
def hours_adjust(
    *, assignment_id: int, actor, credited_minutes: int, reason: str, now: datetime | None = None
) -> Assignment:
    """Set the credited time by hand (approved at once); never more than the shift's length."""
    reason = _require_reason(reason)
    now = now or timezone.now()
    assignment = _lock_assignment(assignment_id)
    if assignment.status != Status.COMPLETED:
        raise ServiceError("not_checkable", {"status": assignment.status})
    _refuse_before_start(assignment.shift, now)
    limit = assignment.shift.duration_minutes
    if credited_minutes < 0 or credited_minutes > limit:
        raise ServiceError("hours_out_of_range", {"max_minutes": limit})
    before = snapshot(assignment)
    assignment.credited_minutes = credited_minutes
    assignment.hours_status = Assignment.HoursStatus.APPROVED
    assignment.verified_by = actor
    assignment.verified_at = now
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
