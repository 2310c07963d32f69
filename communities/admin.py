from django.contrib import admin

from .models import (
    Assignment,
    AuditEntry,
    Community,
    DailyReport,
    DailyTally,
    Dispatch,
    District,
    Notification,
    OrganizationDayTally,
    Post,
    PostType,
    Shift,
    ShiftDayCount,
    Street,
    VolunteerCount,
)


@admin.register(District)
class DistrictAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "name_en"]
    search_fields = ["code", "name", "name_en"]


@admin.register(Street)
class StreetAdmin(admin.ModelAdmin):
    list_display = ["name", "district"]
    list_filter = ["district"]
    search_fields = ["name", "name_en"]
    list_select_related = ["district"]


@admin.register(Community)
class CommunityAdmin(admin.ModelAdmin):
    list_display = ["name", "code", "street", "geofence_radius_m"]
    list_filter = ["street__district"]
    search_fields = ["name", "name_en", "code", "address"]
    list_select_related = ["street", "street__district"]
    autocomplete_fields = ["street", "coordinators"]


@admin.register(PostType)
class PostTypeAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "name_en", "requires_insurance", "min_age"]
    search_fields = ["code", "name", "name_en"]
    filter_horizontal = ["required_skills", "required_qualifications"]


@admin.register(Post)
class PostAdmin(admin.ModelAdmin):
    list_display = ["name", "community", "post_type"]
    list_filter = ["post_type"]
    search_fields = ["name", "community__name"]
    list_select_related = ["community", "post_type"]
    autocomplete_fields = ["community"]


@admin.register(Shift)
class ShiftAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "community",
        "starts_at",
        "ends_at",
        "capacity",
        "confirmed_count",
        "waitlist_count",
        "status",
    ]
    list_filter = ["status", "post__post_type", "community__street__district"]
    search_fields = ["post__name", "community__name"]
    list_select_related = ["post", "community"]
    autocomplete_fields = ["post"]
    date_hierarchy = "starts_at"
    readonly_fields = ["community", "confirmed_count", "waitlist_count"]
    list_per_page = 50


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["volunteer", "shift", "status", "source", "checked_in_at", "checked_out_at", "credited_minutes"]
    list_filter = ["status", "source", "hours_status"]
    search_fields = ["volunteer__volunteer_number", "volunteer__real_name"]
    list_select_related = ["volunteer", "shift", "shift__post"]
    raw_id_fields = ["shift", "volunteer"]
    readonly_fields = ["status", "waitlist_order"]
    list_per_page = 50


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "action", "actor", "assignment", "shift", "reason"]
    list_filter = ["action"]
    search_fields = ["reason", "assignment__volunteer__volunteer_number", "actor__username"]
    list_select_related = ["actor", "assignment", "shift"]
    date_hierarchy = "created_at"


@admin.register(Dispatch)
class DispatchAdmin(admin.ModelAdmin):
    list_display = ["community", "team", "requested", "created_by", "created_at"]
    search_fields = ["community__name", "team__name"]
    list_select_related = ["community", "team", "created_by"]
    raw_id_fields = ["community", "team", "volunteers"]
    readonly_fields = ["created_at"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "channel", "recipient", "state", "attempts", "sent_at", "last_error"]
    list_filter = ["state", "channel", "kind", "urgent"]
    search_fields = ["key", "recipient__username"]
    list_select_related = ["recipient"]
    raw_id_fields = ["recipient", "assignment", "shift"]
    date_hierarchy = "created_at"


@admin.register(DailyTally)
class DailyTallyAdmin(ReadOnlyAdmin):
    list_display = ["date", "community", "post_type", "organization", "minutes", "completed", "no_shows"]
    list_filter = ["post_type"]
    search_fields = ["community__name", "organization__name"]
    list_select_related = ["community", "post_type", "organization"]
    date_hierarchy = "date"


@admin.register(OrganizationDayTally)
class OrganizationDayTallyAdmin(ReadOnlyAdmin):
    list_display = ["date", "organization", "minutes", "completed", "no_shows"]
    search_fields = ["organization__name", "organization__code"]
    list_select_related = ["organization"]
    date_hierarchy = "date"


@admin.register(VolunteerCount)
class VolunteerCountAdmin(ReadOnlyAdmin):
    list_display = ["organization", "status", "community_key", "volunteers"]
    list_filter = ["status"]
    search_fields = ["organization__name", "organization__code"]
    list_select_related = ["organization"]


@admin.register(ShiftDayCount)
class ShiftDayCountAdmin(ReadOnlyAdmin):
    list_display = ["date", "community", "shifts", "filled", "places", "taken"]
    search_fields = ["community__name", "community__code"]
    list_select_related = ["community"]
    date_hierarchy = "date"


@admin.register(DailyReport)
class DailyReportAdmin(ReadOnlyAdmin):
    list_display = ["date", "organization", "created_at"]
    list_select_related = ["organization"]
    date_hierarchy = "date"
