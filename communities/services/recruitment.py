"""Recruitment calls (招募令) and registration: staff publish a call, a person answers it with a
texted code, staff approve or reject. The design is in docs/recruitment.md.

Rules kept here and nowhere else:

- who may answer a call (``application_eligibility_errors``): age range, categories, skills,
  qualifications, and a guardian's consent under ``RULES["MINOR_AGE"]``;
- who the person is (``_known_volunteer``): an existing volunteer is recognised by mobile number
  and ID number together; a number or an ID number that belongs to someone else is answered with
  ``contact_staff`` alone, the same answer whatever the reason, so nothing is learnt about the
  other account;
- a review happens once: approval and rejection move a ``pending`` application by a conditional
  ``UPDATE … WHERE status = 'pending'``, so two reviewers (or a double click) cannot both act.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from communities.models import Community, District, Street
from communities.notifications import outbox
from config.errors import ServiceError
from volunteers import crypto, login_codes
from volunteers.idcard import (
    age_on,
    id_birth_date,
    id_gender,
    normalize_id_number,
    validate_id_number,
    validate_mobile,
)
from volunteers.models import (
    CallAgreement,
    CallApplication,
    Organization,
    Qualification,
    QualificationType,
    RecruitmentCall,
    Skill,
    StaffContact,
    Team,
    Volunteer,
    VolunteerCategory,
)
from volunteers.selectors import organization_subtree
from volunteers.services import volunteer_create

Status = CallApplication.Status

# --- Calls ----------------------------------------------------------------------------------


def _invalid(field_name: str, message) -> ServiceError:
    return ServiceError("invalid", details={field_name: [str(message)]})


def _require_scope(actor, organization: Organization) -> None:
    if not organization_subtree(actor).filter(pk=organization.pk).exists():
        raise ServiceError("permission_denied")


def _call_in_scope(actor, call_id: int) -> RecruitmentCall:
    call = RecruitmentCall.objects.filter(pk=call_id, organization__in=organization_subtree(actor)).first()
    if call is None:
        raise ServiceError("not_found")
    return call


def _check_call_fields(values: dict) -> None:
    if values.get("target_count") is not None and values["target_count"] < 1:
        raise _invalid("target_count", _("The target must be at least one volunteer."))
    low, high = values.get("min_age"), values.get("max_age")
    if low is not None and high is not None and low > high:
        raise _invalid("max_age", _("The maximum age is below the minimum age."))
    if not (values.get("title") or "").strip():
        raise _invalid("title", _("This field is required."))
    if not (values.get("agreement_text") or "").strip():
        raise _invalid("agreement_text", _("This field is required."))


CALL_FIELDS = ("title", "text", "target_count", "deadline", "min_age", "max_age", "approval_required")
CALL_SETS = ("categories", "required_skills", "required_qualifications")


@transaction.atomic
def call_create(
    *,
    actor,
    organization: Organization,
    title: str,
    text: str,
    target_count: int,
    deadline: datetime,
    agreement_text: str,
    min_age: int | None = None,
    max_age: int | None = None,
    approval_required: bool = True,
    categories=(),
    required_skills=(),
    required_qualifications=(),
) -> RecruitmentCall:
    """A new call, as a draft, with version 1 of its agreement."""
    _require_scope(actor, organization)
    values = locals()
    _check_call_fields(values)
    call = RecruitmentCall.objects.create(
        organization=organization, created_by=actor, **{name: values[name] for name in CALL_FIELDS}
    )
    for name in CALL_SETS:
        getattr(call, name).set(values[name])
    CallAgreement.objects.create(call=call, version=1, text=agreement_text.strip(), created_by=actor)
    return call


def call_agreement_current(call: RecruitmentCall) -> CallAgreement:
    return call.agreements.order_by("-version").first()


@transaction.atomic
def call_update(*, actor, call_id: int, **changes) -> RecruitmentCall:
    """Change a call (its organisation too, within the actor's scope). A new agreement text is a
    new version; applications keep the version they accepted."""
    call = _call_in_scope(actor, call_id)
    unknown = set(changes) - {*CALL_FIELDS, *CALL_SETS, "organization", "agreement_text"}
    if unknown:
        raise _invalid(sorted(unknown)[0], _("This field cannot be changed."))
    if "organization" in changes:
        _require_scope(actor, changes["organization"])
        call.organization = changes["organization"]
    current = call_agreement_current(call)
    values = {name: getattr(call, name) for name in CALL_FIELDS} | {"agreement_text": current.text}
    values.update({name: value for name, value in changes.items() if name not in CALL_SETS})
    _check_call_fields(values)
    for name in CALL_FIELDS:
        setattr(call, name, values[name])
    call.save()
    for name in CALL_SETS:
        if name in changes:
            getattr(call, name).set(changes[name])
    new_text = (changes.get("agreement_text") or "").strip()
    if new_text and new_text != current.text:
        # Two editors at once: the unique (call, version) makes the second one fail, not overwrite.
        CallAgreement.objects.create(call=call, version=current.version + 1, text=new_text, created_by=actor)
    return call


def call_publish(*, actor, call_id: int, now: datetime | None = None) -> RecruitmentCall:
    call = _call_in_scope(actor, call_id)
    now = now or timezone.now()
    if call.deadline <= now:
        raise _invalid("deadline", _("The deadline has passed; set a later one before publishing."))
    if not RecruitmentCall.objects.filter(pk=call.pk, status=RecruitmentCall.Status.DRAFT).update(
        status=RecruitmentCall.Status.PUBLISHED, published_at=now
    ):
        raise ServiceError("call_status_conflict")
    call.refresh_from_db()
    return call


def call_close(*, actor, call_id: int, now: datetime | None = None) -> RecruitmentCall:
    call = _call_in_scope(actor, call_id)
    if not RecruitmentCall.objects.filter(pk=call.pk, status=RecruitmentCall.Status.PUBLISHED).update(
        status=RecruitmentCall.Status.CLOSED, closed_at=now or timezone.now()
    ):
        raise ServiceError("call_status_conflict")
    call.refresh_from_db()
    return call


# --- Answering a call -----------------------------------------------------------------------


def open_call(slug: str, now: datetime | None = None) -> RecruitmentCall:
    """The published call behind a public link; ``not_found`` for drafts and unknown codes,
    ``call_closed`` after the deadline or once closed."""
    call = (
        RecruitmentCall.objects.select_related("organization")
        .filter(slug=slug, status__in=[RecruitmentCall.Status.PUBLISHED, RecruitmentCall.Status.CLOSED])
        .first()
    )
    if call is None:
        raise ServiceError("not_found")
    if not call.is_open(now):
        raise ServiceError("call_closed")
    return call


def call_code_request(*, slug: str, mobile: str, ip: str | None) -> int:
    """Text a code to the number of someone about to answer an open call."""
    open_call(slug)
    return login_codes.mobile_code_request(mobile=mobile, ip=ip)


@dataclass
class ApplicationForm:
    """What a person answering a call gives (ids, as a form or the API delivers them)."""

    mobile: str
    real_name: str
    id_number: str
    organization_id: int | None
    emergency_contact_name: str
    emergency_contact_mobile: str
    agreement_version: int
    accepts_agreement: bool
    team_id: int | None = None
    political_status: str = Volunteer.PoliticalStatus.MASSES
    category_ids: list[int] = field(default_factory=list)
    skill_ids: list[int] = field(default_factory=list)
    qualification_ids: list[int] = field(default_factory=list)
    residence_district_id: int | None = None
    residence_street_id: int | None = None
    residence_community_id: int | None = None
    guardian_name: str = ""
    guardian_mobile: str = ""
    guardian_consent: bool = False

    @classmethod
    def from_data(cls, data: dict) -> ApplicationForm:
        """From an answer as the API's serializer or the page's form cleans it (field names alike)."""
        return cls(
            mobile=data["mobile"],
            real_name=data.get("real_name") or "",
            id_number=data.get("id_number") or "",
            organization_id=data.get("organization"),
            team_id=data.get("team"),
            political_status=data.get("political_status") or Volunteer.PoliticalStatus.MASSES,
            category_ids=list(data.get("categories") or []),
            skill_ids=list(data.get("skills") or []),
            qualification_ids=list(data.get("qualifications") or []),
            residence_district_id=data.get("residence_district"),
            residence_street_id=data.get("residence_street"),
            residence_community_id=data.get("residence_community"),
            emergency_contact_name=data.get("emergency_contact_name") or "",
            emergency_contact_mobile=data.get("emergency_contact_mobile") or "",
            guardian_name=data.get("guardian_name") or "",
            guardian_mobile=data.get("guardian_mobile") or "",
            guardian_consent=bool(data.get("guardian_consent")),
            agreement_version=data["agreement_version"],
            accepts_agreement=bool(data.get("accepts_agreement")),
        )


def application_eligibility_errors(
    call: RecruitmentCall, *, birth_date, category_ids, skill_ids, qualification_ids, today=None
) -> dict[str, list[str]]:
    """Why this person may not answer ``call`` (field → messages); empty when they may."""
    today = today or timezone.localdate()
    errors: dict[str, list[str]] = {}
    age = age_on(birth_date, today)
    lowest = max(call.min_age or 0, settings.RULES["MIN_VOLUNTEER_AGE"])
    if age < lowest or (call.max_age is not None and age > call.max_age):
        if call.max_age is not None:
            message = _("This call is for people aged %(low)s to %(high)s.") % {"low": lowest, "high": call.max_age}
        else:
            message = _("This call is for people aged %(low)s or over.") % {"low": lowest}
        errors["id_number"] = [str(message)]
    wanted = {category.pk for category in call.categories.all()}
    if wanted and not wanted & set(category_ids):
        errors["categories"] = [str(_("Choose at least one of the categories this call is for."))]
    missing_skills = {skill.pk for skill in call.required_skills.all()} - set(skill_ids)
    if missing_skills:
        errors["skills"] = [str(_("This call needs every skill it lists."))]
    missing = {qualification.pk for qualification in call.required_qualifications.all()} - set(qualification_ids)
    if missing:
        errors["qualifications"] = [str(_("This call needs every qualification it lists."))]
    return errors


def _check_form(call: RecruitmentCall, form: ApplicationForm) -> dict:
    """Everything about the answer that can be checked before the code is used up: the records
    it names, the person's eligibility, the guardian and the agreement. The clean values."""
    errors: dict[str, list[str]] = {}

    def add(name, message):
        errors.setdefault(name, []).append(str(message))

    real_name = (form.real_name or "").strip()
    if not real_name:
        add("real_name", _("This field is required."))
    id_number = normalize_id_number(form.id_number)
    try:
        validate_id_number(id_number)
    except ValidationError as error:
        add("id_number", error.messages[0])
    for name in ("emergency_contact_mobile",):
        try:
            validate_mobile(getattr(form, name))
        except ValidationError as error:
            add(name, error.messages[0])
    if not (form.emergency_contact_name or "").strip():
        add("emergency_contact_name", _("This field is required."))
    organization = (
        Organization.objects.filter(pk=form.organization_id, path__startswith=call.organization.path).first()
        if form.organization_id
        else None
    )
    if organization is None:
        add("organization", _("Choose an organisation this call recruits into."))
    team = None
    if form.team_id:
        team = Team.objects.filter(pk=form.team_id, organization=organization).first()
        if team is None:
            add("team", _("Choose a team of the organisation you chose."))
    if form.political_status not in Volunteer.PoliticalStatus.values:
        add("political_status", _("Choose one of the options."))
    chosen = {
        "categories": (VolunteerCategory, form.category_ids),
        "skills": (Skill, form.skill_ids),
        "qualifications": (QualificationType, form.qualification_ids),
    }
    for name, (model, ids) in chosen.items():
        if len(set(ids)) != model.objects.filter(pk__in=set(ids)).count():
            add(name, _("Choose one of the options."))
    district = street = community = None
    if form.residence_district_id:
        district = District.objects.filter(pk=form.residence_district_id).first()
        if district is None:
            add("residence_district", _("Choose one of the options."))
    if form.residence_street_id:
        street = Street.objects.filter(pk=form.residence_street_id).first()
        if street is None or (district is not None and street.district_id != district.pk):
            add("residence_street", _("Choose a street in the district you chose."))
    if form.residence_community_id:
        community = Community.objects.filter(pk=form.residence_community_id).first()
        if community is None or (street is not None and community.street_id != street.pk):
            add("residence_community", _("Choose a community in the street you chose."))
    agreement = call_agreement_current(call)
    if form.agreement_version != agreement.version:
        raise ServiceError("agreement_changed", details={"agreement_version": agreement.version})
    if not form.accepts_agreement:
        add("accepts_agreement", _("Please read and accept the volunteer agreement."))
    birth_date = id_birth_date(id_number) if "id_number" not in errors else None
    if birth_date is not None:
        for name, messages in application_eligibility_errors(
            call,
            birth_date=birth_date,
            category_ids=form.category_ids,
            skill_ids=form.skill_ids,
            qualification_ids=form.qualification_ids,
        ).items():
            errors.setdefault(name, []).extend(messages)
        if _minor(birth_date):
            if not (form.guardian_name or "").strip():
                add("guardian_name", _("Under-18s give a guardian's name."))
            try:
                validate_mobile(form.guardian_mobile)
            except ValidationError as error:
                add("guardian_mobile", error.messages[0])
            if not form.guardian_consent:
                add("guardian_consent", _("Under-18s need their guardian's consent."))
    if errors:
        raise ServiceError("invalid", details=errors)
    return {
        "real_name": real_name,
        "id_number": id_number,
        "birth_date": birth_date,
        "organization": organization,
        "team": team,
        "agreement": agreement,
        "district": district,
        "street": street,
        "community": community,
    }


def _minor(birth_date) -> bool:
    return age_on(birth_date, timezone.localdate()) < settings.RULES["MINOR_AGE"]


def _known_volunteer(*, mobile: str, id_number_hash: str) -> Volunteer | None:
    """The existing volunteer this person is (``None``: nobody yet), or ``contact_staff`` when the
    number or the ID number belongs to somebody else (or to a staff account)."""
    by_mobile = Volunteer.objects.filter(mobile=mobile).first()
    by_id = Volunteer.objects.filter(id_number_hash=id_number_hash).first()
    if by_mobile is None and by_id is None:
        if (
            get_user_model().objects.filter(username=mobile).exists()
            or StaffContact.objects.filter(mobile=mobile).exists()
        ):
            raise ServiceError("contact_staff")
        return None
    if by_mobile is None or by_id is None or by_mobile.pk != by_id.pk or by_mobile.anonymised_at is not None:
        raise ServiceError("contact_staff")
    return by_mobile


def call_apply(*, slug: str, form: ApplicationForm, code: str, now: datetime | None = None) -> CallApplication:
    """Record an answer to an open call. The texted code is checked (and used up) only after
    everything else about the answer is right, so a typo does not cost a code."""
    now = now or timezone.now()
    call = open_call(slug, now)
    clean = _check_form(call, form)
    mobile = login_codes.mobile_code_check(mobile=form.mobile, code=code)
    id_hash = crypto.blind_index(clean["id_number"])
    with transaction.atomic():
        volunteer = _known_volunteer(mobile=mobile, id_number_hash=id_hash)
        earlier = CallApplication.objects.filter(call=call).filter(mobile=mobile) | CallApplication.objects.filter(
            call=call, id_number_hash=id_hash
        )
        if earlier.exists():
            _refuse_repeat(earlier, mobile=mobile, id_hash=id_hash)
        application = CallApplication(
            call=call,
            agreement=clean["agreement"],
            agreement_accepted_at=now,
            mobile=mobile,
            real_name=clean["real_name"],
            birth_date=clean["birth_date"],
            gender=id_gender(clean["id_number"]),
            organization=clean["organization"],
            team=clean["team"],
            political_status=form.political_status,
            residence_district=clean["district"],
            residence_street=clean["street"],
            residence_community=clean["community"],
            emergency_contact_name=form.emergency_contact_name.strip(),
            emergency_contact_mobile=form.emergency_contact_mobile,
            guardian_name=form.guardian_name.strip() if _minor(clean["birth_date"]) else "",
            guardian_mobile=form.guardian_mobile if _minor(clean["birth_date"]) else "",
            guardian_consent=form.guardian_consent and _minor(clean["birth_date"]),
            volunteer=volunteer,
            created_at=now,
        )
        application.set_id_number(clean["id_number"])
        try:
            with transaction.atomic():
                application.save()
        except IntegrityError:
            # The same person a moment ago, in another request.
            _refuse_repeat(CallApplication.objects.filter(call=call, mobile=mobile), mobile=mobile, id_hash=id_hash)
            raise ServiceError("contact_staff") from None
        application.categories.set(form.category_ids)
        application.skills.set(form.skill_ids)
        application.qualifications.set(form.qualification_ids)
    if not call.approval_required:
        application = application_approve(actor=None, application_id=application.pk, now=now)
    return application


def _refuse_repeat(earlier, *, mobile: str, id_hash: str) -> None:
    """A second answer to the same call: the same person is told so; anything else is refused
    without saying why."""
    for application in earlier:
        if application.mobile == mobile and application.id_number_hash == id_hash:
            raise ServiceError("already_applied", details={"status": application.status})
    raise ServiceError("contact_staff")


# --- Review -----------------------------------------------------------------------------------


def _application_in_scope(actor, application_id: int) -> CallApplication:
    queryset = CallApplication.objects.select_related("call")
    if actor is not None:
        queryset = queryset.filter(call__organization__in=organization_subtree(actor))
    application = queryset.filter(pk=application_id).first()
    if application is None:
        raise ServiceError("not_found")
    return application


def _claim_review(application: CallApplication, *, actor, now: datetime, **values) -> None:
    claimed = CallApplication.objects.filter(pk=application.pk, status=Status.PENDING).update(
        reviewed_by=actor, reviewed_at=now, **values
    )
    if not claimed:
        raise ServiceError("application_not_pending")
    for name, value in values.items():
        setattr(application, name, value)
    application.reviewed_by, application.reviewed_at = actor, now


def _register(application: CallApplication) -> Volunteer:
    """Make the applicant a reserve volunteer of the organisation they chose, or find the one
    they already are. ``applicant_conflict`` when their number or ID number has since become
    somebody else's."""
    id_number = application_id_number(application)
    try:
        existing = _known_volunteer(mobile=application.mobile, id_number_hash=application.id_number_hash)
    except ServiceError:
        raise ServiceError("applicant_conflict") from None
    if existing is not None:
        return existing
    volunteer = volunteer_create(
        real_name=application.real_name,
        mobile=application.mobile,
        id_number=id_number,
        organization=application.organization,
        team=application.team,
        status=Volunteer.Status.RESERVE,
        political_status=application.political_status,
        guardian_consent=application.guardian_consent,
    )
    record = {
        "residence_district_id": application.residence_district_id,
        "residence_street_id": application.residence_street_id,
        "residence_community_id": application.residence_community_id,
        "emergency_contact_name": application.emergency_contact_name,
        "emergency_contact_mobile": application.emergency_contact_mobile,
        "guardian_name": application.guardian_name,
        "guardian_mobile": application.guardian_mobile,
    }
    for name, value in record.items():
        setattr(volunteer, name, value)
    volunteer.save(update_fields=[*(name.removesuffix("_id") for name in record), "updated_at"])
    volunteer.categories.set(application.categories.all())
    volunteer.skills.set(application.skills.all())
    Qualification.objects.bulk_create(
        [Qualification(volunteer=volunteer, qualification_type=kind) for kind in application.qualifications.all()]
    )
    return volunteer


def application_id_number(application: CallApplication) -> str:
    return crypto.decrypt(application.id_number_encrypted)


def application_approve(*, actor, application_id: int, now: datetime | None = None) -> CallApplication:
    """Approve a pending application (``actor`` ``None``: a call without review): the person
    becomes a reserve volunteer of their organisation and is texted."""
    now = now or timezone.now()
    with transaction.atomic():
        application = _application_in_scope(actor, application_id)
        _claim_review(application, actor=actor, now=now, status=Status.APPROVED)
        try:
            with transaction.atomic():
                volunteer = _register(application)
        except IntegrityError:
            raise ServiceError("applicant_conflict") from None
        application.volunteer = volunteer
        application.save(update_fields=["volunteer"])
        outbox.person_event(
            outbox.APPLICATION_APPROVED,
            user=volunteer.user,
            ref=f"app{application.pk}",
            context={"call": application.call.title, "organization": volunteer.organization.name},
            now=now,
        )
    return application


def applications_approve(*, actor, application_ids: list[int], now: datetime | None = None) -> dict:
    """Approve each application on its own: one that cannot be approved does not hold back the
    rest. ``{"approved": [ids], "refused": {id: code}}``."""
    approved, refused = [], {}
    for application_id in sorted(set(application_ids)):
        try:
            application_approve(actor=actor, application_id=application_id, now=now)
        except ServiceError as error:
            refused[application_id] = error.code
        else:
            approved.append(application_id)
    return {"approved": approved, "refused": refused}


def application_reject(*, actor, application_id: int, reason: str, now: datetime | None = None) -> CallApplication:
    """Reject a pending application with a reason, which the applicant is texted."""
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("reason_required")
    now = now or timezone.now()
    with transaction.atomic():
        application = _application_in_scope(actor, application_id)
        _claim_review(application, actor=actor, now=now, status=Status.REJECTED, reject_reason=reason[:200])
        context = {"call": application.call.title, "reason": reason}
        if application.volunteer_id is not None:
            outbox.person_event(
                outbox.APPLICATION_REJECTED,
                user=application.volunteer.user,
                ref=f"app{application.pk}",
                context=context,
                now=now,
            )
        else:
            # Nobody to put in an inbox yet: the text goes to the number given, after commit.
            outbox.rejection_text_enqueue(application_id=application.pk)
    return application
