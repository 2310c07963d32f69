"""Shapes for the coordinator and committee endpoints."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from communities.models import Assignment, AuditEntry, CheckinCodeAttempts, Dispatch, Recall
from volunteers.idcard import mask_mobile


class SlotSerializer(serializers.Serializer):
    start = serializers.TimeField()
    end = serializers.TimeField(help_text="An end not after the start means the next day.")


class RotaRequestSerializer(serializers.Serializer):
    post = serializers.IntegerField(min_value=1)
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    slots = SlotSerializer(many=True, allow_empty=False)
    capacity = serializers.IntegerField(min_value=1, max_value=1000)
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=7), required=False, allow_empty=False
    )
    notes = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class RotaResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    skipped = serializers.IntegerField()
    shift_ids = serializers.ListField(child=serializers.IntegerField())


class ShiftUpdateSerializer(serializers.Serializer):
    starts_at = serializers.DateTimeField(required=False)
    ends_at = serializers.DateTimeField(required=False)
    capacity = serializers.IntegerField(required=False, min_value=1, max_value=1000)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=200)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class HoursApprovedSerializer(serializers.Serializer):
    approved = serializers.IntegerField(help_text="How many credited times were approved.")
    assignment_ids = serializers.ListField(child=serializers.IntegerField(), help_text="The assignments approved.")


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, help_text="Kept in the audit trail.")


class TimedReasonSerializer(ReasonSerializer):
    at = serializers.DateTimeField(
        required=False,
        help_text="Defaults to now (check-out: the shift's end at most); never in the future.",
    )


class NoShowSerializer(ReasonSerializer):
    early = serializers.BooleanField(
        default=False,
        help_text="Mark before the no-show grace (the sweep's, after the start) on purpose; the reason says why.",
    )


class HoursAdjustSerializer(ReasonSerializer):
    credited_minutes = serializers.IntegerField(min_value=0)


class AssignRequestSerializer(serializers.Serializer):
    volunteer_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), allow_empty=False, max_length=200
    )
    override_reason = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class AssignResultSerializer(serializers.Serializer):
    volunteer_id = serializers.IntegerField()
    result = serializers.ChoiceField(choices=["confirmed", "waitlisted", "refused"])
    assignment_id = serializers.IntegerField(required=False)
    waitlist_order = serializers.IntegerField(required=False, allow_null=True)
    override_reason = serializers.CharField(required=False)
    code = serializers.CharField(required=False)
    details = serializers.DictField(required=False)


class CheckinRequestSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=12)
    latitude = serializers.FloatField(required=False, allow_null=True, min_value=-90, max_value=90)
    longitude = serializers.FloatField(required=False, allow_null=True, min_value=-180, max_value=180)


class CheckinCodeSerializer(serializers.Serializer):
    code = serializers.CharField()
    expires_in = serializers.IntegerField(help_text="Seconds until the code changes.")
    step_seconds = serializers.IntegerField()
    checkin_url = serializers.CharField(help_text="What the QR code encodes.")
    qr_svg = serializers.CharField(help_text="The QR code as an SVG image.")


class CandidateSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    volunteer_number = serializers.CharField()
    name = serializers.CharField(source="real_name")
    organization = serializers.CharField(source="organization.display_name")
    team = serializers.CharField(source="team.name", default=None, allow_null=True)
    deployed_here = serializers.BooleanField()
    matching_skills = serializers.IntegerField()
    recent_hours = serializers.SerializerMethodField()
    rank = serializers.IntegerField()
    reason = serializers.CharField()

    @extend_schema_field(serializers.FloatField())
    def get_recent_hours(self, obj) -> float:
        return round(obj.recent_minutes / 60, 1)


class RosterVolunteerSerializer(serializers.Serializer):
    assignment_id = serializers.IntegerField(source="pk")
    volunteer_id = serializers.IntegerField(source="volunteer.pk")
    volunteer_number = serializers.CharField(source="volunteer.volunteer_number")
    name = serializers.CharField(source="volunteer.real_name")
    mobile = serializers.CharField(
        source="volunteer.shown_mobile",
        help_text="In full for those who may see it (docs/privacy.md: the community's coordinators while the "
        "volunteer has a shift there ending today or later), masked otherwise.",
    )
    team = serializers.CharField(source="volunteer.team.name", default=None, allow_null=True)
    status = serializers.CharField()
    waitlist_order = serializers.IntegerField(allow_null=True)
    checked_in_at = serializers.DateTimeField(allow_null=True)
    checked_out_at = serializers.DateTimeField(allow_null=True)
    checkin_flagged = serializers.BooleanField(help_text="Checked in without a location or outside the post's radius.")
    checkin_distance_m = serializers.IntegerField(allow_null=True)
    checkin_code_locked_at = serializers.DateTimeField(
        source="code_attempts.locked_at",
        default=None,
        allow_null=True,
        help_text="Too many wrong codes: check-in by code is locked; check them in by hand.",
    )
    credited_minutes = serializers.IntegerField(allow_null=True)
    hours_status = serializers.CharField()


class RosterShiftSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    post = serializers.CharField(source="post.name")
    post_type = serializers.CharField(source="post.post_type.display_name")
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    status = serializers.CharField()
    capacity = serializers.IntegerField()
    fill_rate = serializers.FloatField()
    checkin_opens_at = serializers.DateTimeField(help_text="Check-in (by code or by hand) opens then.")
    no_show_from = serializers.DateTimeField(
        help_text="From then a volunteer not checked in may be marked a no-show (earlier only with early=true)."
    )
    confirmed = RosterVolunteerSerializer(many=True)
    checked_in = RosterVolunteerSerializer(many=True)
    waitlisted = RosterVolunteerSerializer(many=True)
    no_show = RosterVolunteerSerializer(many=True)


class RosterSerializer(serializers.Serializer):
    community = serializers.IntegerField()
    date = serializers.DateField()
    shifts = RosterShiftSerializer(many=True)
    fill_rate = serializers.FloatField()


class AttendanceSerializer(serializers.ModelSerializer):
    volunteer_number = serializers.CharField(source="volunteer.volunteer_number", read_only=True)
    checkin_code_failures = serializers.SerializerMethodField()
    checkin_code_locked_at = serializers.DateTimeField(
        source="code_attempts.locked_at", default=None, allow_null=True, read_only=True
    )
    name = serializers.CharField(source="volunteer.real_name", read_only=True)
    mobile_masked = serializers.SerializerMethodField()

    class Meta:
        model = Assignment
        fields = [
            "id",
            "shift",
            "volunteer",
            "volunteer_number",
            "name",
            "mobile_masked",
            "status",
            "source",
            "waitlist_order",
            "override_reason",
            "checked_in_at",
            "checked_out_at",
            "checkin_method",
            "checkout_method",
            "checkin_flagged",
            "checkin_distance_m",
            "checkin_code_failures",
            "checkin_code_locked_at",
            "no_show_at",
            "credited_minutes",
            "hours_status",
            "verified_by",
            "verified_at",
        ]
        read_only_fields = fields

    def get_mobile_masked(self, obj) -> str:
        return mask_mobile(obj.volunteer.mobile)

    def get_checkin_code_failures(self, obj) -> int:
        """Wrong check-in codes so far (no row: none)."""
        try:
            return obj.code_attempts.failures
        except CheckinCodeAttempts.DoesNotExist:
            return 0


class AttendanceFilterSerializer(serializers.Serializer):
    shift = serializers.IntegerField(required=False, min_value=1)
    community = serializers.IntegerField(required=False, min_value=1)
    status = serializers.ChoiceField(choices=Assignment.Status.choices, required=False)
    hours_status = serializers.ChoiceField(choices=Assignment.HoursStatus.choices, required=False)


class AuditEntrySerializer(serializers.ModelSerializer):
    actor = serializers.CharField(source="actor.username", default=None, allow_null=True)

    class Meta:
        model = AuditEntry
        fields = ["id", "created_at", "action", "actor", "assignment", "shift", "before", "after", "reason"]
        read_only_fields = fields


class AuditFilterSerializer(serializers.Serializer):
    assignment = serializers.IntegerField(required=False, min_value=1)
    shift = serializers.IntegerField(required=False, min_value=1)
    action = serializers.ChoiceField(choices=AuditEntry.Action.choices, required=False)


class DispatchRequestSerializer(serializers.Serializer):
    community = serializers.IntegerField(min_value=1)
    team = serializers.IntegerField(required=False, min_value=1)
    count = serializers.IntegerField(required=False, min_value=1, max_value=5000)
    categories = serializers.ListField(child=serializers.SlugField(), required=False, default=list)
    skills = serializers.ListField(child=serializers.SlugField(), required=False, default=list)
    note = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    report_at = serializers.DateTimeField(
        required=False, allow_null=True, default=None, help_text="When the volunteers report (default: now)."
    )

    def validate(self, attrs):
        if ("team" in attrs) == ("count" in attrs):
            raise serializers.ValidationError("Give either a team or a number of volunteers.")
        return attrs


class RecallRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")


class DispatchRecallRequestSerializer(RecallRequestSerializer):
    volunteers = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        required=False,
        allow_empty=False,
        help_text="Recall only these of the dispatch's volunteers (default: all it still holds).",
    )
    team = serializers.IntegerField(
        required=False, min_value=1, help_text="Recall only this team's members of the dispatch."
    )


class RecallSerializer(serializers.ModelSerializer):
    volunteer_number = serializers.CharField(source="volunteer.volunteer_number", read_only=True)

    class Meta:
        model = Recall
        fields = [
            "id",
            "dispatch",
            "volunteer",
            "volunteer_number",
            "community",
            "places_released",
            "recalled_at",
            "reason",
        ]
        read_only_fields = fields


class DispatchSerializer(serializers.ModelSerializer):
    volunteer_count = serializers.IntegerField(read_only=True)
    created_by = serializers.CharField(source="created_by.username", default=None, allow_null=True)

    class Meta:
        model = Dispatch
        fields = [
            "id",
            "community",
            "team",
            "requested",
            "criteria",
            "volunteer_count",
            "created_by",
            "created_at",
            "report_at",
            "note",
        ]
        read_only_fields = fields
