"""REST endpoints for volunteers' records (issue 20): the staff's volunteer list and edit, the
change requests volunteers submit and staff decide.

Thin: parse, call one selector or service, shape the answer. The scope is applied to the
queryset before anything else (``selectors.records``): a volunteer outside it is a 404.
"""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from communities.render import exports
from communities.selectors import records as selectors
from communities.selectors.people import volunteer_mobile_display
from communities.services import records
from config.errors import ServiceError
from volunteers.models import ChangeRequest, Qualification, Volunteer
from volunteers.selectors import user_volunteer
from volunteers.serializers import RefSerializer

# --- Shapes -----------------------------------------------------------------------------------


def _ref(obj):
    return {"id": obj.pk, "name": getattr(obj, "display_name", None) or str(obj)} if obj is not None else None


def proof_url(kind: str, pk: int) -> str:
    return reverse("record-proof", args=[kind, pk])


class QualificationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    qualification_type = serializers.CharField(source="qualification_type.code")
    name = serializers.CharField(source="qualification_type.display_name")
    certificate_number = serializers.CharField()
    valid_until = serializers.DateField(allow_null=True)
    proof_url = serializers.SerializerMethodField()

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_proof_url(self, obj: Qualification) -> str | None:
        return proof_url("qualification", obj.pk) if obj.proof else None


class VolunteerRecordSerializer(serializers.Serializer):
    """A volunteer as staff see them: the ID number masked, contact details in full only for
    those who may see the mobile number (``volunteer_mobile_visible_q``)."""

    id = serializers.IntegerField()
    volunteer_number = serializers.CharField()
    real_name = serializers.CharField()
    gender = serializers.CharField()
    id_number_masked = serializers.CharField()
    mobile = serializers.SerializerMethodField()
    email = serializers.SerializerMethodField()
    emergency_contact_name = serializers.CharField()
    emergency_contact_mobile = serializers.SerializerMethodField()
    organization = serializers.SerializerMethodField()
    team = serializers.SerializerMethodField()
    status = serializers.CharField()
    suspended_reason = serializers.CharField()
    categories = serializers.SerializerMethodField()
    skills = serializers.SerializerMethodField()
    insurance_valid_until = serializers.DateField(allow_null=True)
    insurer = serializers.CharField()
    insurance_policy_number = serializers.CharField()
    qualifications = QualificationSerializer(many=True)
    deployed_community = serializers.IntegerField(source="deployed_community_id", allow_null=True)

    def _visible(self, obj) -> bool:
        user = self.context["request"].user
        return volunteer_mobile_display(user, obj) == obj.mobile

    @extend_schema_field(serializers.CharField())
    def get_mobile(self, obj) -> str:
        return volunteer_mobile_display(self.context["request"].user, obj)

    @extend_schema_field(serializers.CharField())
    def get_email(self, obj) -> str:
        return obj.user.email if self._visible(obj) else records.mask_email(obj.user.email)

    @extend_schema_field(serializers.CharField())
    def get_emergency_contact_mobile(self, obj) -> str:
        value = obj.emergency_contact_mobile
        return value if (not value or self._visible(obj)) else records.MASKED["emergency_contact_mobile"](value)

    @extend_schema_field(RefSerializer)
    def get_organization(self, obj):
        return _ref(obj.organization)

    @extend_schema_field(RefSerializer(allow_null=True))
    def get_team(self, obj):
        return _ref(obj.team)

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_categories(self, obj) -> list[str]:
        return [category.code for category in obj.categories.all()]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_skills(self, obj) -> list[str]:
        return [skill.code for skill in obj.skills.all()]


class VolunteerFilterSerializer(serializers.Serializer):
    q = serializers.CharField(required=False, allow_blank=True, max_length=50, help_text="Name, number or mobile.")
    team = serializers.IntegerField(required=False, min_value=1)
    organization = serializers.IntegerField(required=False, min_value=1)
    status = serializers.ChoiceField(choices=Volunteer.Status.choices, required=False)
    category = serializers.SlugField(required=False)
    skill = serializers.SlugField(required=False)
    insurance_before = serializers.DateField(
        required=False, help_text="Insurance missing, or ending before this day (today: expired)."
    )
    qualification_before = serializers.DateField(required=False, help_text="A qualification ending before this day.")
    export = serializers.ChoiceField(
        choices=exports.FORMATS, required=False, help_text="Download every matching row as a file instead of JSON."
    )


def filters_from(data: dict) -> selectors.VolunteerFilters:
    names = selectors.VolunteerFilters.__dataclass_fields__
    return selectors.VolunteerFilters(**{name: value for name, value in data.items() if name in names})


class VolunteerUpdateSerializer(serializers.Serializer):
    mobile = serializers.CharField(required=False, max_length=20)
    email = serializers.CharField(required=False, allow_blank=True, max_length=254)
    emergency_contact_name = serializers.CharField(required=False, allow_blank=True, max_length=50)
    emergency_contact_mobile = serializers.CharField(required=False, allow_blank=True, max_length=20)
    organization = serializers.IntegerField(required=False, min_value=1)
    team = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    categories = serializers.ListField(child=serializers.SlugField(), required=False)
    skills = serializers.ListField(child=serializers.SlugField(), required=False)
    insurance_valid_until = serializers.DateField(required=False, allow_null=True)
    insurer = serializers.CharField(required=False, allow_blank=True, max_length=100)
    insurance_policy_number = serializers.CharField(required=False, allow_blank=True, max_length=64)
    status = serializers.ChoiceField(choices=Volunteer.Status.choices, required=False)
    suspended_reason = serializers.CharField(required=False, allow_blank=True, max_length=200)
    release_places = serializers.BooleanField(
        required=False,
        default=False,
        help_text="With a status away from active: release the volunteer's upcoming places; with a change of "
        "insurance or skills: release the upcoming places it makes them ineligible for (the waitlist is "
        "promoted, everyone told). Without it such a change is refused with `volunteer_has_upcoming_shifts`.",
    )


class VolunteerUpdatedSerializer(VolunteerRecordSerializer):
    changed = serializers.ListField(child=serializers.CharField())
    released = serializers.IntegerField(help_text="Upcoming places released.")


class QualificationRecordSerializer(serializers.Serializer):
    qualification_type = serializers.SlugField()
    valid_until = serializers.DateField(required=False, allow_null=True)
    certificate_number = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")
    proof = serializers.FileField(required=False, help_text="A JPEG or PNG photo or a PDF.")
    release_places = serializers.BooleanField(
        required=False,
        default=False,
        help_text="With an end date earlier than the one on record: release the upcoming places it makes the "
        "volunteer ineligible for (the waitlist is promoted, everyone told). Without it such a change is refused "
        "with `volunteer_has_upcoming_shifts`.",
    )


class QualificationRecordedSerializer(QualificationSerializer):
    released = serializers.IntegerField(source="released_places", help_text="Upcoming places released.")


class QualificationRemoveSerializer(serializers.Serializer):
    release_places = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Release the upcoming places the volunteer would no longer be eligible for without the "
        "qualification (the waitlist is promoted, everyone told). Without it such a removal is refused with "
        "`volunteer_has_upcoming_shifts`.",
    )


class QualificationRemovedSerializer(serializers.Serializer):
    released = serializers.IntegerField(help_text="Upcoming places released.")


class ChangeRequestSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    volunteer = serializers.SerializerMethodField()
    kind = serializers.CharField()
    state = serializers.CharField()
    qualification_type = serializers.CharField(source="qualification_type.code", allow_null=True, default=None)
    certificate_number = serializers.CharField()
    insurer = serializers.CharField()
    policy_number = serializers.CharField()
    valid_until = serializers.DateField()
    proof_url = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    decided_at = serializers.DateTimeField(allow_null=True)
    reason = serializers.CharField()

    @extend_schema_field(RefSerializer)
    def get_volunteer(self, obj):
        return {"id": obj.volunteer_id, "name": obj.volunteer.real_name}

    @extend_schema_field(serializers.CharField())
    def get_proof_url(self, obj) -> str:
        return proof_url("request", obj.pk)


class ChangeRequestSubmitSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=ChangeRequest.Kind.choices)
    valid_until = serializers.DateField()
    proof = serializers.FileField(help_text="A JPEG or PNG photo or a PDF, at most PROOF_MAX_BYTES.")
    qualification_type = serializers.SlugField(required=False, allow_blank=True, default="")
    certificate_number = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")
    insurer = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    policy_number = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")


class ChangeRequestApproveSerializer(serializers.Serializer):
    release_places = serializers.BooleanField(
        required=False,
        default=False,
        help_text="When the date approved is earlier than the one on record: release the upcoming places it makes "
        "the volunteer ineligible for (the waitlist is promoted, everyone told). Without it such an approval is "
        "refused with `volunteer_has_upcoming_shifts` and the request stays pending.",
    )


class ChangeRequestApprovedSerializer(ChangeRequestSerializer):
    released = serializers.IntegerField(source="released_places", help_text="Upcoming places released.")


class ChangeRequestRejectSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200, help_text="The volunteer reads it.")


def parse(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


_REFUSALS = {
    401: OpenApiResponse(description="Not authenticated."),
    403: OpenApiResponse(description="`permission_denied`: the caller manages no volunteers."),
    404: OpenApiResponse(description="`not_found`: no such volunteer in the caller's scope."),
}

# --- The staff's volunteer list --------------------------------------------------------------


def export_sheet(rows) -> exports.Sheet:
    from django.utils.translation import gettext_lazy as _

    columns = [
        exports.Column("volunteer_number", _("Volunteer number")),
        exports.Column("real_name", _("Name")),
        exports.Column("mobile", _("Mobile number")),
        exports.Column("organization", _("Organization")),
        exports.Column("team", _("Team")),
        exports.Column("status", _("Status")),
        exports.Column("categories", _("Categories")),
        exports.Column("skills", _("Skills")),
        exports.Column("insurance_valid_until", _("Insurance valid until"), "date"),
        exports.Column("qualifications", _("Qualifications")),
    ]
    return exports.Sheet(title=_("Volunteers"), columns=columns, rows=rows, note=_("No volunteers match."))


def export_rows(volunteers, *, user) -> list[dict]:
    return [
        {
            "volunteer_number": v.volunteer_number,
            "real_name": v.real_name,
            "mobile": volunteer_mobile_display(user, v),
            "organization": v.organization.display_name,
            "team": v.team.name if v.team else "",
            "status": v.get_status_display(),
            "categories": "、".join(c.display_name for c in v.categories.all()),
            "skills": "、".join(s.display_name for s in v.skills.all()),
            "insurance_valid_until": v.insurance_valid_until,
            "qualifications": "、".join(
                f"{q.qualification_type.display_name} {q.valid_until.isoformat() if q.valid_until else ''}".strip()
                for q in v.qualifications.all()
            ),
        }
        for v in volunteers
    ]


@extend_schema(tags=["volunteers"])
class VolunteerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Volunteers in the caller's scope: staff (their organization subtree) read and change them,
    team leaders read their teams'."""

    serializer_class = VolunteerRecordSerializer
    queryset = Volunteer.objects.none()

    def _require_list(self):
        if not selectors.may_list_volunteers(self.request.user):
            raise ServiceError("permission_denied")

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        self._require_list()
        queryset = selectors.volunteer_list(user=self.request.user)
        return queryset.select_related("user")

    @extend_schema(
        parameters=[VolunteerFilterSerializer],
        responses={
            200: VolunteerRecordSerializer(many=True),
            (200, exports.XLSX_TYPE): OpenApiTypes.BINARY,
            (200, "text/csv"): OpenApiTypes.BINARY,
            **_REFUSALS,
        },
        summary="Search the volunteers I manage (paginated; ?export=xlsx|csv: every match as a file)",
        operation_id="v1_volunteers_list",
    )
    def list(self, request, *args, **kwargs):
        self._require_list()
        params = parse(VolunteerFilterSerializer, request.query_params)
        queryset = selectors.volunteer_list(user=request.user, filters=filters_from(params)).select_related("user")
        if params.get("export"):
            sheet = export_sheet(export_rows(queryset, user=request.user))
            return exports.table_response(sheet, name="volunteers", fmt=params["export"])
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(responses={200: VolunteerRecordSerializer, **_REFUSALS}, summary="One volunteer I manage")
    def retrieve(self, request, *args, **kwargs):
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        request=VolunteerUpdateSerializer,
        responses={
            200: VolunteerUpdatedSerializer,
            400: OpenApiResponse(description="`invalid`, `reason_required` (suspension without a reason)."),
            403: OpenApiResponse(
                description="`permission_denied` (team leaders read only), `out_of_scope` (an organization or "
                "team the caller does not manage)."
            ),
            404: _REFUSALS[404],
            409: OpenApiResponse(
                description="`volunteer_has_upcoming_shifts`: the details list them; send `release_places`. "
                "`mobile_taken`, `volunteer_anonymised`."
            ),
        },
        summary="Change a volunteer I manage (only the fields given)",
    )
    def partial_update(self, request, *args, **kwargs):
        volunteer = self.get_object()
        data = parse(VolunteerUpdateSerializer, request.data)
        release = data.pop("release_places", False)
        if not selectors.may_manage_volunteers(request.user):
            raise ServiceError("permission_denied")
        result = records.volunteer_record_update(
            actor=request.user, volunteer_id=volunteer.pk, changes=data, release_places=release
        )
        volunteer = self.get_queryset().get(pk=result.volunteer.pk)
        body = dict(self.get_serializer(volunteer).data)
        body.update(changed=result.changed, released=result.released)
        return Response(body)

    @extend_schema(
        request={"multipart/form-data": QualificationRecordSerializer},
        responses={
            200: QualificationRecordedSerializer,
            **_REFUSALS,
            409: OpenApiResponse(
                description="`volunteer_has_upcoming_shifts`: with this end date the volunteer is no longer eligible "
                "for these upcoming places (in `details`, each with the reason); send `release_places`."
            ),
        },
        summary="Record a qualification (new or renewed) with an optional proof",
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def qualifications(self, request, pk=None):
        volunteer = self.get_object()
        if not selectors.may_manage_volunteers(request.user):
            raise ServiceError("permission_denied")
        data = parse(QualificationRecordSerializer, request.data)
        qualification = records.qualification_record(
            actor=request.user,
            volunteer_id=volunteer.pk,
            qualification_type_code=data["qualification_type"],
            valid_until=data.get("valid_until"),
            certificate_number=data["certificate_number"],
            proof=data.get("proof"),
            release_places=data["release_places"],
        )
        return Response(QualificationRecordedSerializer(qualification).data)

    @extend_schema(
        parameters=[QualificationRemoveSerializer],
        request=None,
        responses={
            200: QualificationRemovedSerializer,
            **_REFUSALS,
            404: OpenApiResponse(
                description="`not_found`: no such volunteer in the caller's scope, or no such qualification of theirs."
            ),
            409: OpenApiResponse(
                description="`volunteer_has_upcoming_shifts`: without the qualification the volunteer is no longer "
                "eligible for these upcoming places (in `details`, each with the reason); send `release_places=true`."
            ),
        },
        summary="Remove a qualification (cannot be undone; audited)",
        description="Staff only: a volunteer cannot remove their own (what eligibility reads is staff's to "
        "change), they ask staff.",
    )
    @action(detail=True, methods=["delete"], url_path=r"qualifications/(?P<qualification_id>[0-9]+)")
    def qualification_remove(self, request, pk=None, qualification_id=None):
        volunteer = self.get_object()
        if not selectors.may_manage_volunteers(request.user):
            raise ServiceError("permission_denied")
        params = parse(QualificationRemoveSerializer, request.query_params)
        released = records.qualification_remove(
            actor=request.user,
            volunteer_id=volunteer.pk,
            qualification_id=int(qualification_id),
            release_places=params["release_places"],
        )
        return Response({"released": released})


# --- Change requests -------------------------------------------------------------------------


@extend_schema(tags=["me"])
class MyChangeRequestsView(APIView):
    """The caller's change requests (renewed insurance, a new qualification), newest first."""

    parser_classes = [MultiPartParser, FormParser]

    def _volunteer(self, request) -> Volunteer:
        volunteer = user_volunteer(request.user)
        if volunteer is None:
            raise ServiceError("not_a_volunteer")
        return volunteer

    @extend_schema(responses={200: ChangeRequestSerializer(many=True)}, summary="My change requests")
    def get(self, request):
        volunteer = self._volunteer(request)
        rows = selectors.change_requests_of(volunteer=volunteer).select_related("volunteer")
        return Response(ChangeRequestSerializer(rows, many=True).data)

    @extend_schema(
        request={"multipart/form-data": ChangeRequestSubmitSerializer},
        responses={
            201: ChangeRequestSerializer,
            400: OpenApiResponse(description="`invalid`, `proof_invalid`, `proof_too_large`."),
            409: OpenApiResponse(description="`change_request_pending`: one is already waiting for this."),
        },
        summary="Ask for a renewed insurance or a new qualification to be recorded",
    )
    def post(self, request):
        self._volunteer(request)
        data = parse(ChangeRequestSubmitSerializer, request.data)
        change = records.change_request_submit(
            user=request.user,
            kind=data["kind"],
            valid_until=data["valid_until"],
            proof=data["proof"],
            qualification_type_code=data["qualification_type"],
            certificate_number=data["certificate_number"],
            insurer=data["insurer"],
            policy_number=data["policy_number"],
        )
        return Response(ChangeRequestSerializer(change).data, status=status.HTTP_201_CREATED)


STATE_PARAM = OpenApiParameter("state", str, enum=[*ChangeRequest.State.values, "all"], description="Default: pending.")


@extend_schema(tags=["volunteers"])
class ChangeRequestViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The staff's queue: requests of the volunteers they manage, oldest first."""

    serializer_class = ChangeRequestSerializer
    queryset = ChangeRequest.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        if not selectors.may_manage_volunteers(self.request.user):
            raise ServiceError("permission_denied")
        state = self.request.query_params.get("state", ChangeRequest.State.PENDING)
        if state not in (*ChangeRequest.State.values, "all"):
            raise ServiceError("invalid", {"state": [f"Not one of {', '.join(ChangeRequest.State.values)}, all"]})
        return selectors.change_requests_queue(user=self.request.user, state="" if state == "all" else state)

    @extend_schema(parameters=[STATE_PARAM], responses={200: ChangeRequestSerializer(many=True), **_REFUSALS})
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=ChangeRequestApproveSerializer,
        responses={
            200: ChangeRequestApprovedSerializer,
            **_REFUSALS,
            409: OpenApiResponse(
                description="`change_request_not_pending`; `volunteer_has_upcoming_shifts`: the date approved would "
                "cost the volunteer these upcoming places (in `details`); send `release_places`."
            ),
        },
        summary="Approve: the insurance or qualification goes on the record; the volunteer is told",
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        if not selectors.may_manage_volunteers(request.user):
            raise ServiceError("permission_denied")
        data = parse(ChangeRequestApproveSerializer, request.data)
        change = records.change_request_approve(
            actor=request.user, request_id=_id(pk), release_places=data["release_places"]
        )
        return Response(ChangeRequestApprovedSerializer(change).data)

    @extend_schema(
        request=ChangeRequestRejectSerializer,
        responses={
            200: ChangeRequestSerializer,
            **_REFUSALS,
            409: OpenApiResponse(description="`change_request_not_pending`"),
        },
        summary="Reject with a reason; the volunteer is told",
    )
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        if not selectors.may_manage_volunteers(request.user):
            raise ServiceError("permission_denied")
        data = parse(ChangeRequestRejectSerializer, request.data)
        change = records.change_request_reject(actor=request.user, request_id=_id(pk), reason=data["reason"])
        return Response(ChangeRequestSerializer(change).data)


def _id(pk) -> int:
    from config.params import as_id

    found = as_id(pk)
    if found is None:
        raise ServiceError("not_found")
    return found
