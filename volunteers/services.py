"""Writes about people and organisations. Views, commands and tasks call these, never the ORM directly."""

from __future__ import annotations

import secrets
from datetime import date

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from config.errors import ServiceError
from volunteers.idcard import id_birth_date, id_gender, normalize_id_number, validate_id_number, validate_mobile
from volunteers.models import Organization, PersonalDataAccess, Team, Volunteer


def volunteer_number_generate() -> str:
    """A public volunteer number: prefix + 10 random digits (not guessable from registration order)."""
    return f"{settings.VOLUNTEER_NUMBER_PREFIX}{secrets.randbelow(10**10):010d}"


def organization_create(
    *, name: str, code: str, kind: str, parent: Organization | None = None, name_en: str = ""
) -> Organization:
    organization = Organization(name=name, name_en=name_en, code=code, kind=kind, parent=parent)
    organization.full_clean()
    organization.save()
    return organization


def user_api_tokens_revoke(*, user) -> int:
    """Delete the account's API tokens; the number deleted."""
    from rest_framework.authtoken.models import Token

    deleted, _ = Token.objects.filter(user=user).delete()
    return deleted


@transaction.atomic
def user_password_set(*, user, password: str | None) -> None:
    """Give an account a new password (``None``: no usable password). The API tokens issued
    under the old one are revoked with it: changing a password is how a person ends every log-in
    someone else may hold, and a token is a log-in that never expires. Sessions end by themselves
    (Django ties each to the password's hash)."""
    if password is None:
        user.set_unusable_password()
    else:
        user.set_password(password)
    user.save(update_fields=["password"])
    user_api_tokens_revoke(user=user)


def user_password_choose(*, user, password: str) -> None:
    """A password the person chose themself (optional: they log in by code anyway), checked
    against ``AUTH_PASSWORD_VALIDATORS`` (``ValidationError``), then set as by ``user_password_set``."""
    try:
        validate_password(password, user)
    except ValidationError as error:
        raise ValidationError({"password": error.messages}) from None
    with transaction.atomic():
        user_password_set(user=user, password=password)


@transaction.atomic
def staff_mobile_set(*, user, mobile: str | None):
    """Give an account without a volunteer record the mobile number it logs in with by code and
    gets escalation texts on (``None``: remove it). A number belongs to one person only."""
    from volunteers.models import StaffContact

    if mobile is None:
        StaffContact.objects.filter(user=user).delete()
        return None
    validate_mobile(mobile)
    if Volunteer.objects.filter(mobile=mobile).exclude(user=user).exists():
        raise ServiceError("invalid", details={"mobile": ["mobile_taken"]})
    contact, _created = StaffContact.objects.update_or_create(user=user, defaults={"mobile": mobile})
    return contact


@transaction.atomic
def volunteer_create(
    *,
    real_name: str,
    mobile: str,
    id_number: str,
    organization: Organization,
    team: Team | None = None,
    password: str | None = None,
    status: str = Volunteer.Status.RESERVE,
    political_status: str = Volunteer.PoliticalStatus.MASSES,
    insurance_valid_until: date | None = None,
    guardian_consent: bool = False,
) -> Volunteer:
    """Register a volunteer with a login whose username is the mobile number."""
    validate_mobile(mobile)
    id_number = normalize_id_number(id_number)
    validate_id_number(id_number)
    user = get_user_model().objects.create_user(username=mobile, password=password, first_name=real_name)
    if password is None:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    volunteer = Volunteer(
        user=user,
        real_name=real_name,
        mobile=mobile,
        birth_date=id_birth_date(id_number),
        gender=id_gender(id_number),
        organization=organization,
        team=team,
        status=status,
        political_status=political_status,
        insurance_valid_until=insurance_valid_until,
        guardian_consent=guardian_consent,
    )
    volunteer.set_id_number(id_number)
    for _attempt in range(5):
        volunteer.volunteer_number = volunteer_number_generate()
        try:
            with transaction.atomic():
                volunteer.save()
            return volunteer
        except IntegrityError:
            if not Volunteer.objects.filter(volunteer_number=volunteer.volunteer_number).exists():
                raise
    raise RuntimeError("could not draw a free volunteer number")


def volunteer_preferences_update(
    *,
    volunteer: Volunteer,
    notify_by_sms: bool | None = None,
    notify_by_email: bool | None = None,
    message_language: str | None = None,
) -> Volunteer:
    """Save the channels a volunteer wants reminders on (the in-app inbox always gets everything)
    and the language messages are written in. ``None`` leaves a preference as it is."""
    if message_language is not None and message_language not in {code for code, _name in settings.LANGUAGES}:
        raise ServiceError("invalid", {"message_language": [f"Not one of the languages offered: {message_language}"]})
    changes = {
        name: value
        for name, value in (
            ("notify_by_sms", notify_by_sms),
            ("notify_by_email", notify_by_email),
            ("message_language", message_language),
        )
        if value is not None
    }
    for name, value in changes.items():
        setattr(volunteer, name, value)
    if changes:
        volunteer.save(update_fields=[*changes, "updated_at"])
    return volunteer


# --- The full ID number, shown only on a recorded reveal (docs/privacy.md) -------------------


def may_see_id_number(actor, volunteer: Volunteer) -> bool:
    return actor is not None and actor.is_active and (actor.is_superuser or actor.pk == volunteer.user_id)


def volunteer_id_number_reveal(*, actor, volunteer: Volunteer, purpose: str) -> str:
    """The full ID number, for the volunteer themself or a superuser only, and recorded."""
    if not may_see_id_number(actor, volunteer):
        raise ServiceError("permission_denied")
    if volunteer.anonymised_at is not None:
        raise ServiceError("volunteer_anonymised")
    PersonalDataAccess.objects.create(actor=actor, volunteer=volunteer, field="id_number", purpose=purpose[:100])
    return volunteer.id_number


# --- What a volunteer changes themself (issue 20) -------------------------------------------
# Staff changes, audited, are communities.services.records; these touch nothing eligibility
# reads but the skills, which post types ask for and the volunteer knows best. Insurance and
# qualifications go through a change request that staff approve.

SELF_FIELDS = frozenset({"email", "emergency_contact_name", "emergency_contact_mobile", "skills"})


def _field_error(field: str, message) -> ServiceError:
    return ServiceError("invalid", {field: [str(message)]})


def checked_email(value: str) -> str:
    from django.core.validators import validate_email

    value = (value or "").strip()
    if value:
        try:
            validate_email(value)
        except ValidationError:
            raise _field_error("email", _("Enter a valid email address.")) from None
    return value


def checked_mobile(value: str, *, field: str = "mobile") -> str:
    value = (value or "").strip()
    try:
        validate_mobile(value)
    except ValidationError as error:
        raise _field_error(field, error.messages[0]) from None
    return value


def mobile_free_check(mobile: str, *, volunteer: Volunteer) -> None:
    """A number belongs to one person: a volunteer's record or a staff member's contact."""
    from volunteers.models import StaffContact

    taken = (
        Volunteer.objects.filter(mobile=mobile).exclude(pk=volunteer.pk).exists()
        or StaffContact.objects.filter(mobile=mobile).exclude(user_id=volunteer.user_id).exists()
        or get_user_model().objects.filter(username=mobile).exclude(pk=volunteer.user_id).exists()
    )
    if taken:
        raise ServiceError("mobile_taken", {"mobile": [str(_("This mobile number belongs to another account."))]})


def volunteer_mobile_set(volunteer: Volunteer, mobile: str) -> None:
    """Give the (locked) volunteer a new number; the account's user name follows it when it was
    the old number (password log-in uses it). The caller saves both."""
    if volunteer.user.username == volunteer.mobile:
        volunteer.user.username = mobile
    volunteer.mobile = mobile


def _own_volunteer(user) -> Volunteer:
    volunteer = Volunteer.objects.select_related("user").filter(user_id=user.pk).first()
    if volunteer is None:
        raise ServiceError("not_a_volunteer")
    if volunteer.anonymised_at is not None:
        raise ServiceError("volunteer_anonymised")
    return volunteer


@transaction.atomic
def volunteer_own_fields_write(*, user, changes: dict) -> Volunteer:
    """The writes of a volunteer's change to their own email, emergency contact and skills (only
    the fields given). Pages and the API go through ``communities.services.records.
    volunteer_own_update``, which holds the volunteer's lock around this, checks a removed skill
    against their places and keeps the change in the trail."""
    from volunteers.models import Skill

    unknown = sorted(set(changes) - SELF_FIELDS)
    if unknown:
        raise ServiceError("invalid", {name: [str(_("This field cannot be changed here."))] for name in unknown})
    volunteer = _own_volunteer(user)
    if not changes:
        return volunteer
    if "email" in changes:
        volunteer.user.email = checked_email(changes["email"])
    if "emergency_contact_name" in changes:
        volunteer.emergency_contact_name = (changes["emergency_contact_name"] or "").strip()[:50]
    if "emergency_contact_mobile" in changes:
        value = (changes["emergency_contact_mobile"] or "").strip()
        volunteer.emergency_contact_mobile = checked_mobile(value, field="emergency_contact_mobile") if value else ""
    skills = None
    if "skills" in changes:
        codes = sorted(set(changes["skills"] or []))
        skills = list(Skill.objects.filter(code__in=codes))
        unknown = sorted(set(codes) - {skill.code for skill in skills})
        if unknown:
            raise _field_error("skills", _("Unknown: %(codes)s") % {"codes": ", ".join(unknown)})
    volunteer.user.save(update_fields=["email"])
    volunteer.save(update_fields=["emergency_contact_name", "emergency_contact_mobile", "updated_at"])
    if skills is not None:
        volunteer.skills.set(skills)
    return volunteer


def mobile_change_code_send(*, user, mobile: str, ip: str | None) -> int:
    """Text a code to the volunteer's new number; the seconds before they may ask again."""
    from volunteers.login_codes import normalise_mobile, verification_code_request

    volunteer = Volunteer.objects.select_related("user").filter(user_id=user.pk).first()
    if volunteer is None:
        raise ServiceError("not_a_volunteer")
    mobile = normalise_mobile(mobile)
    if mobile == volunteer.mobile:
        raise _field_error("mobile", _("This is already your mobile number."))
    mobile_free_check(mobile, volunteer=volunteer)
    return verification_code_request(mobile=mobile, ip=ip, user=user)


def mobile_change_check(*, user, mobile: str, code: str) -> tuple[Volunteer, str]:
    """The volunteer moving to ``mobile`` and the number as stored, if ``code`` is the one texted
    to it. Outside any transaction, as for log-in: a wrong try stays counted (five, then it burns).
    ``communities.services.records.mobile_change_confirm`` then writes the change and its trail."""
    from volunteers.login_codes import mobile_code_check, normalise_mobile

    mobile = normalise_mobile(mobile)
    volunteer = _own_volunteer(user)
    mobile_free_check(mobile, volunteer=volunteer)
    mobile_code_check(mobile=mobile, code=code)
    return volunteer, mobile
