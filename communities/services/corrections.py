"""Reported errors in service records (《志愿服务记录与证明出具办法》: a volunteer who finds an
error or omission in their record may raise it; the organiser checks and corrects it, traceably).

A volunteer reports one of their own places on a shift that has started (attended, marked a
no-show, or held without a check-in) with a short note of what is wrong; one report per place is
open at a time (a partial unique index decides two at once). The community's coordinators are
told. In one step they correct the record through the tools that already keep it (check-in and
check-out by hand, adjusting hours: each audited, each under its rules) and answer
(``correction_correct``), or they answer only: corrected (put right elsewhere), with an optional
note, or declined, with a reason (``correction_answer``). The volunteer is told.
Each report and answer leaves an ``AuditEntry`` on the place.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from communities.models import Assignment, AuditEntry, RecordCorrection
from communities.notifications import corrections as messages
from communities.notifications import outbox
from communities.selectors.shifts import communities_managed_by
from communities.services import attendance, locks
from communities.services.audit import audit_record
from config.db import retry_on_conflict
from config.errors import ServiceError
from volunteers.models import Volunteer

Status = RecordCorrection.Status
# The places whose record a volunteer may question: those they held on a shift that has started.
REPORTABLE = (Assignment.Status.COMPLETED, Assignment.Status.NO_SHOW, Assignment.Status.CONFIRMED)
MAX_LENGTH = 300


def _text(value: str, *, field: str, required: bool) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ServiceError("invalid", {field: [_("This field is required.")]})
    if len(value) > MAX_LENGTH:
        raise ServiceError("invalid", {field: [_("At most %(max)s characters.") % {"max": MAX_LENGTH}]})
    return value


def report_refusal(assignment: Assignment, *, now: datetime) -> ServiceError | None:
    """Why the record of ``assignment`` may not be reported now, or None: the one rule, which the
    report page also asks before it offers its form."""
    if assignment.status not in REPORTABLE:
        return ServiceError("correction_not_applicable", {"status": assignment.status})
    if now < assignment.shift.starts_at:
        return ServiceError("shift_not_started", {"starts_at": assignment.shift.starts_at.isoformat()})
    return None


@transaction.atomic
def correction_report(*, user, assignment_id: int, message: str, now: datetime | None = None) -> RecordCorrection:
    """A volunteer reports an error in the record of one of their places."""
    message = _text(message, field="message", required=True)
    now = now or timezone.now()
    volunteer = Volunteer.objects.filter(user_id=user.pk).only("pk").first()
    if volunteer is None:
        raise ServiceError("not_a_volunteer")
    assignment = (
        Assignment.objects.select_related("shift__community", "shift__post", "volunteer")
        .filter(pk=assignment_id, volunteer=volunteer)
        .first()
    )
    if assignment is None:
        raise ServiceError("not_found")
    refusal = report_refusal(assignment, now=now)
    if refusal is not None:
        raise refusal
    try:
        with transaction.atomic():
            correction = RecordCorrection.objects.create(assignment=assignment, message=message, created_at=now)
    except IntegrityError:
        raise ServiceError("correction_pending") from None
    audit_record(
        action=AuditEntry.Action.CORRECTION_REPORTED,
        actor=user,
        assignment=assignment,
        after={"correction": correction.pk},  # the words stay on the report, which an account's deletion removes
    )
    community_id = assignment.shift.community_id
    messages.correction_reported(
        correction=correction, coordinators=outbox._coordinators_of({community_id})[community_id], now=now
    )
    return correction


def _open(actor, correction_id: int) -> RecordCorrection:
    """The report, locked, if ``actor`` coordinates its community (else ``not_found``) and it is open."""
    correction = locks.record_correction(correction_id, communities=communities_managed_by(actor))
    if correction.status != Status.PENDING:
        raise ServiceError("correction_not_pending", {"status": correction.status})
    return correction


@retry_on_conflict
@transaction.atomic
def correction_answer(
    *, actor, correction_id: int, corrected: bool, answer: str = "", now: datetime | None = None
) -> RecordCorrection:
    """A coordinator of the place's community answers a report: corrected (after correcting the
    record with the usual tools), or declined with a reason. Others get ``not_found``."""
    answer = _text(answer, field="answer", required=not corrected)
    now = now or timezone.now()
    return _answer(_open(actor, correction_id), actor=actor, corrected=corrected, answer=answer, now=now)


@retry_on_conflict
@transaction.atomic
def correction_correct(
    *,
    actor,
    correction_id: int,
    answer: str = "",
    attended: tuple[datetime, datetime] | None = None,
    credited_minutes: int | None = None,
    now: datetime | None = None,
) -> RecordCorrection:
    """Correct the record as reported and answer, in one step and one transaction, through the
    tools that keep attendance: a place not attended on the record gets the check-in (by hand, if
    it has none) and the check-out at the times ``attended``; an attended place gets its credited
    time (``hours_adjust``). A step the attendance rules refuse refuses the whole and changes nothing."""
    answer = _text(answer, field="answer", required=False)
    now = now or timezone.now()
    correction = _open(actor, correction_id)
    place = correction.assignment
    reason = answer or _("Corrected on the volunteer's report")
    if place.status == Assignment.Status.COMPLETED:
        if credited_minutes is None:
            raise ServiceError("invalid", {"credited_minutes": [_("This field is required.")]})
        attendance.hours_adjust(
            assignment_id=place.pk, actor=actor, credited_minutes=credited_minutes, reason=reason, now=now
        )
    else:
        if attended is None:
            raise ServiceError("invalid", {"attended": [_("This field is required.")]})
        start, end = attended
        if place.checked_in_at is None:
            attendance.assignment_check_in_manual(assignment_id=place.pk, actor=actor, reason=reason, at=start, now=now)
        attendance.assignment_check_out_manual(assignment_id=place.pk, actor=actor, reason=reason, at=end, now=now)
    return _answer(correction, actor=actor, corrected=True, answer=answer, now=now)


def _answer(correction: RecordCorrection, *, actor, corrected: bool, answer: str, now: datetime) -> RecordCorrection:
    correction.status = Status.CORRECTED if corrected else Status.DECLINED
    correction.answer, correction.answered_by, correction.answered_at = answer, actor, now
    correction.save(update_fields=["status", "answer", "answered_by", "answered_at"])
    audit_record(
        action=AuditEntry.Action.CORRECTION_DECIDED,
        actor=actor,
        assignment=correction.assignment,
        before={"correction": correction.pk, "status": Status.PENDING},
        after={"correction": correction.pk, "status": correction.status},
        reason=answer,
    )
    messages.correction_answered(correction=correction, now=now)
    return correction
