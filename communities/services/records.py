"""Records that stay current: staff edit the volunteers they manage, volunteers change what is
theirs and ask for the rest, staff approve or reject (issue 20).

Every write here is one transaction, checked before anything is written (``ServiceError`` leaves
the database as it was), and leaves one ``AuditEntry`` with the volunteer, who, when, and the
fields before and after. Contact details are written to the trail masked: the trail outlives an
account's deletion.

Scope: staff change volunteers of their organization subtree (``organization_subtree``), and may
move them only within it; a team leader reads their team and changes nothing; a volunteer changes
their own email, emergency contact and skills, their mobile by a code texted to the new number,
and asks for a renewed insurance or a new qualification (``ChangeRequest``), which staff decide.

A status change away from *active* makes every upcoming place one the volunteer may no longer
take; it is refused with ``volunteer_has_upcoming_shifts`` unless the caller asks to release them.
Then, as the account deletion does (``privacy.volunteer_anonymise``), the status is committed
first under the volunteer's lock (so no new place can appear), and the places are released after
(``signup.volunteer_places_release``: the waitlist is promoted and everyone told). A run stopped in
between is finished by asking again.

An edit that takes away what the eligibility rules read (insurance, a skill, a qualification) is
checked the same way against the same places: the rules (``communities_refusal``, through
``rules.eligibility.places_not_eligible``) are asked under the volunteer's lock before and after
the writes, and a place refused after and not before is one the edit takes away. Such an edit is
refused with the same ``volunteer_has_upcoming_shifts``, each place with the refusal's reason,
unless the caller asks to release them; then only those places are released, after the commit,
by the same ``volunteer_places_release``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from communities.models import Assignment, AuditEntry
from communities.rules.eligibility import places_not_eligible
from communities.services import locks
from communities.services.audit import audit_record
from config.db import retry_on_conflict
from config.errors import ServiceError
from volunteers.idcard import mask_mobile
from volunteers.models import (
    ChangeRequest,
    Qualification,
    QualificationType,
    Skill,
    Team,
    Volunteer,
    VolunteerCategory,
)
from volunteers.selectors import organization_subtree
from volunteers.services import (
    checked_email,
    checked_mobile,
    mobile_change_check,
    mobile_free_check,
    volunteer_mobile_set,
    volunteer_own_fields_write,
)

Status = Volunteer.Status
logger = logging.getLogger(__name__)

# --- Proof files ---------------------------------------------------------------------------

# The first bytes of each kind of file a proof may be; the name a stored proof gets follows what
# the bytes are, never what the upload says it is.
PROOF_SIGNATURES = (
    (b"\xff\xd8\xff", "jpg", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png", "image/png"),
    (b"%PDF-", "pdf", "application/pdf"),
)


def proof_kind(head: bytes) -> tuple[str, str] | None:
    """(extension, content type) of a file starting with ``head``, or None."""
    for signature, extension, content_type in PROOF_SIGNATURES:
        if head.startswith(signature):
            return extension, content_type
    return None


def proof_check(upload: UploadedFile) -> UploadedFile:
    """The upload, renamed for its real type; refused when too large or not a photo or PDF."""
    limit = settings.PROOF_MAX_BYTES
    if upload.size is None or upload.size > limit:
        raise ServiceError("proof_too_large", {"max_bytes": limit})
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    kind = proof_kind(head)
    if kind is None:
        raise ServiceError("proof_invalid", {"proof": [_("Upload a JPEG or PNG photo or a PDF file.")]})
    upload.name = f"proof.{kind[0]}"
    return upload


# --- Scope ---------------------------------------------------------------------------------


def staff_may_edit(user, volunteer: Volunteer) -> bool:
    """Superusers and staff whose subtree holds the volunteer's organization."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return organization_subtree(user).filter(pk=volunteer.organization_id).exists()


def _require_staff_of(user, volunteer: Volunteer) -> None:
    if not staff_may_edit(user, volunteer):
        raise ServiceError("not_found")


# --- What a change looks like in the audit trail ----------------------------------------------


def mask_email(value: str) -> str:
    local, _at, domain = (value or "").partition("@")
    if not domain:
        return "*" if value else ""
    return f"{local[:1]}***@{domain}"


def _plain(value):
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def mask_name(value: str) -> str:
    value = (value or "").strip()
    return value[:1] + "*" * max(len(value) - 1, 1) if value else ""


MASKED = {
    "mobile": mask_mobile,
    "emergency_contact_name": mask_name,
    "emergency_contact_mobile": lambda value: mask_mobile(value) if value else "",
    "email": mask_email,
}


def _trail(values: dict) -> dict:
    return {name: MASKED[name](value) if name in MASKED else _plain(value) for name, value in values.items()}


def _record(volunteer: Volunteer) -> dict:
    """Every field a record change may touch, as the trail keeps it."""
    return {
        "mobile": volunteer.mobile,
        "email": volunteer.user.email,
        "emergency_contact_name": volunteer.emergency_contact_name,
        "emergency_contact_mobile": volunteer.emergency_contact_mobile,
        "organization": volunteer.organization_id,
        "team": volunteer.team_id,
        "categories": sorted(volunteer.categories.values_list("code", flat=True)),
        "skills": sorted(volunteer.skills.values_list("code", flat=True)),
        "insurance_valid_until": volunteer.insurance_valid_until,
        "insurer": volunteer.insurer,
        "insurance_policy_number": volunteer.insurance_policy_number,
        "status": volunteer.status,
        "suspended_reason": volunteer.suspended_reason,
    }


def _diff(before: dict, after: dict) -> tuple[dict, dict]:
    changed = [name for name in after if before.get(name) != after[name]]
    return _trail({n: before.get(n) for n in changed}), _trail({n: after[n] for n in changed})


# --- Checking the values -------------------------------------------------------------------


def _invalid(field: str, message) -> ServiceError:
    return ServiceError("invalid", {field: [str(message)]})


def _by_codes(model, codes, field: str) -> list:
    codes = sorted(set(codes or []))
    found = list(model.objects.filter(code__in=codes).order_by("code"))
    unknown = sorted(set(codes) - {item.code for item in found})
    if unknown:
        raise _invalid(field, _("Unknown: %(codes)s") % {"codes": ", ".join(unknown)})
    return found


# --- Staff edit a volunteer ------------------------------------------------------------------

STAFF_FIELDS = frozenset(
    {
        "mobile",
        "email",
        "emergency_contact_name",
        "emergency_contact_mobile",
        "organization",
        "team",
        "categories",
        "skills",
        "insurance_valid_until",
        "insurer",
        "insurance_policy_number",
        "status",
        "suspended_reason",
    }
)


@dataclass
class RecordUpdate:
    volunteer: Volunteer
    changed: list[str]
    released: int = 0


def upcoming_places(volunteer_id: int, *, now: datetime | None = None):
    """The volunteer's confirmed and waitlisted places on shifts that have not started."""
    now = now or timezone.now()
    return (
        Assignment.objects.filter(
            volunteer_id=volunteer_id,
            status__in=(Assignment.Status.CONFIRMED, Assignment.Status.WAITLISTED),
            shift__starts_at__gt=now,
        )
        .select_related("shift__post__post_type", "shift__community")
        .order_by("shift__starts_at", "pk")
    )


def _places_details(places, reasons: dict[int, dict] | None) -> dict:
    shifts = []
    for place in places:
        shown = {
            "assignment": place.pk,
            "shift": place.shift_id,
            "status": place.status,
            "community": place.shift.community.display_name,
            "post": place.shift.post.post_type.display_name,
            "starts_at": place.shift.starts_at.isoformat(),
        }
        if reasons is not None:
            shown["not_eligible"] = reasons[place.pk]
        shifts.append(shown)
    return {
        "count": len(places),
        "because": "status" if reasons is None else "eligibility",
        "shifts": shifts,
        "release": [str(_("Send release_places=true to release them."))],
    }


def _places_refuse(volunteer_id: int, *, now: datetime, reasons: dict[int, dict] | None = None) -> None:
    """Refuse a change that takes the volunteer's upcoming places away (every one when ``reasons``
    is None, a status change; else the places of ``reasons``, an eligibility edit), listing them."""
    places = upcoming_places(volunteer_id, now=now)
    if reasons is not None:
        places = places.filter(pk__in=list(reasons))
    places = list(places)
    if places:
        raise ServiceError("volunteer_has_upcoming_shifts", _places_details(places, reasons))


# What the eligibility rules read from the record (besides the qualifications): an edit of one
# is checked against the volunteer's upcoming places.
ELIGIBILITY_FIELDS = frozenset({"insurance_valid_until", "skills"})


def _places_lost(volunteer_id: int, *, before: dict[int, dict], release_places: bool, now: datetime) -> list[int]:
    """After an edit's writes, under the volunteer's lock: the upcoming places the rules refuse now
    and did not refuse ``before``. Refused unless ``release_places``, as a status change is."""
    lost = {
        pk: details
        for pk, details in places_not_eligible(volunteer_id=volunteer_id, now=now).items()
        if pk not in before
    }
    if lost and not release_places:
        _places_refuse(volunteer_id, now=now, reasons=lost)
    return sorted(lost)


def _places_release(*, volunteer_id: int, everything: bool, lost: list[int], now: datetime) -> int:
    """After the edit committed: release every upcoming place (a status away from active) or the
    places it took away, as a cancellation does (waitlist promoted, everyone told)."""
    if not everything and not lost:
        return 0
    from communities.services.signup import volunteer_places_release

    return volunteer_places_release(volunteer_id=volunteer_id, now=now, assignment_ids=None if everything else lost)


def volunteer_record_update(
    *, actor, volunteer_id: int, changes: dict, release_places: bool = False, now: datetime | None = None
) -> RecordUpdate:
    """Apply ``changes`` (names from ``STAFF_FIELDS``; organization and team as ids or None,
    categories and skills as lists of codes) to a volunteer in the actor's scope."""
    unknown = sorted(set(changes) - STAFF_FIELDS)
    if unknown:
        raise ServiceError("invalid", {name: [str(_("This field cannot be changed here."))] for name in unknown})
    now = now or timezone.now()
    volunteer, changed, lost = _record_update_locked(
        actor=actor, volunteer_id=volunteer_id, changes=changes, release_places=release_places, now=now
    )
    released = _places_release(
        volunteer_id=volunteer.pk,
        everything=release_places and volunteer.status != Status.ACTIVE,
        lost=lost,
        now=now,
    )
    return RecordUpdate(volunteer=volunteer, changed=changed, released=released)


@retry_on_conflict
@transaction.atomic
def _record_update_locked(
    *, actor, volunteer_id: int, changes: dict, release_places: bool, now: datetime
) -> tuple[Volunteer, list[str], list[int]]:
    found = Volunteer.objects.filter(pk=volunteer_id).select_related("user").first()
    if found is None:
        raise ServiceError("not_found")
    _require_staff_of(actor, found)
    rekey = "mobile" in changes and changes["mobile"] != found.mobile
    volunteer = locks.volunteer_for_rekey(volunteer_id) if rekey else locks.volunteer(volunteer_id)
    volunteer = Volunteer.objects.select_related("user").get(pk=volunteer.pk)  # every column, under the lock
    if volunteer.anonymised_at is not None:
        raise ServiceError("volunteer_anonymised")
    before = _record(volunteer)
    refused_before = (
        places_not_eligible(volunteer_id=volunteer.pk, now=now) if ELIGIBILITY_FIELDS & set(changes) else None
    )
    scope = organization_subtree(actor)

    if "mobile" in changes:
        mobile = checked_mobile(changes["mobile"])
        if mobile != volunteer.mobile:
            mobile_free_check(mobile, volunteer=volunteer)
            volunteer_mobile_set(volunteer, mobile)
    if "email" in changes:
        volunteer.user.email = checked_email(changes["email"])
    if "emergency_contact_name" in changes:
        volunteer.emergency_contact_name = (changes["emergency_contact_name"] or "").strip()[:50]
    if "emergency_contact_mobile" in changes:
        value = (changes["emergency_contact_mobile"] or "").strip()
        volunteer.emergency_contact_mobile = checked_mobile(value, field="emergency_contact_mobile") if value else ""
    if "organization" in changes:
        organization = scope.filter(pk=changes["organization"]).first() if changes["organization"] else None
        if organization is None:
            raise ServiceError("out_of_scope", {"organization": [str(_("Choose an organization you manage."))]})
        volunteer.organization = organization
    if "team" in changes or "organization" in changes:
        team_id = changes.get("team", volunteer.team_id)
        team = None
        if team_id:
            team = Team.objects.filter(pk=team_id, organization__in=scope).first()
            if team is None:
                raise ServiceError("out_of_scope", {"team": [str(_("Choose a team you manage."))]})
        volunteer.team = team
    if "insurance_valid_until" in changes:
        volunteer.insurance_valid_until = changes["insurance_valid_until"]
    if "insurer" in changes:
        volunteer.insurer = (changes["insurer"] or "").strip()[:100]
    if "insurance_policy_number" in changes:
        volunteer.insurance_policy_number = (changes["insurance_policy_number"] or "").strip()[:64]
    if "status" in changes or "suspended_reason" in changes:
        _status_set(
            volunteer,
            status=changes.get("status", volunteer.status),
            reason=changes.get("suspended_reason", volunteer.suspended_reason),
            release_places=release_places,
            now=now,
        )
    categories = _by_codes(VolunteerCategory, changes["categories"], "categories") if "categories" in changes else None
    skills = _by_codes(Skill, changes["skills"], "skills") if "skills" in changes else None

    try:
        with transaction.atomic():  # the unique columns decide a race for the same new number
            volunteer.user.save(update_fields=["email", "username"])
            volunteer.save()
    except IntegrityError:
        raise ServiceError(
            "mobile_taken", {"mobile": [str(_("This mobile number belongs to another account."))]}
        ) from None
    if categories is not None:
        volunteer.categories.set(categories)
    if skills is not None:
        volunteer.skills.set(skills)
    lost = []
    if refused_before is not None and volunteer.status == Status.ACTIVE:
        # Away from active, the status check above already covers every place.
        lost = _places_lost(volunteer.pk, before=refused_before, release_places=release_places, now=now)
    after = _record(volunteer)
    old, new = _diff(before, after)
    if new:
        audit_record(
            action=AuditEntry.Action.VOLUNTEER_CHANGED,
            actor=actor,
            volunteer=volunteer,
            before=old,
            after=new,
            reason=volunteer.suspended_reason if "status" in new else "",
        )
    return volunteer, sorted(new), lost


def _status_set(volunteer: Volunteer, *, status: str, reason: str, release_places: bool, now: datetime) -> None:
    if status not in Status.values:
        raise _invalid("status", _("Not a status: %(status)s") % {"status": status})
    reason = (reason or "").strip()[:200]
    if status == Status.SUSPENDED and not reason:
        raise ServiceError("reason_required", {"suspended_reason": [str(_("Say why the volunteer is suspended."))]})
    if volunteer.status == Status.ACTIVE and status != Status.ACTIVE and not release_places:
        _places_refuse(volunteer.pk, now=now)
    volunteer.status = status
    volunteer.suspended_reason = reason if status == Status.SUSPENDED else ""
    if status == Status.RESERVE:
        # Back in the reserve: no longer deployed anywhere (the database holds this rule too).
        volunteer.deployed_community = None
        volunteer.deployed_at = None


# --- A volunteer changes their own record ----------------------------------------------------


def volunteer_own_update(
    *, user, changes: dict, release_places: bool = False, now: datetime | None = None
) -> RecordUpdate:
    """The volunteer's own email, emergency contact and skills (``volunteers.services.
    volunteer_own_fields_write`` writes them), as a staff edit: under the volunteer's lock, a skill
    removed is checked against their upcoming places (refused with ``volunteer_has_upcoming_shifts``
    unless ``release_places``; then those places are released after the commit), and the change is
    kept in the trail with the volunteer as its author."""
    now = now or timezone.now()
    volunteer, changed, lost = _own_update_locked(user=user, changes=changes, release_places=release_places, now=now)
    released = _places_release(volunteer_id=volunteer.pk, everything=False, lost=lost, now=now)
    return RecordUpdate(volunteer=volunteer, changed=changed, released=released)


@retry_on_conflict
@transaction.atomic
def _own_update_locked(
    *, user, changes: dict, release_places: bool, now: datetime
) -> tuple[Volunteer, list[str], list[int]]:
    volunteer_id = Volunteer.objects.filter(user_id=user.pk).values_list("pk", flat=True).first()
    if volunteer_id is None:
        raise ServiceError("not_a_volunteer")
    locks.volunteer(volunteer_id)
    volunteer = Volunteer.objects.select_related("user").get(pk=volunteer_id)  # every column, under the lock
    before = _record(volunteer)
    refused_before = (
        places_not_eligible(volunteer_id=volunteer_id, now=now) if ELIGIBILITY_FIELDS & set(changes) else None
    )
    volunteer = volunteer_own_fields_write(user=user, changes=changes)
    lost = []
    if refused_before is not None and volunteer.status == Status.ACTIVE:
        lost = _places_lost(volunteer_id, before=refused_before, release_places=release_places, now=now)
    old, new = _diff(before, _record(volunteer))
    if new:
        audit_record(action=AuditEntry.Action.VOLUNTEER_CHANGED, actor=user, volunteer=volunteer, before=old, after=new)
    return volunteer, sorted(new), lost


def mobile_change_confirm(*, user, mobile: str, code: str) -> Volunteer:
    """Move the volunteer to ``mobile`` if ``code`` is the one texted to it (checked first, outside
    any transaction: ``volunteers.services.mobile_change_check``), under the volunteer's lock, with
    the change in the trail, both numbers masked."""
    volunteer, mobile = mobile_change_check(user=user, mobile=mobile, code=code)
    volunteer, before = _mobile_change_locked(user=user, volunteer_id=volunteer.pk, mobile=mobile)
    logger.info("Volunteer %s changed mobile %s -> %s.", volunteer.pk, mask_mobile(before), mask_mobile(mobile))
    return volunteer


@retry_on_conflict
@transaction.atomic
def _mobile_change_locked(*, user, volunteer_id: int, mobile: str) -> tuple[Volunteer, str]:
    volunteer = locks.volunteer_for_rekey(volunteer_id)
    if volunteer.anonymised_at is not None:
        raise ServiceError("volunteer_anonymised")
    before = volunteer.mobile
    if mobile == before:
        return volunteer, before  # the same code confirmed twice at once: the first did it
    mobile_free_check(mobile, volunteer=volunteer)
    volunteer_mobile_set(volunteer, mobile)
    try:
        with transaction.atomic():  # the unique columns decide a race between two new owners
            volunteer.user.save(update_fields=["username"])
            volunteer.save(update_fields=["mobile", "updated_at"])
    except IntegrityError:
        raise ServiceError(
            "mobile_taken", {"mobile": [str(_("This mobile number belongs to another account."))]}
        ) from None
    audit_record(
        action=AuditEntry.Action.MOBILE_CHANGED,
        actor=user,
        volunteer=volunteer,
        before={"mobile": mask_mobile(before)},
        after={"mobile": mask_mobile(mobile)},
    )
    return volunteer, before


# --- Qualifications --------------------------------------------------------------------------


def _qualification_trail(qualification: Qualification | None) -> dict:
    if qualification is None:
        return {}
    return {
        "qualification": qualification.qualification_type.code,
        "certificate_number": qualification.certificate_number,
        "valid_until": _plain(qualification.valid_until),
        "proof": bool(qualification.proof),
    }


def _qualification_put(
    volunteer: Volunteer,
    *,
    qualification_type: QualificationType,
    valid_until: date | None,
    certificate_number: str,
    proof=None,
    proof_name: str = "",
) -> tuple[Qualification, dict]:
    existing = (
        Qualification.objects.select_related("qualification_type")
        .filter(volunteer=volunteer, qualification_type=qualification_type)
        .first()
    )
    before = _qualification_trail(existing)
    qualification = existing or Qualification(volunteer=volunteer, qualification_type=qualification_type)
    qualification.valid_until = valid_until
    qualification.certificate_number = (certificate_number or "").strip()[:64]
    if proof is not None:
        qualification.proof.save(proof.name, proof, save=False)
    elif proof_name:
        qualification.proof.name = proof_name
    qualification.save()
    return qualification, before


def qualification_record(
    *,
    actor,
    volunteer_id: int,
    qualification_type_code: str,
    valid_until: date | None,
    certificate_number: str = "",
    proof: UploadedFile | None = None,
    release_places: bool = False,
    now: datetime | None = None,
) -> Qualification:
    """Staff record a qualification (new, or renewed: one per type), with an optional proof.

    An end date earlier than the one on record can take upcoming places away: refused with
    ``volunteer_has_upcoming_shifts`` unless ``release_places``, as a removal is. The returned
    qualification's ``released_places`` says how many were released."""
    now = now or timezone.now()
    qualification, lost = _qualification_record_locked(
        actor=actor,
        volunteer_id=volunteer_id,
        qualification_type_code=qualification_type_code,
        valid_until=valid_until,
        certificate_number=certificate_number,
        proof=proof,
        release_places=release_places,
        now=now,
    )
    qualification.released_places = _places_release(volunteer_id=volunteer_id, everything=False, lost=lost, now=now)
    return qualification


@retry_on_conflict
@transaction.atomic
def _qualification_record_locked(
    *,
    actor,
    volunteer_id: int,
    qualification_type_code: str,
    valid_until: date | None,
    certificate_number: str,
    proof: UploadedFile | None,
    release_places: bool,
    now: datetime,
) -> tuple[Qualification, list[int]]:
    volunteer = Volunteer.objects.filter(pk=volunteer_id).first()
    if volunteer is None:
        raise ServiceError("not_found")
    _require_staff_of(actor, volunteer)
    qualification_type = QualificationType.objects.filter(code=qualification_type_code).first()
    if qualification_type is None:
        raise _invalid("qualification_type", _("Unknown: %(codes)s") % {"codes": qualification_type_code})
    if proof is not None:
        proof = proof_check(proof)
    volunteer = locks.volunteer(volunteer_id)
    refused_before = places_not_eligible(volunteer_id=volunteer_id, now=now)
    qualification, before = _qualification_put(
        volunteer,
        qualification_type=qualification_type,
        valid_until=valid_until,
        certificate_number=certificate_number,
        proof=proof,
    )
    try:
        lost = _places_lost(volunteer_id, before=refused_before, release_places=release_places, now=now)
    except ServiceError:
        if proof is not None:  # the row rolls back; the file just stored would be left behind
            qualification.proof.storage.delete(qualification.proof.name)
        raise
    audit_record(
        action=AuditEntry.Action.QUALIFICATION_CHANGED,
        actor=actor,
        volunteer=volunteer,
        before=before,
        after=_qualification_trail(qualification),
    )
    return qualification, lost


def qualification_remove(
    *, actor, volunteer_id: int, qualification_id: int, release_places: bool = False, now: datetime | None = None
) -> int:
    """Staff remove a qualification (it cannot be undone; the trail keeps what it was). Refused with
    ``volunteer_has_upcoming_shifts`` when the volunteer would lose upcoming places by it, unless
    ``release_places``; then those places are released after the removal committed. Returns how
    many were released."""
    now = now or timezone.now()
    lost = _qualification_remove_locked(
        actor=actor,
        volunteer_id=volunteer_id,
        qualification_id=qualification_id,
        release_places=release_places,
        now=now,
    )
    return _places_release(volunteer_id=volunteer_id, everything=False, lost=lost, now=now)


@retry_on_conflict
@transaction.atomic
def _qualification_remove_locked(
    *, actor, volunteer_id: int, qualification_id: int, release_places: bool, now: datetime
) -> list[int]:
    qualification = (
        Qualification.objects.select_related("qualification_type", "volunteer")
        .filter(pk=qualification_id, volunteer_id=volunteer_id)
        .first()
    )
    if qualification is None:
        raise ServiceError("not_found")
    _require_staff_of(actor, qualification.volunteer)
    volunteer = locks.volunteer(volunteer_id)
    if not Qualification.objects.filter(pk=qualification_id).exists():  # removed meanwhile
        raise ServiceError("not_found")
    refused_before = places_not_eligible(volunteer_id=volunteer_id, now=now)
    before = _qualification_trail(qualification)
    qualification.delete()
    lost = _places_lost(volunteer_id, before=refused_before, release_places=release_places, now=now)
    audit_record(action=AuditEntry.Action.QUALIFICATION_CHANGED, actor=actor, volunteer=volunteer, before=before)
    return lost


# --- Change requests ---------------------------------------------------------------------------


def _request_trail(request: ChangeRequest) -> dict:
    return {
        "request": request.pk,
        "kind": request.kind,
        "state": request.state,
        "qualification": request.qualification_type.code if request.qualification_type_id else None,
        "valid_until": _plain(request.valid_until),
    }


@transaction.atomic
def change_request_submit(
    *,
    user,
    kind: str,
    valid_until: date,
    proof: UploadedFile,
    qualification_type_code: str = "",
    certificate_number: str = "",
    insurer: str = "",
    policy_number: str = "",
    now: datetime | None = None,
) -> ChangeRequest:
    """A volunteer's renewed insurance or new qualification, with its proof, for staff to decide."""
    now = now or timezone.now()
    volunteer = Volunteer.objects.filter(user=user).first()
    if volunteer is None:
        raise ServiceError("not_a_volunteer")
    if volunteer.anonymised_at is not None:
        raise ServiceError("volunteer_anonymised")
    if kind not in ChangeRequest.Kind.values:
        raise _invalid("kind", _("Not a kind of request: %(kind)s") % {"kind": kind})
    if valid_until is None or valid_until < timezone.localdate(now):
        raise _invalid("valid_until", _("The proof must still be valid: give a date from today on."))
    qualification_type = None
    if kind == ChangeRequest.Kind.QUALIFICATION:
        qualification_type = QualificationType.objects.filter(code=qualification_type_code).first()
        if qualification_type is None:
            raise _invalid("qualification_type", _("Choose a qualification."))
    if proof is None:
        raise _invalid("proof", _("Attach a photo or a PDF of the proof."))
    proof = proof_check(proof)
    request = ChangeRequest(
        volunteer=volunteer,
        kind=kind,
        qualification_type=qualification_type,
        certificate_number=(certificate_number or "").strip()[:64],
        insurer=(insurer or "").strip()[:100],
        policy_number=(policy_number or "").strip()[:64],
        valid_until=valid_until,
        created_at=now,
    )
    request.proof.save(proof.name, proof, save=False)
    try:
        with transaction.atomic():
            request.save()
    except IntegrityError:
        request.proof.storage.delete(request.proof.name)
        raise ServiceError("change_request_pending") from None
    audit_record(
        action=AuditEntry.Action.CHANGE_REQUESTED, actor=user, volunteer=volunteer, after=_request_trail(request)
    )
    return request


def _decide(*, actor, request_id: int, state: str, reason: str, now: datetime) -> ChangeRequest:
    """Take the request from pending to ``state`` with one conditional update: of two staff
    deciding at once, one wins and the other is told it is decided."""
    request = (
        ChangeRequest.objects.select_related("volunteer__user", "qualification_type").filter(pk=request_id).first()
    )
    if request is None:
        raise ServiceError("not_found")
    _require_staff_of(actor, request.volunteer)
    taken = ChangeRequest.objects.filter(pk=request_id, state=ChangeRequest.State.PENDING).update(
        state=state, decided_at=now, decided_by=actor, reason=reason
    )
    if not taken:
        raise ServiceError("change_request_not_pending", {"state": request.state})
    request.state, request.decided_at, request.decided_by, request.reason = state, now, actor, reason
    return request


def change_request_approve(
    *, actor, request_id: int, release_places: bool = False, now: datetime | None = None
) -> ChangeRequest:
    """Approve: the insurance or qualification is written to the volunteer's record, the
    volunteer told.

    A date earlier than the one on record can take upcoming places away: refused with
    ``volunteer_has_upcoming_shifts`` (the request stays pending) unless ``release_places``, as a
    staff edit is. The returned request's ``released_places`` says how many were released."""
    now = now or timezone.now()
    request, lost = _change_request_approve_locked(
        actor=actor, request_id=request_id, release_places=release_places, now=now
    )
    request.released_places = _places_release(volunteer_id=request.volunteer_id, everything=False, lost=lost, now=now)
    return request


@retry_on_conflict
@transaction.atomic
def _change_request_approve_locked(
    *, actor, request_id: int, release_places: bool, now: datetime
) -> tuple[ChangeRequest, list[int]]:
    from communities.notifications import records as record_messages

    request = _decide(actor=actor, request_id=request_id, state=ChangeRequest.State.APPROVED, reason="", now=now)
    volunteer = locks.volunteer(request.volunteer_id)
    volunteer = Volunteer.objects.select_related("user").get(pk=volunteer.pk)
    refused_before = places_not_eligible(volunteer_id=volunteer.pk, now=now)
    if request.kind == ChangeRequest.Kind.INSURANCE:
        before = _trail(
            {
                "insurance_valid_until": volunteer.insurance_valid_until,
                "insurer": volunteer.insurer,
                "insurance_policy_number": volunteer.insurance_policy_number,
            }
        )
        volunteer.insurance_valid_until = request.valid_until
        if request.insurer:
            volunteer.insurer = request.insurer
        if request.policy_number:
            volunteer.insurance_policy_number = request.policy_number
        volunteer.save(update_fields=["insurance_valid_until", "insurer", "insurance_policy_number", "updated_at"])
        after = _trail(
            {
                "insurance_valid_until": volunteer.insurance_valid_until,
                "insurer": volunteer.insurer,
                "insurance_policy_number": volunteer.insurance_policy_number,
            }
        )
    else:
        qualification, before = _qualification_put(
            volunteer,
            qualification_type=request.qualification_type,
            valid_until=request.valid_until,
            certificate_number=request.certificate_number,
            proof_name=request.proof.name,
        )
        after = _qualification_trail(qualification)
    lost = _places_lost(volunteer.pk, before=refused_before, release_places=release_places, now=now)
    audit_record(
        action=AuditEntry.Action.CHANGE_APPROVED,
        actor=actor,
        volunteer=volunteer,
        before=before,
        after={**after, "request": request.pk},
    )
    record_messages.change_request_decided(request=request, now=now)
    return request, lost


@retry_on_conflict
@transaction.atomic
def change_request_reject(*, actor, request_id: int, reason: str, now: datetime | None = None) -> ChangeRequest:
    """Reject with a reason the volunteer reads."""
    from communities.notifications import records as record_messages

    now = now or timezone.now()
    reason = (reason or "").strip()[:200]
    if not reason:
        raise ServiceError("reason_required", {"reason": [str(_("Say why, so the volunteer can put it right."))]})
    request = _decide(actor=actor, request_id=request_id, state=ChangeRequest.State.REJECTED, reason=reason, now=now)
    audit_record(
        action=AuditEntry.Action.CHANGE_REJECTED,
        actor=actor,
        volunteer=request.volunteer,
        before={"request": request.pk, "state": ChangeRequest.State.PENDING},
        after={"request": request.pk, "state": request.state},
        reason=reason,
    )
    record_messages.change_request_decided(request=request, now=now)
    return request
