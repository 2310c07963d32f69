from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from config.errors import ServiceError
from config.logging import redact
from volunteers import auth
from volunteers.forms import AdminPasswordChangeForm
from volunteers.idcard import mask_mobile
from volunteers.models import (
    Certificate,
    LoginFailure,
    LoginUnlock,
    Organization,
    OrganizationStaff,
    PersonalDataAccess,
    Qualification,
    QualificationType,
    Skill,
    StaffContact,
    Team,
    Volunteer,
    VolunteerCategory,
    VolunteerTally,
)

# Django's user admin, with password changes through volunteers.services.user_password_set.
admin.site.unregister(get_user_model())


class StaffContactForm(forms.ModelForm):
    class Meta:
        model = StaffContact
        fields = ["mobile"]

    def clean_mobile(self):
        mobile = self.cleaned_data["mobile"]
        if Volunteer.objects.filter(mobile=mobile).exclude(user_id=self.instance.user_id).exists():
            raise forms.ValidationError(_("This mobile number belongs to a volunteer."), code="mobile_taken")
        return mobile


class StaffContactInline(admin.StackedInline):
    """The mobile number a staff member logs in with by code and gets escalations on."""

    model = StaffContact
    form = StaffContactForm
    can_delete = True
    extra = 0
    max_num = 1
    verbose_name_plural = _("mobile number (log-in by code, escalation texts)")


@admin.register(get_user_model())
class UserAdmin(DjangoUserAdmin):
    change_password_form = AdminPasswordChangeForm
    inlines = [StaffContactInline]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "kind", "parent"]
    list_filter = ["kind"]
    search_fields = ["name", "name_en", "code"]
    list_select_related = ["parent"]
    autocomplete_fields = ["parent"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "leader"]
    search_fields = ["name", "organization__name"]
    list_filter = ["organization__kind"]
    list_select_related = ["organization", "leader"]
    autocomplete_fields = ["organization", "leader"]


@admin.register(Skill, QualificationType, VolunteerCategory)
class ReferenceAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "name_en"]
    search_fields = ["code", "name", "name_en"]


class QualificationInline(admin.TabularInline):
    """Shown, not edited: a qualification is recorded or removed on the records pages, which audit
    it and check the volunteer's places (``communities.services.records``)."""

    model = Qualification
    extra = 0
    exclude = ["proof"]  # private files: seen and replaced on the records pages, which check scope

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Volunteer)
class VolunteerAdmin(admin.ModelAdmin):
    """Registration and imports create volunteers (they set the encrypted ID number); the status
    and deployment are set by dispatch; the mobile is the log-in. The record staff keep (contact,
    organization and team, categories, skills, insurance, suspension) and what eligibility reads
    (birth date, guardian's consent) change on the records pages, audited and checked against the
    volunteer's places (``communities.services.records``). Those are read-only here, and a
    volunteer is never deleted: their personal data is deleted by anonymisation, which keeps the
    service record and frees their upcoming places for the waitlist."""

    list_display = [
        "volunteer_number",
        "real_name",
        "mobile_masked",
        "id_number_masked",
        "organization",
        "team",
        "status",
        "deployed_community",
    ]
    list_filter = ["status", "political_status", "gender", "categories"]
    # The ID number is searchable only through its keyed hash, never in clear.
    search_fields = ["volunteer_number", "real_name", "=mobile"]
    list_select_related = ["organization", "team", "deployed_community"]
    readonly_fields = [
        "user",
        "volunteer_number",
        "mobile_masked",
        "id_type",
        "id_number_masked",
        "birth_date",
        "guardian_consent",
        "status",
        "suspended_reason",
        "deployed_community",
        "deployed_at",
        "organization",
        "team",
        "categories",
        "skills",
        "insurance_valid_until",
        "insurer",
        "insurance_policy_number",
        "emergency_contact_name",
        "emergency_contact_mobile_masked",
        "created_at",
        "anonymised_at",
    ]
    exclude = ["mobile", "emergency_contact_mobile"]
    inlines = [QualificationInline]
    list_per_page = 50

    @admin.display(description=_("mobile number"))
    def mobile_masked(self, obj):
        return obj.mobile_masked

    @admin.display(description=_("Emergency contact's mobile"))
    def emergency_contact_mobile_masked(self, obj):
        return mask_mobile(obj.emergency_contact_mobile) if obj.emergency_contact_mobile else ""

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(OrganizationStaff)
class OrganizationStaffAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "title"]
    search_fields = ["user__username", "organization__name"]
    list_select_related = ["user", "organization"]
    autocomplete_fields = ["user", "organization"]


def person_shown(user) -> str:
    """An account as the read-only records show it: a volunteer by name and public number, anyone
    else by their log-in name with any mobile number in it masked. A volunteer's log-in name is
    their mobile number, which these records have no need to show."""
    if user is None:
        return "-"
    volunteer = getattr(user, "volunteer", None)
    if volunteer is not None:
        return str(volunteer)  # name (number)
    return redact(user.get_username())


class ReadOnlyAdmin(admin.ModelAdmin):
    # Accounts these records name (``created_by``, ``sender``, …): shown by ``person_shown``, never
    # by their log-in name. Each is swapped for ``<name>_shown`` in the declared columns and fields.
    people: tuple[str, ...] = ()

    def __init__(self, model, admin_site):
        super().__init__(model, admin_site)
        for name in self.people:

            def shown(obj, name=name):
                return person_shown(getattr(obj, name))

            shown.short_description = model._meta.get_field(name).verbose_name
            setattr(self, f"{name}_shown", shown)

        def swap(names):
            return [f"{n}_shown" if n in self.people else n for n in names]

        self.list_display = swap(self.list_display)
        self.fields = swap(self.fields) if self.fields else self.fields
        self.readonly_fields = swap(self.readonly_fields)
        if isinstance(self.list_select_related, list | tuple):
            self.list_select_related = [
                *(f"{n}__volunteer" if n in self.people else n for n in self.list_select_related)
            ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Qualification)
class QualificationAdmin(ReadOnlyAdmin):
    """Recorded and removed on the records pages (``communities.services.records``), which audit
    the change and check it against the volunteer's places."""

    list_display = ["volunteer", "qualification_type", "valid_until"]
    list_filter = ["qualification_type"]
    search_fields = ["volunteer__volunteer_number", "volunteer__real_name"]
    list_select_related = ["volunteer", "qualification_type"]
    exclude = ["proof"]  # private files: seen and replaced on the records pages, which check scope


@admin.register(VolunteerTally)
class VolunteerTallyAdmin(ReadOnlyAdmin):
    """Recounted from the assignments by ``communities.services.tallies``."""

    list_display = ["volunteer", "total_minutes", "year_minutes", "star_level", "updated_at"]
    list_filter = ["star_level"]
    search_fields = ["volunteer__volunteer_number", "volunteer__real_name"]
    list_select_related = ["volunteer"]


@admin.register(Certificate)
class CertificateAdmin(ReadOnlyAdmin):
    """Issued by ``communities.services.certificates``; anyone holding one must be able to verify it."""

    list_display = ["number", "volunteer", "issuer", "period_start", "period_end", "total_minutes", "issued_at"]
    search_fields = ["number", "volunteer__volunteer_number"]
    list_filter = ["issuer__kind"]
    list_select_related = ["volunteer", "issuer"]


@admin.register(PersonalDataAccess)
class PersonalDataAccessAdmin(ReadOnlyAdmin):
    """The record of every full ID-number display (``privacy.volunteer_id_number_reveal``)."""

    list_display = ["created_at", "by", "volunteer", "field", "purpose"]
    search_fields = ["volunteer__volunteer_number"]
    list_select_related = ["actor__volunteer", "volunteer"]
    fields = ["created_at", "by", "volunteer", "field", "purpose"]
    readonly_fields = fields

    @admin.display(description=_("by"))
    def by(self, obj):
        return person_shown(obj.actor)


@admin.register(LoginFailure)
class LoginFailureAdmin(ReadOnlyAdmin):
    """Written by the log-in lockout; staff lift a lockout with the action, which records who did."""

    list_display = ["username", "ip_address", "created_at"]
    search_fields = ["username"]
    date_hierarchy = "created_at"
    actions = ["unlock_accounts"]

    def has_unlock_permission(self, request):
        # The service checks the same permission; plain deletion stays closed, so every lift is recorded.
        return request.user.has_perm("volunteers.delete_loginfailure")

    @admin.action(description=_("Unlock the accounts of the selected failed log-ins"), permissions=["unlock"])
    def unlock_accounts(self, request, queryset):
        usernames = sorted(set(queryset.values_list("username", flat=True)))
        try:
            for username in usernames:
                auth.login_lockout_clear(actor=request.user, username=username)
        except ServiceError as error:
            self.message_user(request, error.message, level=messages.ERROR)
            return
        count = len(usernames)
        self.message_user(
            request,
            ngettext("%(count)d account unlocked.", "%(count)d accounts unlocked.", count) % {"count": count},
        )


@admin.register(LoginUnlock)
class LoginUnlockAdmin(admin.ModelAdmin):
    """The record of lockouts lifted by staff, read-only."""

    list_display = ["username", "failures_cleared", "by", "created_at"]
    search_fields = ["username"]
    list_select_related = ["actor__volunteer"]
    readonly_fields = [*(f.name for f in LoginUnlock._meta.fields if f.name != "actor"), "by"]

    @admin.display(description=_("by"))
    def by(self, obj):
        return person_shown(obj.actor)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
