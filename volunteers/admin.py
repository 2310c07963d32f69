from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from .models import (
    Certificate,
    ImportBatch,
    LoginFailure,
    Organization,
    OrganizationStaff,
    PersonalDataAccess,
    Qualification,
    QualificationType,
    Skill,
    Team,
    Volunteer,
    VolunteerCategory,
    VolunteerTally,
)


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
    model = Qualification
    extra = 0


@admin.register(Volunteer)
class VolunteerAdmin(admin.ModelAdmin):
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
    autocomplete_fields = ["user", "organization", "team", "deployed_community"]
    filter_horizontal = ["skills", "categories"]
    readonly_fields = ["id_number_masked", "created_at"]
    inlines = [QualificationInline]
    list_per_page = 50

    @admin.display(description=_("mobile number"))
    def mobile_masked(self, obj):
        return obj.mobile_masked


@admin.register(Qualification)
class QualificationAdmin(admin.ModelAdmin):
    list_display = ["volunteer", "qualification_type", "valid_until"]
    list_filter = ["qualification_type"]
    search_fields = ["volunteer__volunteer_number", "volunteer__real_name"]
    list_select_related = ["volunteer", "qualification_type"]
    autocomplete_fields = ["volunteer"]


@admin.register(OrganizationStaff)
class OrganizationStaffAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "title"]
    search_fields = ["user__username", "organization__name"]
    list_select_related = ["user", "organization"]
    autocomplete_fields = ["user", "organization"]


@admin.register(VolunteerTally)
class VolunteerTallyAdmin(admin.ModelAdmin):
    list_display = ["volunteer", "total_minutes", "year_minutes", "star_level", "updated_at"]
    list_filter = ["star_level"]
    search_fields = ["volunteer__volunteer_number", "volunteer__real_name"]
    list_select_related = ["volunteer"]
    readonly_fields = [f.name for f in VolunteerTally._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Certificate)
class CertificateAdmin(admin.ModelAdmin):
    list_display = ["number", "volunteer", "issuer", "period_start", "period_end", "total_minutes", "issued_at"]
    search_fields = ["number", "volunteer__volunteer_number"]
    list_filter = ["issuer__kind"]
    list_select_related = ["volunteer", "issuer"]
    readonly_fields = [f.name for f in Certificate._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(PersonalDataAccess)
class PersonalDataAccessAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor", "volunteer", "field", "purpose"]
    search_fields = ["volunteer__volunteer_number", "actor__username"]
    list_select_related = ["actor", "volunteer"]
    readonly_fields = [f.name for f in PersonalDataAccess._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(LoginFailure)
class LoginFailureAdmin(admin.ModelAdmin):
    list_display = ["username", "ip_address", "created_at"]
    search_fields = ["username"]
    date_hierarchy = "created_at"


class ImportForm(forms.Form):
    file = forms.FileField(label=_("File (.xlsx or .csv)"))
    kind = forms.ChoiceField(label=_("kind"), choices=ImportBatch.Kind.choices, initial=ImportBatch.Kind.VOLUNTEERS)
    dry_run = forms.BooleanField(label=_("Dry run: check every row, write nothing"), required=False, initial=True)


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    """Past imports, read-only; new ones come through the import page (volunteers.imports)."""

    list_display = ["kind", "file_name", "rows", "created", "unchanged", "created_by", "created_at"]
    list_filter = ["kind"]
    search_fields = ["file_name"]
    list_select_related = ["created_by"]
    readonly_fields = [f.name for f in ImportBatch._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_urls(self):
        from django.urls import path

        extra = [path("import/", self.admin_site.admin_view(self.import_view), name="volunteers_importbatch_import")]
        return extra + super().get_urls()

    def import_view(self, request):
        from django.template.response import TemplateResponse

        from config.errors import ServiceError

        from .imports import import_run

        result = None
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = import_run(
                    kind=form.cleaned_data["kind"],
                    file_name=upload.name,
                    content=upload,
                    actor=request.user,
                    dry_run=form.cleaned_data["dry_run"],
                )
            except ServiceError as error:
                self.message_user(request, error.message, level=messages.ERROR)
            else:
                if result.ok and not result.dry_run:
                    self.message_user(
                        request,
                        _("Imported: %(created)d created, %(unchanged)d unchanged.")
                        % {"created": result.created, "unchanged": result.unchanged},
                        level=messages.SUCCESS,
                    )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Import from a spreadsheet"),
            "form": form,
            "result": result,
            "kinds": ImportBatch.Kind.choices,
        }
        return TemplateResponse(request, "admin/volunteers/importbatch/import.html", context)
