from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import (
    Organization,
    OrganizationStaff,
    Qualification,
    QualificationType,
    Skill,
    Team,
    Volunteer,
    VolunteerCategory,
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
