"""Shapes for recruitment calls and applications (docs/recruitment.md)."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from volunteers.idcard import mask_mobile
from volunteers.models import (
    CallApplication,
    Organization,
    QualificationType,
    RecruitmentCall,
    Skill,
    VolunteerCategory,
)


class NamedRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="display_name")


class AgreementSerializer(serializers.Serializer):
    version = serializers.IntegerField()
    text = serializers.CharField()


class ProgressSerializer(serializers.Serializer):
    answered = serializers.IntegerField()
    approved = serializers.IntegerField()
    pending = serializers.IntegerField()
    target = serializers.IntegerField()


class CallLinksSerializer(serializers.Serializer):
    page = serializers.CharField()
    short = serializers.CharField()
    poster_png = serializers.CharField()
    poster_pdf = serializers.CharField()


def call_links(call, request=None) -> dict:
    def absolute(path: str) -> str:
        return request.build_absolute_uri(path) if request is not None else path

    return {
        "page": absolute(reverse("call-page", args=[call.slug])),
        "short": absolute(reverse("call-short", args=[call.slug])),
        "poster_png": absolute(reverse("call-poster-png", args=[call.slug])),
        "poster_pdf": absolute(reverse("call-poster-pdf", args=[call.slug])),
    }


class CallSerializer(serializers.ModelSerializer):
    """A call as its staff see it, with progress and links (public page, poster)."""

    organization = NamedRefSerializer()
    categories = NamedRefSerializer(many=True)
    required_skills = NamedRefSerializer(many=True)
    required_qualifications = NamedRefSerializer(many=True)
    agreement = serializers.SerializerMethodField()
    progress = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta:
        model = RecruitmentCall
        fields = [
            "id",
            "slug",
            "status",
            "title",
            "text",
            "organization",
            "target_count",
            "deadline",
            "min_age",
            "max_age",
            "categories",
            "required_skills",
            "required_qualifications",
            "approval_required",
            "agreement",
            "progress",
            "links",
            "created_at",
            "published_at",
            "closed_at",
        ]
        read_only_fields = fields

    @extend_schema_field(AgreementSerializer)
    def get_agreement(self, call) -> dict:
        agreement = next(iter(call.agreements.all()))
        return {"version": agreement.version, "text": agreement.text}

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, call) -> dict:
        return {
            "answered": call.answered,
            "approved": call.approved,
            "pending": call.pending,
            "target": call.target_count,
        }

    @extend_schema_field(CallLinksSerializer)
    def get_links(self, call) -> dict:
        return call_links(call, self.context.get("request"))


class CallListSerializer(CallSerializer):
    class Meta(CallSerializer.Meta):
        fields = [
            "id",
            "slug",
            "status",
            "title",
            "organization",
            "target_count",
            "deadline",
            "approval_required",
            "progress",
            "links",
            "created_at",
        ]
        read_only_fields = fields


class CallWriteSerializer(serializers.Serializer):
    organization = serializers.PrimaryKeyRelatedField(queryset=Organization.objects.all())
    title = serializers.CharField(max_length=100)
    text = serializers.CharField(max_length=5000)
    target_count = serializers.IntegerField(min_value=1, max_value=100_000)
    deadline = serializers.DateTimeField()
    min_age = serializers.IntegerField(min_value=0, max_value=120, required=False, allow_null=True)
    max_age = serializers.IntegerField(min_value=0, max_value=120, required=False, allow_null=True)
    approval_required = serializers.BooleanField(default=True)
    categories = serializers.PrimaryKeyRelatedField(queryset=VolunteerCategory.objects.all(), many=True, default=list)
    required_skills = serializers.PrimaryKeyRelatedField(queryset=Skill.objects.all(), many=True, default=list)
    required_qualifications = serializers.PrimaryKeyRelatedField(
        queryset=QualificationType.objects.all(), many=True, default=list
    )
    agreement_text = serializers.CharField(
        max_length=20_000,
        help_text="The volunteer service agreement (《志愿服务条例》第十四条). A changed text is a new version.",
    )


class ApplicationFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=CallApplication.Status.choices, required=False)
    organization = serializers.IntegerField(required=False, help_text="This organisation and those below it.")
    minor = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="Under-18s only (or not)."
    )
    q = serializers.CharField(required=False, max_length=50, help_text="Part of the name.")


class ApplicationSerializer(serializers.ModelSerializer):
    """An application as a reviewer sees it: the mobile numbers and the ID number masked."""

    mobile = serializers.CharField(source="mobile_masked")
    organization = NamedRefSerializer()
    team = serializers.CharField(source="team.name", default=None, allow_null=True)
    categories = NamedRefSerializer(many=True)
    skills = NamedRefSerializer(many=True)
    qualifications = NamedRefSerializer(many=True)
    residence = serializers.SerializerMethodField()
    emergency_contact_mobile = serializers.SerializerMethodField()
    guardian_mobile = serializers.SerializerMethodField()
    agreement_version = serializers.IntegerField(source="agreement.version")
    volunteer_number = serializers.CharField(source="volunteer.volunteer_number", default=None, allow_null=True)

    class Meta:
        model = CallApplication
        fields = [
            "id",
            "status",
            "real_name",
            "mobile",
            "id_number_masked",
            "birth_date",
            "gender",
            "organization",
            "team",
            "political_status",
            "categories",
            "skills",
            "qualifications",
            "residence",
            "emergency_contact_name",
            "emergency_contact_mobile",
            "guardian_name",
            "guardian_mobile",
            "guardian_consent",
            "agreement_version",
            "agreement_accepted_at",
            "volunteer_number",
            "reject_reason",
            "created_at",
            "reviewed_at",
        ]
        read_only_fields = fields

    def get_residence(self, application) -> str:
        places = (application.residence_district, application.residence_street, application.residence_community)
        return " ".join(place.display_name for place in places if place is not None)

    def get_emergency_contact_mobile(self, application) -> str:
        return mask_mobile(application.emergency_contact_mobile)

    def get_guardian_mobile(self, application) -> str:
        return mask_mobile(application.guardian_mobile) if application.guardian_mobile else ""


class ApplicationRejectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, help_text="Texted to the applicant.")


class BulkApproveSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1), allow_empty=False, max_length=500)


class BulkApproveResultSerializer(serializers.Serializer):
    approved = serializers.ListField(child=serializers.IntegerField())
    refused = serializers.DictField(child=serializers.CharField(), help_text="Application id → error code.")


# --- Public --------------------------------------------------------------------------------


class PublicOrganizationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="display_name")
    depth = serializers.IntegerField()


class PublicTeamSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    organization = serializers.IntegerField(source="organization_id")


class PublicPlaceSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="display_name")
    parent = serializers.IntegerField(allow_null=True)


class PublicChoicesSerializer(serializers.Serializer):
    organizations = PublicOrganizationSerializer(many=True)
    teams = PublicTeamSerializer(many=True)
    categories = NamedRefSerializer(many=True)
    skills = NamedRefSerializer(many=True)
    qualifications = NamedRefSerializer(many=True)
    districts = PublicPlaceSerializer(many=True)
    streets = PublicPlaceSerializer(many=True)
    communities = PublicPlaceSerializer(many=True)


class PublicCallSerializer(serializers.Serializer):
    """What anyone with the link sees: the call, who may answer, the agreement, and counts only."""

    slug = serializers.CharField()
    title = serializers.CharField()
    text = serializers.CharField()
    organization = serializers.CharField(source="organization.display_name")
    deadline = serializers.DateTimeField()
    open = serializers.BooleanField()
    target_count = serializers.IntegerField()
    approved = serializers.IntegerField()
    min_age = serializers.IntegerField(allow_null=True)
    max_age = serializers.IntegerField(allow_null=True)
    categories = NamedRefSerializer(many=True, source="categories.all")
    required_skills = NamedRefSerializer(many=True, source="required_skills.all")
    required_qualifications = NamedRefSerializer(many=True, source="required_qualifications.all")
    approval_required = serializers.BooleanField()
    agreement = AgreementSerializer()
    choices = PublicChoicesSerializer()


class PublicCodeRequestSerializer(serializers.Serializer):
    mobile = serializers.CharField(max_length=20)


class PublicCodeResponseSerializer(serializers.Serializer):
    resend_after = serializers.IntegerField(help_text="Seconds before this number may ask for another code.")


class PublicApplySerializer(serializers.Serializer):
    mobile = serializers.CharField(max_length=20)
    code = serializers.CharField(max_length=10)
    real_name = serializers.CharField(max_length=50)
    id_number = serializers.CharField(max_length=24)
    organization = serializers.IntegerField(min_value=1)
    team = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    political_status = serializers.CharField(max_length=16, required=False, default="masses")
    categories = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, default=list)
    skills = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, default=list)
    qualifications = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, default=list)
    residence_district = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    residence_street = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    residence_community = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    emergency_contact_name = serializers.CharField(max_length=50)
    emergency_contact_mobile = serializers.CharField(max_length=11)
    guardian_name = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    guardian_mobile = serializers.CharField(max_length=11, required=False, allow_blank=True, default="")
    guardian_consent = serializers.BooleanField(required=False, default=False)
    agreement_version = serializers.IntegerField(min_value=1)
    accepts_agreement = serializers.BooleanField()


class PublicApplyResultSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=CallApplication.Status.choices)
    message = serializers.CharField()
