"""The Django admin: a window onto the data, never a way around the services.

A field that carries a rule is read-only here, or its change goes through the service that
keeps the rule: a shift's capacity, times and notes through ``coordination.shift_update`` (the
re-checks, the waitlist promotion, the notices), its status through ``coordination.shift_cancel``,
credited minutes through ``attendance.hours_adjust`` (the cap, the reason, the audit row). A
refused change is reported and changes nothing. Counters, tallies and the audit trail are
read-only; nothing whose deletion would bypass a rule can be deleted.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpResponseRedirect
from django.utils.translation import gettext_lazy as _

from communities.models import (
    Assignment,
    AuditEntry,
    Broadcast,
    Community,
    CommunityRequest,
    DailyReport,
    DailyTally,
    Dispatch,
    District,
    Notification,
    OrganizationDayTally,
    Post,
    PostType,
    Recall,
    RecordCorrection,
    Shift,
    ShiftDayCount,
    Street,
    VolunteerCount,
)
from communities.notifications import outbox
from communities.render.refusals import explain
from communities.services import attendance, coordination, recruitment
from communities.services.imports import import_run
from communities.services.privacy import volunteer_anonymise
from config.errors import ServiceError
from config.logging import redact
from volunteers import admin as volunteers_admin
from volunteers.admin import ReadOnlyAdmin
from volunteers.idcard import mask_mobile
from volunteers.models import CallAgreement, CallApplication, ImportBatch, RecruitmentCall, Volunteer


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

    def get_readonly_fields(self, request, obj=None):
        # Each shift copies its post's community (scope and lists read it without a join).
        return ["community"] if obj is not None else []


class ServiceAdmin(admin.ModelAdmin):
    """A change form whose save calls a service: a refusal becomes an error message, the change
    is not logged, and the form is shown again with the values as they still are."""

    def save_model(self, request, obj, form, change):
        try:
            with transaction.atomic():
                self.save_through_services(request, obj, form)
        except ServiceError as error:
            request._service_refusal = error
            self.message_user(request, "\n".join([str(error.message), *explain(error)]), level=messages.ERROR)

    def save_through_services(self, request, obj, form) -> None:
        raise NotImplementedError

    def log_change(self, request, obj, message):
        if getattr(request, "_service_refusal", None) is None:
            return super().log_change(request, obj, message)
        return None

    def response_change(self, request, obj):
        if getattr(request, "_service_refusal", None) is not None:
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)


class ShiftAdminForm(forms.ModelForm):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=200,
        required=False,
        help_text=_("Kept in the audit trail; needed to cancel the shift."),
    )

    class Meta:
        model = Shift
        fields = ["starts_at", "ends_at", "capacity", "notes", "status", "reason"]

    def _post_clean(self):
        # The services decide (coordination.shift_update / shift_cancel); the model's own
        # constraints are checked by the database in the service's transaction.
        pass


@admin.register(Shift)
class ShiftAdmin(ServiceAdmin):
    form = ShiftAdminForm
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
    date_hierarchy = "starts_at"
    fields = [
        "post",
        "community",
        "starts_at",
        "ends_at",
        "capacity",
        "confirmed_count",
        "waitlist_count",
        "notes",
        "status",
        "reason",
        "signup_opens_at",
        "signup_closes_at",
        "cancel_cutoff_at",
    ]
    # Sign-up windows and cutoffs have no service to keep them consistent: shown, not edited here.
    readonly_fields = [
        "post",
        "community",
        "confirmed_count",
        "waitlist_count",
        "signup_opens_at",
        "signup_closes_at",
        "cancel_cutoff_at",
    ]
    list_per_page = 50

    def has_add_permission(self, request):
        return False  # shifts are created by the rota (page and API), which checks their times

    def has_delete_permission(self, request, obj=None):
        return False  # cancel instead: volunteers are released and told, the audit trail kept

    def save_through_services(self, request, obj, form) -> None:
        data, changed = form.cleaned_data, set(form.changed_data) - {"reason"}
        if "status" in changed:
            if data["status"] != Shift.Status.CANCELLED:
                raise ServiceError("shift_cancelled")  # a cancellation is final
            if changed != {"status"}:
                raise ServiceError("invalid", {"status": [_("Cancel the shift on its own, without other changes.")]})
            coordination.shift_cancel(actor=request.user, shift_id=obj.pk, reason=data["reason"])
        elif changed:
            coordination.shift_update(
                actor=request.user,
                shift_id=obj.pk,
                starts_at=data["starts_at"] if "starts_at" in changed else None,
                ends_at=data["ends_at"] if "ends_at" in changed else None,
                capacity=data["capacity"] if "capacity" in changed else None,
                notes=data["notes"] if "notes" in changed else None,
                reason=data["reason"],
            )


class AssignmentAdminForm(forms.ModelForm):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=200,
        required=False,
        help_text=_("Kept in the audit trail; needed to adjust hours."),
    )

    class Meta:
        model = Assignment
        fields = ["credited_minutes", "reason"]

    def _post_clean(self):
        pass  # attendance.hours_adjust decides


@admin.register(Assignment)
class AssignmentAdmin(ServiceAdmin):
    form = AssignmentAdminForm
    list_display = ["volunteer", "shift", "status", "source", "checked_in_at", "checked_out_at", "credited_minutes"]
    list_filter = ["status", "source", "hours_status"]
    search_fields = ["volunteer__volunteer_number", "volunteer__real_name"]
    list_select_related = ["volunteer", "shift", "shift__post"]
    actions = ["approve_hours"]
    list_per_page = 50

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Assignment._meta.fields if f.name not in ("id", "credited_minutes")]

    def get_fields(self, request, obj=None):
        return [*self.get_readonly_fields(request, obj), "credited_minutes", "reason"]

    def has_add_permission(self, request):
        return False  # places are taken by sign-up and by a coordinator's assignment

    def has_delete_permission(self, request, obj=None):
        return False  # the place, the waitlist and the hours it holds would be lost uncounted

    def save_through_services(self, request, obj, form) -> None:
        if "credited_minutes" in form.changed_data:
            minutes = form.cleaned_data["credited_minutes"]
            if minutes is None:
                raise ServiceError("hours_out_of_range", {"max_minutes": obj.shift.duration_minutes})
            attendance.hours_adjust(
                assignment_id=obj.pk, actor=request.user, credited_minutes=minutes, reason=form.cleaned_data["reason"]
            )

    @admin.action(description=_("Approve the selected hours"))
    def approve_hours(self, request, queryset):
        approved = 0
        for assignment_id in queryset.order_by("pk").values_list("pk", flat=True):
            try:
                attendance.hours_approve(assignment_id=assignment_id, actor=request.user)
            except ServiceError as error:
                self.message_user(request, f"{assignment_id}: {error.message}", level=messages.WARNING)
            else:
                approved += 1
        self.message_user(request, _("%(count)d approved.") % {"count": approved}, level=messages.SUCCESS)


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    people = ("actor",)
    list_display = ["created_at", "action", "actor", "assignment", "shift", "reason_shown"]
    list_filter = ["action"]
    search_fields = [
        "reason",
        "assignment__volunteer__volunteer_number",
        "volunteer__volunteer_number",
        "actor__volunteer__volunteer_number",
    ]
    list_select_related = ["actor__volunteer", "assignment", "shift__post"]
    date_hierarchy = "created_at"
    fields = ["created_at", "action", "actor", "volunteer", "assignment", "shift", "before", "after", "reason_shown"]
    readonly_fields = fields

    @admin.display(description=_("reason"))
    def reason_shown(self, obj):
        return redact(obj.reason)


@admin.register(Dispatch)
class DispatchAdmin(ReadOnlyAdmin):
    """Made by ``coordination.dispatch_create`` (the committee's dispatch page); a record of what was
    sent. Volunteers are named by their public number and name, never a mobile or ID number."""

    people = ("created_by",)
    list_display = ["community", "team", "requested", "created_by", "created_at", "report_at"]
    list_filter = ["community__street__district"]
    search_fields = ["community__name", "team__name", "volunteers__volunteer_number"]
    list_select_related = ["community", "team", "created_by"]
    date_hierarchy = "created_at"
    fields = [
        "community",
        "team",
        "request",
        "requested",
        "members",
        "criteria",
        "note",
        "created_by",
        "created_at",
        "report_at",
    ]
    readonly_fields = fields

    @admin.display(description=_("volunteers"))
    def members(self, obj):
        return ", ".join(f"{v.volunteer_number} {v.real_name}" for v in obj.volunteers.order_by("volunteer_number"))

    def get_search_results(self, request, queryset, search_term):
        queryset, _duplicates = super().get_search_results(request, queryset, search_term)
        return queryset, True  # searching the volunteers' numbers joins the many-to-many


@admin.register(Recall)
class RecallAdmin(ReadOnlyAdmin):
    """Made by ``coordination.volunteers_recall``: who went back to the reserve, from which
    community and dispatch, by whom, and how many coming places were released. The volunteer is
    named by their public number and name; no mobile or ID number is shown or searched here (the
    volunteer's own page masks them)."""

    people = ("recalled_by",)
    list_display = [
        "recalled_at",
        "volunteer_number",
        "volunteer_name",
        "community",
        "dispatch",
        "places_released",
        "recalled_by",
        "reason",
    ]
    list_filter = ["community__street__district"]
    search_fields = ["volunteer__volunteer_number", "community__name", "reason"]
    list_select_related = ["volunteer", "community", "dispatch", "recalled_by"]
    date_hierarchy = "recalled_at"
    fields = [
        "volunteer_number",
        "volunteer_name",
        "community",
        "dispatch",
        "recalled_by",
        "recalled_at",
        "places_released",
        "reason",
    ]
    readonly_fields = fields

    @admin.display(description=_("volunteer number"), ordering="volunteer__volunteer_number")
    def volunteer_number(self, obj):
        return obj.volunteer.volunteer_number

    @admin.display(description=_("name"), ordering="volunteer__real_name")
    def volunteer_name(self, obj):
        return obj.volunteer.real_name


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    """Rows are made and sent by ``communities.notifications.outbox``; their key makes each message once.
    Deleting a row would let the sweep make and send it again; a failed one is sent again here."""

    people = ("recipient",)
    list_display = ["created_at", "kind", "channel", "recipient", "state", "attempts", "sent_at", "last_error"]
    list_filter = ["state", "channel", "kind", "urgent"]
    search_fields = ["key", "recipient__volunteer__volunteer_number", "recipient__volunteer__real_name"]
    list_select_related = ["recipient__volunteer"]
    date_hierarchy = "created_at"
    actions = ["retry"]
    # Texts carry other people's numbers (a dispatch names its coordinators', an escalation the
    # volunteer's): shown masked, as the logs show them.
    fields = [
        "key",
        "kind",
        "channel",
        "recipient",
        "assignment",
        "shift",
        "urgent",
        "subject_shown",
        "body_shown",
        "params_shown",
        "state",
        "send_after",
        "attempts",
        "last_error",
        "sent_at",
        "read_at",
        "created_at",
        "outside_id",
        "provider_message_id",
        "deferrals",
        "delivery_code",
        "delivered_at",
    ]
    readonly_fields = fields

    @admin.display(description=_("subject"))
    def subject_shown(self, obj):
        return redact(obj.subject)

    @admin.display(description=_("text"))
    def body_shown(self, obj):
        return redact(obj.body)

    @admin.display(description=_("template parameters"))
    def params_shown(self, obj):
        return redact(json.dumps(obj.params, ensure_ascii=False)) if obj.params else "-"

    @admin.action(description=_("Send the selected failed messages again"))
    def retry(self, request, queryset):
        sent = 0
        for notification_id in queryset.order_by("pk").values_list("pk", flat=True):
            try:
                outbox.notification_retry(user=request.user, notification_id=notification_id)
            except ServiceError as error:
                self.message_user(request, f"{notification_id}: {error.message}", level=messages.WARNING)
            else:
                sent += 1
        self.message_user(request, _("%(count)d queued again.") % {"count": sent}, level=messages.SUCCESS)


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


# --- People admin actions that reach into participation -------------------------------------------
# volunteers.admin registers the people models; the actions that release places (anonymisation)
# or create communities and posts (imports) are added here, one floor up.

admin.site.unregister(Volunteer)


@admin.register(Volunteer)
class VolunteerAdmin(volunteers_admin.VolunteerAdmin):
    actions = ["anonymise"]

    @admin.action(description=_("Delete the personal data of the selected volunteers (anonymise)"))
    def anonymise(self, request, queryset):
        done = 0
        for volunteer in queryset.order_by("pk"):
            try:
                volunteer_anonymise(volunteer=volunteer, actor=request.user)
            except ServiceError as error:
                self.message_user(request, f"{volunteer.volunteer_number}: {error.message}", level=messages.WARNING)
            else:
                done += 1
        self.message_user(request, _("%(count)d anonymised.") % {"count": done}, level=messages.SUCCESS)


class ImportForm(forms.Form):
    file = forms.FileField(label=_("File (.xlsx or .csv)"))
    kind = forms.ChoiceField(label=_("kind"), choices=ImportBatch.Kind.choices, initial=ImportBatch.Kind.VOLUNTEERS)
    dry_run = forms.BooleanField(label=_("Dry run: check every row, write nothing"), required=False, initial=True)


@admin.register(ImportBatch)
class ImportBatchAdmin(ReadOnlyAdmin):
    """Past imports, read-only; new ones come through the import page (communities.services.imports)."""

    people = ("created_by",)
    list_display = ["kind", "file_name", "rows", "created", "unchanged", "created_by", "created_at"]
    list_filter = ["kind"]
    search_fields = ["file_name"]
    list_select_related = ["created_by"]
    fields = ["kind", "file_name", "sha256", "rows", "created", "updated", "unchanged", "created_by", "created_at"]
    readonly_fields = fields

    def get_urls(self):
        from django.urls import path

        extra = [path("import/", self.admin_site.admin_view(self.import_view), name="volunteers_importbatch_import")]
        return extra + super().get_urls()

    def import_view(self, request):
        from django.template.response import TemplateResponse

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
                        _("Imported: %(created)d created, %(updated)d updated, %(unchanged)d unchanged.")
                        % {"created": result.created, "updated": result.updated, "unchanged": result.unchanged},
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


# --- Mobilisation: community requests and call-outs -----------------------------------------------


@admin.register(RecordCorrection)
class RecordCorrectionAdmin(ReadOnlyAdmin):
    """Reported by volunteers and answered by coordinators on their hours pages
    (``communities.services.corrections``, which audits and tells both); a record here. The
    volunteer is named by number and name."""

    people = ("answered_by",)
    list_display = ["created_at", "volunteer_shown", "shift", "status", "answered_at"]
    list_filter = ["status"]
    search_fields = ["assignment__volunteer__volunteer_number", "assignment__volunteer__real_name"]
    list_select_related = ["assignment__volunteer", "assignment__shift__post"]
    date_hierarchy = "created_at"
    fields = [
        "volunteer_shown",
        "shift",
        "message_shown",
        "status",
        "answer_shown",
        "answered_by",
        "created_at",
        "answered_at",
    ]
    readonly_fields = fields

    @admin.display(description=_("what is wrong"))
    def message_shown(self, obj):
        return redact(obj.message)

    @admin.display(description=_("answer"))
    def answer_shown(self, obj):
        return redact(obj.answer)

    @admin.display(description=_("volunteer"))
    def volunteer_shown(self, obj):
        return obj.assignment.volunteer  # name (number), never a mobile

    @admin.display(description=_("shift"))
    def shift(self, obj):
        return obj.assignment.shift


@admin.register(CommunityRequest)
class CommunityRequestAdmin(ReadOnlyAdmin):
    """Filed by coordinators and answered by dispatch or declined on the committee's requests page
    (``communities.services.community_requests``, which keeps ``dispatched`` under the request's
    lock and tells the coordinators); a record here."""

    people = ("requested_by", "decided_by")
    list_display = ["community", "wanted", "dispatched", "urgency", "status", "date_from", "date_to", "created_at"]
    list_filter = ["status", "urgency"]
    search_fields = ["community__name", "community__code"]
    list_select_related = ["community"]
    date_hierarchy = "created_at"
    fields = [
        "community",
        "requested_by",
        "wanted",
        "dispatched",
        "post_types",
        "skills",
        "date_from",
        "date_to",
        "time_from",
        "time_to",
        "urgency",
        "note",
        "status",
        "decline_reason",
        "decided_by",
        "created_at",
        "closed_at",
    ]
    readonly_fields = fields


@admin.register(Broadcast)
class BroadcastAdmin(ReadOnlyAdmin):
    """Call-outs are written on the call-out page and fanned out by ``services.broadcasts``; the
    messages themselves are Notification rows. A record of what was sent, to whom and at what cost."""

    people = ("sender",)
    list_display = ["created_at", "subject", "audience", "sender", "recipients", "by_sms", "texts", "urgent"]
    list_filter = ["audience", "by_sms", "urgent"]
    search_fields = ["subject", "message"]
    list_select_related = ["sender"]
    date_hierarchy = "created_at"
    fields = [
        "sender",
        "audience",
        "shift",
        "team",
        "community",
        "organization",
        "call",
        "link_shift",
        "subject",
        "message",
        "by_sms",
        "urgent",
        "recipients",
        "texts",
        "created_at",
        "fanned_out_at",
    ]
    readonly_fields = fields


# --- Recruitment: calls, agreements, applications ---------------------------------------------------
# The people-side models (volunteers.models); registered here because their admin actions call the
# recruitment service, one floor up. Calls are written on the committee's call pages.


class CallAgreementInline(admin.StackedInline):
    model = CallAgreement
    extra = 0
    fields = ["version", "text", "created_by", "created_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(RecruitmentCall)
class RecruitmentCallAdmin(ReadOnlyAdmin):
    """Written, published and closed on the committee's call pages (``services.recruitment``);
    here to read, and to close through the service."""

    people = ("created_by",)
    list_display = ["title", "slug", "organization", "status", "target_count", "deadline", "created_at"]
    list_filter = ["status"]
    search_fields = ["title", "slug", "organization__name"]
    list_select_related = ["organization"]
    date_hierarchy = "created_at"
    fields = [
        "title",
        "slug",
        "organization",
        "text",
        "target_count",
        "deadline",
        "min_age",
        "max_age",
        "categories",
        "required_skills",
        "required_qualifications",
        "approval_required",
        "status",
        "created_by",
        "created_at",
        "published_at",
        "closed_at",
    ]
    readonly_fields = fields
    inlines = [CallAgreementInline]
    actions = ["close_calls"]

    @admin.action(description=_("Close the selected calls (no more answers)"))
    def close_calls(self, request, queryset):
        closed = 0
        for call_id in queryset.order_by("pk").values_list("pk", flat=True):
            try:
                recruitment.call_close(actor=request.user, call_id=call_id)
            except ServiceError as error:
                self.message_user(request, f"{call_id}: {error.message}", level=messages.WARNING)
            else:
                closed += 1
        self.message_user(request, _("%(count)d closed.") % {"count": closed}, level=messages.SUCCESS)


@admin.register(CallAgreement)
class CallAgreementAdmin(ReadOnlyAdmin):
    """Each version of a call's agreement; applications keep the version their applicant accepted."""

    people = ("created_by",)
    list_display = ["call", "version", "created_by", "created_at"]
    search_fields = ["call__title", "call__slug"]
    list_select_related = ["call", "created_by"]
    fields = ["call", "version", "text", "created_by", "created_at"]
    readonly_fields = fields


@admin.register(CallApplication)
class CallApplicationAdmin(ReadOnlyAdmin):
    """Answers to calls, reviewed on the call's page (``services.recruitment``): approval registers
    the volunteer and texts them, so it is an action here; rejection needs a reason the applicant is
    texted, so it stays on the review page. Numbers are shown masked, the ID number only as its
    masked copy; anonymised answers (docs/recruitment.md, "Retention") show what statistics keep."""

    people = ("reviewed_by",)
    list_display = [
        "created_at",
        "call",
        "real_name",
        "mobile_masked",
        "id_number_masked",
        "organization",
        "status",
        "reviewed_at",
        "anonymised_at",
    ]
    list_filter = ["status", "call__status"]
    # No search by number or ID number: neither is shown here in full.
    search_fields = ["real_name", "call__title", "call__slug"]
    list_select_related = ["call", "organization"]
    date_hierarchy = "created_at"
    fields = [
        "call",
        "agreement",
        "agreement_accepted_at",
        "real_name",
        "mobile_masked",
        "id_number_masked",
        "birth_date",
        "gender",
        "organization",
        "team",
        "political_status",
        "categories",
        "skills",
        "qualifications",
        "residence_district",
        "residence_street",
        "residence_community",
        "emergency_contact_name",
        "emergency_contact_mobile_masked",
        "guardian_name",
        "guardian_mobile_masked",
        "guardian_consent",
        "volunteer",
        "status",
        "reject_reason_shown",
        "reviewed_by",
        "reviewed_at",
        "created_at",
        "anonymised_at",
    ]
    readonly_fields = fields
    actions = ["approve"]

    @admin.display(description=_("mobile number"))
    def mobile_masked(self, obj):
        return obj.mobile_masked

    @admin.display(description=_("emergency contact's mobile number"))
    def emergency_contact_mobile_masked(self, obj):
        return mask_mobile(obj.emergency_contact_mobile)

    @admin.display(description=_("guardian's mobile number"))
    def guardian_mobile_masked(self, obj):
        return mask_mobile(obj.guardian_mobile)

    @admin.display(description=_("reason for rejection"))
    def reject_reason_shown(self, obj):
        return redact(obj.reject_reason)

    def has_approve_permission(self, request):
        return request.user.has_perm("volunteers.change_callapplication")

    @admin.action(description=_("Approve the selected applications"), permissions=["approve"])
    def approve(self, request, queryset):
        result = recruitment.applications_approve(
            actor=request.user, application_ids=list(queryset.values_list("pk", flat=True))
        )
        for application_id, code in sorted(result["refused"].items()):
            self.message_user(request, f"{application_id}: {ServiceError(code).message}", level=messages.WARNING)
        count = len(result["approved"])
        self.message_user(request, _("%(count)d approved.") % {"count": count}, level=messages.SUCCESS)
