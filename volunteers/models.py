"""People and the organisations they belong to.

Personal data rules (domain page, PIPL): the public identifier is ``volunteer_number``; the ID
number is stored only encrypted (``id_number_encrypted``), with a keyed hash for duplicate
detection and a masked copy for display. Nothing here ever holds the ID number in clear.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from volunteers import crypto
from volunteers.idcard import age_on, mask_mobile, validate_mobile


def reads_english() -> bool:
    """Whether the active language is English (else the names are shown in Chinese)."""
    return (get_language() or "").startswith("en")


def reader_name(name: str, name_en: str, *, english: bool | None = None) -> str:
    """A Chinese name or its English one, in the reader's language (``english``: already known)."""
    if english is None:
        english = reads_english()
    return name_en if english and name_en else name


class Named(models.Model):
    """Reference data with a Chinese name and an English one, shown in the reader's language."""

    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return reader_name(self.name, self.name_en)


# Digits of each id in an organization's path: every id a BigAutoField sequence reaches in practice.
PATH_DIGITS = 10


class Organization(Named):
    """League committee → institution (a bank or insurer) → branch."""

    class Kind(models.TextChoices):
        COMMITTEE = "committee", _("League committee")
        INSTITUTION = "institution", _("Institution")
        BRANCH = "branch", _("Branch")

    code = models.CharField(_("code"), max_length=32, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    # Materialised path ("/0000000001/0000000007/0000000042/") so a subtree is one indexed prefix
    # query. Ids are zero-padded so the text order of paths is the tree's order, siblings oldest
    # first: unpadded, "/1/10/" would sort before "/1/9/".
    path = models.CharField(max_length=255, db_index=True, editable=False, default="")
    depth = models.PositiveSmallIntegerField(default=0, editable=False)
    contact_person = models.CharField(_("person in charge"), max_length=50, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=20, blank=True)
    # Who handles the certificates the organisation issues (经办人), printed on each one.
    certificate_handler = models.CharField(_("certificate handler"), max_length=50, blank=True)

    class Meta:
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")
        ordering = ["path"]

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        old_path = self.path
        path = path_below(self.parent.path if self.parent_id else "/", self.pk)
        depth = self.parent.depth + 1 if self.parent_id else 0
        if (path, depth) != (self.path, self.depth):
            self.path, self.depth = path, depth
            Organization.objects.filter(pk=self.pk).update(path=path, depth=depth)
            if old_path:
                # Moved: carry the whole branch along, or staff scopes would go stale.
                for branch in Organization.objects.filter(path__startswith=old_path).exclude(pk=self.pk):
                    new_path = path + branch.path[len(old_path) :]
                    Organization.objects.filter(pk=branch.pk).update(path=new_path, depth=new_path.count("/") - 2)

    def clean(self):
        super().clean()
        if self.pk and self.parent_id:
            parent_path = Organization.objects.filter(pk=self.parent_id).values_list("path", flat=True).first() or ""
            if path_below("/", self.pk) in parent_path:
                raise ValidationError({"parent": _("An organization cannot be placed under its own branch.")})


def path_below(parent_path: str, pk: int) -> str:
    """The materialised path of organization ``pk`` under ``parent_path`` ("/" for a root)."""
    return f"{parent_path}{pk:0{PATH_DIGITS}d}/"


class Team(models.Model):
    """A youth commando team (青年突击队)."""

    organization = models.ForeignKey(
        Organization, verbose_name=_("organization"), on_delete=models.PROTECT, related_name="teams"
    )
    name = models.CharField(_("name"), max_length=100)
    leader = models.ForeignKey(
        "Volunteer",
        verbose_name=_("leader"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="led_teams",
    )

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["organization_id", "name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="team_name_unique_in_org")]

    def __str__(self) -> str:
        return self.name


class Skill(Named):
    code = models.SlugField(_("code"), max_length=32, unique=True)

    class Meta:
        verbose_name = _("skill")
        verbose_name_plural = _("skills")
        ordering = ["code"]


class QualificationType(Named):
    """A professional qualification (medical, psychological counselling, first aid)."""

    code = models.SlugField(_("code"), max_length=32, unique=True)

    class Meta:
        verbose_name = _("qualification type")
        verbose_name_plural = _("qualification types")
        ordering = ["code"]


class VolunteerCategory(Named):
    """Counting categories: party member, staff, youth, women, veteran, social."""

    code = models.SlugField(_("code"), max_length=32, unique=True)

    class Meta:
        verbose_name = _("volunteer category")
        verbose_name_plural = _("volunteer categories")
        ordering = ["code"]


def _set_id_number(record, value: str) -> None:
    """Store an ID number on ``record`` the one way it is ever stored: encrypted, a keyed hash for
    finding duplicates, a masked copy for display."""
    from volunteers.idcard import mask_id_number, normalize_id_number

    value = normalize_id_number(value)
    record.id_number_encrypted = crypto.encrypt(value)
    record.id_number_hash = crypto.blind_index(value)
    record.id_number_masked = mask_id_number(value)


def new_calendar_token() -> str:
    return secrets.token_urlsafe(24)


class Volunteer(models.Model):
    class Status(models.TextChoices):
        RESERVE = "reserve", _("Reserve")
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")

    class PoliticalStatus(models.TextChoices):
        PARTY_MEMBER = "party_member", _("Communist Party member")
        PROBATIONARY = "probationary", _("Probationary party member")
        LEAGUE_MEMBER = "league_member", _("Communist Youth League member")
        MASSES = "masses", _("Ordinary citizen")

    class Gender(models.TextChoices):
        MALE = "male", _("Male")
        FEMALE = "female", _("Female")

    class IdType(models.TextChoices):
        RESIDENT_ID = "resident_id", _("Resident identity card")

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="volunteer")
    volunteer_number = models.CharField(_("volunteer number"), max_length=20, unique=True)
    real_name = models.CharField(_("real name"), max_length=50)
    gender = models.CharField(_("gender"), max_length=8, choices=Gender.choices)
    mobile = models.CharField(_("mobile number"), max_length=11, unique=True, validators=[validate_mobile])
    id_type = models.CharField(_("ID type"), max_length=16, choices=IdType.choices, default=IdType.RESIDENT_ID)
    id_number_encrypted = models.TextField(editable=False)
    id_number_hash = models.CharField(max_length=64, unique=True, editable=False)
    id_number_masked = models.CharField(_("ID number"), max_length=24, editable=False)
    birth_date = models.DateField(_("birth date"))
    organization = models.ForeignKey(
        Organization, verbose_name=_("organization"), on_delete=models.PROTECT, related_name="volunteers"
    )
    team = models.ForeignKey(
        Team, verbose_name=_("team"), null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    political_status = models.CharField(
        _("political status"), max_length=16, choices=PoliticalStatus.choices, default=PoliticalStatus.MASSES
    )
    categories = models.ManyToManyField(VolunteerCategory, verbose_name=_("categories"), blank=True)
    skills = models.ManyToManyField(Skill, verbose_name=_("skills"), blank=True)
    insurance_valid_until = models.DateField(_("accident insurance valid until"), null=True, blank=True)
    guardian_consent = models.BooleanField(_("guardian consent (under 18)"), default=False)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RESERVE)
    deployed_community = models.ForeignKey(
        "communities.Community",
        verbose_name=_("deployed to"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deployed_volunteers",
    )
    deployed_at = models.DateTimeField(_("deployed at"), null=True, blank=True)
    # Where the volunteer lives or works (optional): shifts near them first; dispatch prefers them.
    residence_district = models.ForeignKey(
        "communities.District",
        verbose_name=_("residence district"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    residence_street = models.ForeignKey(
        "communities.Street",
        verbose_name=_("residence street"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    residence_community = models.ForeignKey(
        "communities.Community",
        verbose_name=_("residence community"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    emergency_contact_name = models.CharField(_("emergency contact"), max_length=50, blank=True)
    emergency_contact_mobile = models.CharField(
        _("emergency contact mobile"), max_length=11, blank=True, validators=[validate_mobile]
    )
    insurer = models.CharField(_("insurer"), max_length=100, blank=True)
    insurance_policy_number = models.CharField(_("insurance policy number"), max_length=64, blank=True)
    suspended_reason = models.CharField(_("reason for suspension"), max_length=200, blank=True)
    guardian_name = models.CharField(_("guardian's name"), max_length=50, blank=True)
    guardian_mobile = models.CharField(_("guardian's mobile"), max_length=11, blank=True, validators=[validate_mobile])
    calendar_token = models.CharField(max_length=64, unique=True, default=new_calendar_token, editable=False)
    created_at = models.DateTimeField(_("registered at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    anonymised_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Notification channels the volunteer chose; the in-app inbox always receives everything.
    notify_by_sms = models.BooleanField(_("notify me by SMS"), default=True)
    notify_by_email = models.BooleanField(_("notify me by email"), default=False)
    # The language the volunteer reads messages in; empty: the programme's (NOTIFY_LANGUAGE).
    message_language = models.CharField(
        _("language of messages"), max_length=16, choices=settings.LANGUAGES, blank=True, default=""
    )

    class Meta:
        verbose_name = _("volunteer")
        verbose_name_plural = _("volunteers")
        ordering = ["volunteer_number"]
        indexes = [
            models.Index(fields=["organization", "status"]),
            models.Index(fields=["deployed_community", "status"]),
            models.Index(fields=["team"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(deployed_community__isnull=True) | ~Q(status="reserve"),
                name="volunteer_deployed_is_not_reserve",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.real_name} ({self.volunteer_number})"

    # The ID number never leaves this class in clear except through ``id_number``, which callers
    # use only for the volunteer's own profile or an audited superuser view.
    def set_id_number(self, value: str) -> None:
        _set_id_number(self, value)

    @property
    def id_number(self) -> str:
        return crypto.decrypt(self.id_number_encrypted)

    @property
    def mobile_masked(self) -> str:
        return mask_mobile(self.mobile)

    def age_on(self, day) -> int:
        return age_on(self.birth_date, day)


class PrivateStorage(FileSystemStorage):
    """Proof files (certificates, insurance policies): outside the web root, under
    ``PRIVATE_MEDIA_ROOT``, with no URL; only ``communities.views.records.proof_file`` serves them,
    to those who may see the volunteer (docs/privacy.md). The setting is read at each use."""

    @property
    def base_location(self):
        return settings.PRIVATE_MEDIA_ROOT

    @property
    def location(self):
        import os

        return os.path.abspath(self.base_location)

    def url(self, name):
        raise ValueError("private files have no URL")


def private_storage() -> FileSystemStorage:
    return PrivateStorage()


def proof_path(instance, filename: str) -> str:
    # A random name: the person's own file name may carry their name or ID number.
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"proofs/{timezone.now():%Y/%m}/{secrets.token_hex(16)}.{extension}"


class Qualification(models.Model):
    volunteer = models.ForeignKey(Volunteer, on_delete=models.CASCADE, related_name="qualifications")
    qualification_type = models.ForeignKey(QualificationType, verbose_name=_("qualification"), on_delete=models.PROTECT)
    certificate_number = models.CharField(_("certificate number"), max_length=64, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    proof = models.FileField(_("proof"), storage=private_storage, upload_to=proof_path, max_length=200, blank=True)

    class Meta:
        verbose_name = _("qualification")
        verbose_name_plural = _("qualifications")
        constraints = [
            models.UniqueConstraint(fields=["volunteer", "qualification_type"], name="qualification_once_per_type")
        ]

    def __str__(self) -> str:
        return f"{self.qualification_type} · {self.volunteer.volunteer_number}"


class OrganizationStaff(models.Model):
    """League committee or organization staff, who see their organization's whole subtree."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_roles")
    organization = models.ForeignKey(
        Organization, verbose_name=_("organization"), on_delete=models.CASCADE, related_name="staff"
    )
    title = models.CharField(_("title"), max_length=50, blank=True)

    class Meta:
        verbose_name = _("organization staff")
        verbose_name_plural = _("organization staff")
        constraints = [models.UniqueConstraint(fields=["user", "organization"], name="staff_once_per_org")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization}"


class VolunteerTally(models.Model):
    """A volunteer's credited service time, kept by ``communities.services.tallies`` and nothing else."""

    volunteer = models.OneToOneField(Volunteer, on_delete=models.CASCADE, related_name="tally", primary_key=True)
    total_minutes = models.PositiveIntegerField(_("total credited minutes"), default=0)
    year = models.PositiveSmallIntegerField(_("year"), default=0)
    year_minutes = models.PositiveIntegerField(_("credited minutes this year"), default=0)
    completed_shifts = models.PositiveIntegerField(_("completed shifts"), default=0)
    no_shows = models.PositiveIntegerField(_("no-shows"), default=0)
    star_level = models.PositiveSmallIntegerField(_("star level"), default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("volunteer tally")
        verbose_name_plural = _("volunteer tallies")
        indexes = [models.Index(fields=["-total_minutes"])]
        constraints = [
            models.CheckConstraint(condition=Q(star_level__lte=5), name="tally_star_level_at_most_five"),
        ]

    def __str__(self) -> str:
        return f"{self.volunteer_id}: {self.total_minutes} min"


class Certificate(models.Model):
    """A volunteer service record certificate (志愿服务记录证明), kept so it can be verified."""

    number = models.CharField(_("certificate number"), max_length=40, unique=True)
    volunteer = models.ForeignKey(
        Volunteer, verbose_name=_("volunteer"), on_delete=models.PROTECT, related_name="certificates"
    )
    issuer = models.ForeignKey(
        Organization, verbose_name=_("issuer"), on_delete=models.PROTECT, related_name="certificates"
    )
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("handled by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    period_start = models.DateField(_("from"))
    period_end = models.DateField(_("to"))
    total_minutes = models.PositiveIntegerField(_("credited minutes"))
    # What the certificate says, frozen at issue, so verification shows what was certified.
    holder_name_masked = models.CharField(_("name"), max_length=50)
    content = models.JSONField(_("service content"), default=dict)
    issued_at = models.DateTimeField(_("issued at"), default=timezone.now)

    class Meta:
        verbose_name = _("certificate")
        verbose_name_plural = _("certificates")
        ordering = ["-issued_at"]
        constraints = [
            models.CheckConstraint(condition=Q(period_end__gte=F("period_start")), name="certificate_period_valid"),
        ]

    def __str__(self) -> str:
        return self.number


class PersonalDataAccess(models.Model):
    """Every display of a full ID number (PIPL: sensitive personal information)."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    volunteer = models.ForeignKey(Volunteer, on_delete=models.CASCADE, related_name="data_accesses")
    field = models.CharField(max_length=32)
    purpose = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("personal data access")
        verbose_name_plural = _("personal data accesses")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.actor_id} → {self.volunteer_id}.{self.field}"


class LoginFailure(models.Model):
    """Password checks that failed (or are under way), counted per account, per address and per
    pair for the lockout (volunteers/auth.py)."""

    username = models.CharField(max_length=150, db_index=True)
    ip_address = models.GenericIPAddressField(null=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("failed log-in")
        verbose_name_plural = _("failed log-ins")

    def __str__(self) -> str:
        return f"{self.username} @ {self.created_at:%Y-%m-%d %H:%M}"


class LoginUnlock(models.Model):
    """A lockout lifted by staff (volunteers.auth.login_lockout_clear): who, which account, when."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(_("account"), max_length=150)
    failures_cleared = models.PositiveIntegerField(_("failures cleared"))
    created_at = models.DateTimeField(_("time"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("log-in unlock")
        verbose_name_plural = _("log-in unlocks")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.username} @ {self.created_at:%Y-%m-%d %H:%M}"


class ImportBatch(models.Model):
    """One bulk import (volunteers, communities or posts), kept for the record."""

    class Kind(models.TextChoices):
        VOLUNTEERS = "volunteers", _("Volunteers")
        COMMUNITIES = "communities", _("Communities")
        POSTS = "posts", _("Posts")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    file_name = models.CharField(_("file name"), max_length=200)
    sha256 = models.CharField(max_length=64, db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    rows = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.file_name}"


class StaffContact(models.Model):
    """The mobile number of an account without a volunteer record (committee and organisation
    staff, coordinators): they log in by a texted code and receive escalations by SMS. A
    volunteer's number is ``Volunteer.mobile``; a number belongs to one person across both
    (``services.staff_mobile_set`` checks the other table)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("account"), on_delete=models.CASCADE, related_name="staff_contact"
    )
    mobile = models.CharField(_("mobile number"), max_length=11, unique=True, validators=[validate_mobile])

    class Meta:
        verbose_name = _("staff mobile number")
        verbose_name_plural = _("staff mobile numbers")

    def __str__(self) -> str:
        return f"{self.user} · {mask_mobile(self.mobile)}"


class LoginCode(models.Model):
    """A code texted for log-in (volunteers/login_codes.py). Only a keyed hash of the code is
    kept. A code is live until it is used, burnt by wrong tries or replaced by a newer one
    (``closed_at``); the database holds at most one live code per number."""

    mobile = models.CharField(max_length=11)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("log-in code")
        verbose_name_plural = _("log-in codes")
        constraints = [
            models.UniqueConstraint(
                fields=["mobile"], condition=Q(closed_at__isnull=True), name="login_code_one_live_per_mobile"
            ),
        ]
        indexes = [models.Index(fields=["created_at"], name="login_code_created")]

    def __str__(self) -> str:
        return f"{mask_mobile(self.mobile)} @ {self.created_at:%Y-%m-%d %H:%M}"


class ChangeRequest(models.Model):
    """A volunteer's renewed insurance or new qualification, with proof, waiting for staff: the
    eligibility rules read these fields, so the volunteer cannot set them alone."""

    class Kind(models.TextChoices):
        INSURANCE = "insurance", _("Accident insurance")
        QUALIFICATION = "qualification", _("Qualification")

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting for approval")
        APPROVED = "approved", pgettext_lazy("change request", "Approved")
        REJECTED = "rejected", _("Rejected")

    volunteer = models.ForeignKey(
        Volunteer, verbose_name=_("volunteer"), on_delete=models.CASCADE, related_name="change_requests"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.PENDING)
    qualification_type = models.ForeignKey(
        QualificationType, verbose_name=_("qualification"), null=True, blank=True, on_delete=models.PROTECT
    )
    certificate_number = models.CharField(_("certificate number"), max_length=64, blank=True)
    insurer = models.CharField(_("insurer"), max_length=100, blank=True)
    policy_number = models.CharField(_("policy number"), max_length=64, blank=True)
    valid_until = models.DateField(_("valid until"))
    proof = models.FileField(_("proof"), storage=private_storage, upload_to=proof_path, max_length=200)
    created_at = models.DateTimeField(_("submitted at"), default=timezone.now, db_index=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("decided by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("change request")
        verbose_name_plural = _("change requests")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="insurance", qualification_type__isnull=True)
                | Q(kind="qualification", qualification_type__isnull=False),
                name="change_request_kind_fields",
            ),
            # One open request per thing: a second one would be approved over the first.
            models.UniqueConstraint(
                fields=["volunteer", "kind", "qualification_type"],
                condition=Q(state="pending"),
                nulls_distinct=False,
                name="change_request_one_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} · {self.volunteer_id} · {self.state}"


# --- Recruitment calls (招募令) and the applications that answer them (docs/recruitment.md) ---


def new_call_slug() -> str:
    """Eight characters without look-alikes (no 0/o, 1/l/i): short enough to type from a poster."""
    alphabet = "23456789abcdefghjkmnpqrstuvwxyz"
    return "".join(secrets.choice(alphabet) for _ in range(8))


class RecruitmentCall(models.Model):
    """A call for volunteers published by an organisation's staff, answered through its public
    page (``/calls/<slug>/``). Who may answer is part of the call; the agreement a person accepts
    is a ``CallAgreement`` version."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")
        CLOSED = "closed", _("Closed")

    slug = models.CharField(_("short code"), max_length=16, unique=True, default=new_call_slug, editable=False)
    organization = models.ForeignKey(
        Organization,
        verbose_name=_("recruits into"),
        on_delete=models.PROTECT,
        related_name="recruitment_calls",
        help_text=_("Applicants choose this organisation or one below it."),
    )
    title = models.CharField(_("title"), max_length=100)
    text = models.TextField(_("text"))
    target_count = models.PositiveIntegerField(_("target number of volunteers"))
    deadline = models.DateTimeField(_("deadline"))
    min_age = models.PositiveSmallIntegerField(_("minimum age"), null=True, blank=True)
    max_age = models.PositiveSmallIntegerField(_("maximum age"), null=True, blank=True)
    categories = models.ManyToManyField(
        VolunteerCategory,
        verbose_name=_("categories"),
        blank=True,
        related_name="+",
        help_text=_("Applicants belong to at least one of these; none chosen: anyone."),
    )
    required_skills = models.ManyToManyField(Skill, verbose_name=_("required skills"), blank=True, related_name="+")
    required_qualifications = models.ManyToManyField(
        QualificationType, verbose_name=_("required qualifications"), blank=True, related_name="+"
    )
    approval_required = models.BooleanField(_("staff approve each application"), default=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("recruitment call")
        verbose_name_plural = _("recruitment calls")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "status"])]
        constraints = [
            models.CheckConstraint(condition=Q(target_count__gte=1), name="call_target_positive"),
            models.CheckConstraint(
                condition=Q(min_age__isnull=True) | Q(max_age__isnull=True) | Q(min_age__lte=F("max_age")),
                name="call_age_range_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def is_open(self, now=None) -> bool:
        return self.status == self.Status.PUBLISHED and (now or timezone.now()) < self.deadline


class CallAgreement(models.Model):
    """One version of a call's volunteer service agreement (《志愿服务条例》第十四条). A change of
    text is a new version; an application keeps the version its applicant accepted."""

    call = models.ForeignKey(RecruitmentCall, on_delete=models.CASCADE, related_name="agreements")
    version = models.PositiveSmallIntegerField(_("version"))
    text = models.TextField(_("agreement text"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)

    class Meta:
        verbose_name = _("volunteer agreement")
        verbose_name_plural = _("volunteer agreements")
        ordering = ["call_id", "-version"]
        constraints = [models.UniqueConstraint(fields=["call", "version"], name="agreement_version_once_per_call")]

    def __str__(self) -> str:
        return f"{self.call_id} v{self.version}"


class CallApplication(models.Model):
    """A person's answer to a call, kept until staff approve or reject it. The ID number is held
    as on ``Volunteer``: encrypted, a keyed hash, a masked copy."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Awaiting review")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        # Never reviewed, and its call closed: set by the retention sweep (docs/recruitment.md).
        LAPSED = "lapsed", _("Lapsed (not reviewed before the call closed)")

    call = models.ForeignKey(
        RecruitmentCall, verbose_name=_("call"), on_delete=models.PROTECT, related_name="applications"
    )
    agreement = models.ForeignKey(
        CallAgreement, verbose_name=_("agreement accepted"), on_delete=models.PROTECT, related_name="applications"
    )
    agreement_accepted_at = models.DateTimeField(_("agreement accepted at"))
    mobile = models.CharField(_("mobile number"), max_length=11, validators=[validate_mobile])
    real_name = models.CharField(_("real name"), max_length=50)
    id_number_encrypted = models.TextField(editable=False)
    id_number_hash = models.CharField(max_length=64, editable=False)
    id_number_masked = models.CharField(_("ID number"), max_length=24, editable=False)
    birth_date = models.DateField(_("birth date"))
    gender = models.CharField(_("gender"), max_length=8, choices=Volunteer.Gender.choices)
    organization = models.ForeignKey(
        Organization, verbose_name=_("organization"), on_delete=models.PROTECT, related_name="+"
    )
    team = models.ForeignKey(Team, verbose_name=_("team"), null=True, blank=True, on_delete=models.SET_NULL)
    political_status = models.CharField(
        _("political status"),
        max_length=16,
        choices=Volunteer.PoliticalStatus.choices,
        default=Volunteer.PoliticalStatus.MASSES,
    )
    categories = models.ManyToManyField(VolunteerCategory, verbose_name=_("categories"), blank=True, related_name="+")
    skills = models.ManyToManyField(Skill, verbose_name=_("skills"), blank=True, related_name="+")
    qualifications = models.ManyToManyField(
        QualificationType, verbose_name=_("qualifications"), blank=True, related_name="+"
    )
    residence_district = models.ForeignKey(
        "communities.District",
        verbose_name=_("district of residence"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    residence_street = models.ForeignKey(
        "communities.Street",
        verbose_name=_("street of residence"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    residence_community = models.ForeignKey(
        "communities.Community",
        verbose_name=_("community of residence"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    emergency_contact_name = models.CharField(_("emergency contact"), max_length=50)
    emergency_contact_mobile = models.CharField(
        _("emergency contact's mobile number"), max_length=11, validators=[validate_mobile]
    )
    guardian_name = models.CharField(_("guardian's name"), max_length=50, blank=True)
    guardian_mobile = models.CharField(_("guardian's mobile number"), max_length=11, blank=True)
    guardian_consent = models.BooleanField(_("guardian consent (under 18)"), default=False)
    # The volunteer this application is, once known: an existing one recognised on answering, or
    # the one approval registered.
    volunteer = models.ForeignKey(
        Volunteer,
        verbose_name=_("volunteer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="call_applications",
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    reject_reason = models.CharField(_("reason for rejection"), max_length=200, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("reviewed by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    created_at = models.DateTimeField(_("applied at"), default=timezone.now, editable=False)
    # When the retention sweep deleted the personal data of an answer that did not make a
    # volunteer (``communities.services.privacy.applications_retention_sweep``).
    anonymised_at = models.DateTimeField(_("personal data deleted at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("application")
        verbose_name_plural = _("applications")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["call", "status", "created_at"])]
        constraints = [
            models.UniqueConstraint(fields=["call", "mobile"], name="application_once_per_mobile"),
            models.UniqueConstraint(fields=["call", "id_number_hash"], name="application_once_per_id_number"),
            models.CheckConstraint(
                condition=~Q(status="rejected") | ~Q(reject_reason=""), name="application_rejection_has_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.call_id}: {self.real_name} ({self.id_number_masked})"

    def set_id_number(self, value: str) -> None:
        _set_id_number(self, value)

    @property
    def mobile_masked(self) -> str:
        return mask_mobile(self.mobile)

    def age_on(self, day) -> int:
        return age_on(self.birth_date, day)
