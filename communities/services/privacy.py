"""Services for a volunteer's personal data (PIPL): showing the full ID number, exporting
everything held about a volunteer, and anonymising a volunteer who asks to be deleted.

Every display of a full ID number writes a ``PersonalDataAccess`` row, whoever asked and why.
Answers to recruitment calls that did not make a volunteer lose their personal data
``APPLICATION_RETENTION_DAYS`` after the decision (``applications_retention_sweep``).
Anonymising keeps the volunteer row and everything hanging off it that counts (assignments with
their credited minutes, tallies, certificates), and removes or replaces everything that says who
the person was. See docs/privacy.md.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from communities.models import Assignment, AuditEntry, Notification, RecordCorrection
from communities.selectors.people import volunteer_credited_minutes
from communities.services import locks
from communities.services.signup import volunteer_places_release
from config.db import retry_on_conflict
from config.errors import ServiceError
from config.logging import redact
from volunteers import crypto
from volunteers.auth import normalise_username
from volunteers.models import (
    CallApplication,
    LoginFailure,
    RecruitmentCall,
    Team,
    Volunteer,
    new_calendar_token,
    private_storage,
)
from volunteers.selectors import star_level
from volunteers.services import may_see_id_number, user_api_tokens_revoke, volunteer_id_number_reveal

logger = logging.getLogger(__name__)

ANONYMISED_NAME = "已注销志愿者"
ANONYMISED_APPLICANT_NAME = "已删除的报名者"
ANONYMISED_ID_MASK = "已注销"


def anonymised_mobile(volunteer_id: int) -> str:
    """``10`` + the volunteer's (or the application's) id in nine digits: unique, 11 characters,
    and never a real number.

    Mainland mobile numbers start with 13–19, so this can neither be dialled nor collide with a
    real volunteer's number, and ``validate_mobile`` refuses it if it is ever fed back in.
    """
    if volunteer_id >= 10**9:
        raise ValueError("volunteer id too large for the anonymised mobile scheme")
    return f"10{volunteer_id:09d}"


def _iso(value):
    if isinstance(value, datetime):
        value = timezone.localtime(value)
    return value.isoformat() if value is not None else None


def _named(obj):
    return {"code": getattr(obj, "code", None), "name": obj.name} if obj is not None else None


def volunteer_data_export(*, actor, volunteer: Volunteer) -> dict:
    """Everything held about the volunteer, as JSON-ready data (the full ID number is recorded)."""
    id_number = volunteer_id_number_reveal(actor=actor, volunteer=volunteer, purpose="data_export")
    volunteer = (
        Volunteer.objects.select_related("user", "organization", "team", "deployed_community")
        .prefetch_related("skills", "categories")
        .get(pk=volunteer.pk)
    )
    user = volunteer.user
    minutes = volunteer_credited_minutes(volunteer)
    assignments = (
        Assignment.objects.filter(volunteer=volunteer)
        .select_related("shift__post__post_type", "shift__community")
        .order_by("shift__starts_at", "id")
    )
    return {
        "exported_at": _iso(timezone.now()),
        "account": {
            "username": user.get_username(),
            "email": user.email,
            "date_joined": _iso(user.date_joined),
            "last_login": _iso(user.last_login),
        },
        "profile": {
            "volunteer_number": volunteer.volunteer_number,
            "real_name": volunteer.real_name,
            "gender": volunteer.gender,
            "birth_date": _iso(volunteer.birth_date),
            "mobile": volunteer.mobile,
            "id_type": volunteer.id_type,
            "id_number": id_number,
            "organization": _named(volunteer.organization),
            "team": {"name": volunteer.team.name} if volunteer.team else None,
            "political_status": volunteer.political_status,
            "categories": [_named(c) for c in volunteer.categories.all()],
            "skills": [_named(s) for s in volunteer.skills.all()],
            "insurance_valid_until": _iso(volunteer.insurance_valid_until),
            "guardian_consent": volunteer.guardian_consent,
            "status": volunteer.status,
            "deployed_community": _named(volunteer.deployed_community),
            "deployed_at": _iso(volunteer.deployed_at),
            "registered_at": _iso(volunteer.created_at),
            "notify_by_sms": volunteer.notify_by_sms,
            "notify_by_email": volunteer.notify_by_email,
            "message_language": volunteer.message_language,
        },
        "qualifications": [
            {
                "qualification": _named(q.qualification_type),
                "certificate_number": q.certificate_number,
                "valid_until": _iso(q.valid_until),
            }
            for q in volunteer.qualifications.select_related("qualification_type").order_by("qualification_type__code")
        ],
        "assignments": [
            {
                "id": a.pk,
                "status": a.status,
                "source": a.source,
                "shift": {
                    "id": a.shift_id,
                    "community": _named(a.shift.community),
                    "post": a.shift.post.name,
                    "post_type": _named(a.shift.post.post_type),
                    "starts_at": _iso(a.shift.starts_at),
                    "ends_at": _iso(a.shift.ends_at),
                },
                "created_at": _iso(a.created_at),
                "confirmed_at": _iso(a.confirmed_at),
                "cancelled_at": _iso(a.cancelled_at),
                "checked_in_at": _iso(a.checked_in_at),
                "checked_out_at": _iso(a.checked_out_at),
                "no_show_at": _iso(a.no_show_at),
                "credited_minutes": a.credited_minutes,
                "hours_status": a.hours_status,
            }
            for a in assignments
        ],
        "record_corrections": [
            {
                "assignment": c.assignment_id,
                "message": c.message,
                "status": c.status,
                "answer": c.answer,
                "created_at": _iso(c.created_at),
                "answered_at": _iso(c.answered_at),
            }
            for c in RecordCorrection.objects.filter(assignment__volunteer=volunteer).order_by("created_at", "id")
        ],
        "service_totals": {"credited_minutes": minutes, "star_level": star_level(minutes / 60)},
        "notifications": [
            {
                "kind": n.kind,
                "channel": n.channel,
                "subject": n.subject,
                "body": n.body,
                "state": n.state,
                "created_at": _iso(n.created_at),
                "sent_at": _iso(n.sent_at),
                "read_at": _iso(n.read_at),
            }
            for n in Notification.objects.filter(recipient=user).order_by("created_at", "id")
        ],
        "certificates": [
            {
                "number": c.number,
                "issuer": _named(c.issuer),
                "period_start": _iso(c.period_start),
                "period_end": _iso(c.period_end),
                "total_minutes": c.total_minutes,
                "issued_at": _iso(c.issued_at),
                "content": c.content,
            }
            for c in volunteer.certificates.select_related("issuer").order_by("issued_at", "id")
        ],
        "id_number_views": [
            {"at": _iso(a.created_at), "purpose": a.purpose, "by_self": a.actor_id == user.pk}
            for a in volunteer.data_accesses.order_by("created_at", "id")
        ],
    }


def volunteer_anonymise(*, volunteer: Volunteer, actor) -> Volunteer:
    """Delete the person, keep the record: what they did still counts, nobody can tell who they were.

    In three steps, each its own transaction:

    1. under the volunteer's lock, suspend them: every place-taking path (a sign-up, in Python or
       in the database function, a coordinator's assignment even with an override, a promotion)
       locks the volunteer and refuses a suspended one, so once this commits no new place appears;
    2. release every upcoming place (freeing them for the waitlist; the cancellation notices are
       deleted with the rest of the inbox before anything is sent);
    3. rewrite the volunteer and their account in place.

    Releasing places before suspending would let a sign-up land between the two (it did: places
    held by deleted accounts). Running it again changes nothing; a run stopped after step 1 is
    finished by the next.
    """
    if not may_see_id_number(actor, volunteer):
        raise ServiceError("permission_denied")
    now = timezone.now()
    if not _suspend_for_deletion(volunteer.pk):
        return Volunteer.objects.get(pk=volunteer.pk)
    volunteer_places_release(volunteer_id=volunteer.pk, now=now)
    volunteer = _scrub_locked(volunteer.pk, now)
    logger.info("Volunteer %s anonymised at their request.", volunteer.pk)
    return volunteer


@retry_on_conflict
@transaction.atomic
def _suspend_for_deletion(volunteer_id: int) -> bool:
    """Step 1: suspend the volunteer under their lock; False if they are anonymised already."""
    volunteer = locks.volunteer(volunteer_id)
    if volunteer.anonymised_at is not None:
        return False
    Volunteer.objects.filter(pk=volunteer_id).update(status=Volunteer.Status.SUSPENDED, updated_at=timezone.now())
    return True


@retry_on_conflict
@transaction.atomic
def _scrub_locked(volunteer_id: int, now) -> Volunteer:
    """Step 3: rewrite the volunteer (unique columns change, so the full row lock)."""
    volunteer = locks.volunteer_for_rekey(volunteer_id)
    if volunteer.anonymised_at is None:
        _scrub(volunteer, now)
    return volunteer


def _forget_id_number(record, token: str) -> None:
    """Replace the ID number of a ``Volunteer`` or a ``CallApplication`` (encrypted, keyed hash,
    masked copy) by a random one nobody holds: the unique constraints still hold, nothing matches it."""
    record.id_number_encrypted = crypto.encrypt(token)
    record.id_number_hash = crypto.blind_index(f"anonymised:{token}")
    record.id_number_masked = ANONYMISED_ID_MASK


def birth_year_only(birth_date):
    """The birth year stays for age-band statistics; the day would help identify the person."""
    return birth_date.replace(month=1, day=1)


def _scrub(volunteer: Volunteer, now) -> None:
    user = volunteer.user
    former_names = {normalise_username(user.get_username()), normalise_username(volunteer.mobile)}
    token = secrets.token_urlsafe(24)

    volunteer.real_name = ANONYMISED_NAME
    volunteer.mobile = anonymised_mobile(volunteer.pk)
    _forget_id_number(volunteer, token)
    volunteer.birth_date = birth_year_only(volunteer.birth_date)
    volunteer.insurance_valid_until = None
    volunteer.guardian_consent = False
    volunteer.status = Volunteer.Status.SUSPENDED
    volunteer.deployed_community = None
    volunteer.deployed_at = None
    volunteer.calendar_token = new_calendar_token()
    volunteer.notify_by_sms = volunteer.notify_by_email = False
    volunteer.anonymised_at = now
    volunteer.save()
    volunteer.skills.clear()
    # Proof files go with the records that name them, after the commit (a rollback keeps both).
    proofs = [q.proof.name for q in volunteer.qualifications.all() if q.proof]
    proofs += [r.proof.name for r in volunteer.change_requests.all() if r.proof]
    volunteer.qualifications.all().delete()
    volunteer.change_requests.all().delete()
    # The person's own words about their record, and the coordinators' messages that quote them;
    # the trail keeps that a report was made and answered.
    reports = list(RecordCorrection.objects.filter(assignment__volunteer=volunteer).values_list("pk", flat=True))
    if reports:
        copies = Q()
        for report in reports:
            copies |= Q(key__startswith=f"c{report}:")
        Notification.objects.filter(copies).delete()
    RecordCorrection.objects.filter(pk__in=reports).delete()
    if proofs:
        storage = private_storage()
        transaction.on_commit(lambda: [storage.delete(name) for name in sorted(set(proofs))])
    volunteer.emergency_contact_name = volunteer.emergency_contact_mobile = ""
    volunteer.insurer = volunteer.insurance_policy_number = volunteer.suspended_reason = ""
    volunteer.save(
        update_fields=[
            "emergency_contact_name",
            "emergency_contact_mobile",
            "insurer",
            "insurance_policy_number",
            "suspended_reason",
        ]
    )
    Team.objects.filter(leader=volunteer).update(leader=None)

    user.username = f"deleted-{secrets.token_hex(8)}"
    user.first_name = user.last_name = user.email = ""
    user.is_active = user.is_staff = False
    user.set_unusable_password()
    user.save()
    user_api_tokens_revoke(user=user)
    Notification.objects.filter(recipient=user).delete()
    LoginFailure.objects.filter(username__in=former_names).delete()


# --- Retention of answers to recruitment calls (docs/recruitment.md, "Retention") -----------------

Application = CallApplication.Status


def applications_due_for_anonymising(*, now: datetime) -> Q:
    """Answers that did not make a volunteer, decided more than ``APPLICATION_RETENTION_DAYS``
    ago: rejected then, or never reviewed on a call closed (or past its deadline) then. Approved
    ones belong to volunteers, whose record is theirs to keep or delete."""
    cutoff = now - timedelta(days=settings.APPLICATION_RETENTION_DAYS)
    closed = Q(call__status=RecruitmentCall.Status.CLOSED, call__closed_at__lt=cutoff) | Q(call__deadline__lt=cutoff)
    return Q(anonymised_at__isnull=True) & (
        Q(status=Application.REJECTED, reviewed_at__lt=cutoff)
        | Q(status=Application.LAPSED)
        | (Q(status=Application.PENDING) & closed)
    )


def applications_retention_sweep(*, now: datetime | None = None, batch: int = 500) -> int:
    """Delete the personal data of every answer due (``applications_due_for_anonymising``);
    return how many. Idempotent: an anonymised answer is never due again.

    Each answer in its own transaction, claimed by a conditional UPDATE (a pending one becomes
    ``lapsed`` in the same statement), so a reviewer approving it at the same moment either
    finds it ``lapsed`` (``application_not_pending``) or approves it first and the sweep skips it.
    Kept: the call, the agreement version accepted, status, decision and reviewer, the birth
    year, gender, organisation, team, political status, categories, skills, declared
    qualifications and district of residence (what the statistics count); an audit entry records
    each run over an answer."""
    now = now or timezone.now()
    done = 0
    while True:
        due = list(
            CallApplication.objects.filter(applications_due_for_anonymising(now=now))
            .order_by("pk")
            .values_list("pk", flat=True)[:batch]
        )
        if not due:
            return done
        for application_id in due:
            done += _application_anonymise(application_id, now=now)


@transaction.atomic
def _application_anonymise(application_id: int, *, now: datetime) -> int:
    status = (
        CallApplication.objects.filter(applications_due_for_anonymising(now=now), pk=application_id)
        .values_list("status", flat=True)
        .first()
    )
    if status is None:
        return 0
    # The claim filters on the row's own columns only: PostgreSQL checks those again on the row
    # a concurrent review committed (a condition through a join or subquery it would not).
    claimed = CallApplication.objects.filter(pk=application_id, status=status, anonymised_at__isnull=True).update(
        status=Application.LAPSED if status == Application.PENDING else status, anonymised_at=now
    )
    if not claimed:
        return 0  # reviewed, or anonymised, a moment ago
    application = CallApplication.objects.get(pk=application_id)
    application.real_name = ANONYMISED_APPLICANT_NAME
    application.mobile = anonymised_mobile(application.pk)
    _forget_id_number(application, secrets.token_urlsafe(24))
    application.birth_date = birth_year_only(application.birth_date)
    application.residence_street = application.residence_community = None
    application.emergency_contact_name = application.emergency_contact_mobile = ""
    application.guardian_name = application.guardian_mobile = ""
    # The decision stays; a number a reviewer typed into its reason goes, as the logs mask it.
    application.reject_reason = redact(application.reject_reason)
    # The existing volunteer an answer recognised keeps their own record; the link would name them.
    application.volunteer = None
    application.save()
    AuditEntry.objects.create(
        action=AuditEntry.Action.APPLICATION_ANONYMISED,
        actor=None,
        after={"application": application.pk, "call": application.call_id, "status": application.status},
        reason=f"retention {settings.APPLICATION_RETENTION_DAYS} days",
    )
    return 1
