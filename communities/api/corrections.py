"""Reported errors in service records (``communities.services.corrections``) over HTTP: a
volunteer reports one of their places (``POST /api/v1/assignments/{id}/report-error/``) and reads
their reports (``GET /api/v1/me/record-corrections/``); coordinators read the open reports at
their communities and answer them (``/api/v1/record-corrections/``)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.generics import ListAPIView
from rest_framework.response import Response

from communities.api.coordinator import parse, require_coordinator
from communities.models import RecordCorrection
from communities.selectors import shifts as shift_selectors
from communities.services import corrections
from config.errors import ServiceError
from config.params import object_id
from volunteers.selectors import user_volunteer


class RecordCorrectionSerializer(serializers.ModelSerializer):
    shift = serializers.SerializerMethodField()
    volunteer = serializers.SerializerMethodField()
    place_status = serializers.CharField(source="assignment.status", help_text="The place's status as recorded.")

    class Meta:
        model = RecordCorrection
        fields = [
            "id",
            "assignment",
            "place_status",
            "shift",
            "volunteer",
            "message",
            "status",
            "answer",
            "created_at",
            "answered_at",
        ]
        read_only_fields = fields

    def get_shift(self, obj) -> dict:
        shift = obj.assignment.shift
        return {
            "id": shift.pk,
            "starts_at": shift.starts_at,
            "ends_at": shift.ends_at,
            "community": shift.community.display_name,
            "post": shift.post.name,
        }

    def get_volunteer(self, obj) -> dict:
        volunteer = obj.assignment.volunteer
        return {"id": volunteer.pk, "name": volunteer.real_name, "volunteer_number": volunteer.volunteer_number}


class ReportSerializer(serializers.Serializer):
    message = serializers.CharField(max_length=corrections.MAX_LENGTH, help_text="What is wrong in the record.")


class AnswerSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(
        choices=["corrected", "declined"], help_text="corrected: the record was put right; declined: it stays."
    )
    answer = serializers.CharField(
        max_length=corrections.MAX_LENGTH, required=False, allow_blank=True, help_text="Required to decline."
    )


class CorrectSerializer(serializers.Serializer):
    attended_from = serializers.DateTimeField(
        required=False, help_text="A place not attended on the record: at the post from (with `attended_to`)."
    )
    attended_to = serializers.DateTimeField(required=False, help_text="… until.")
    credited_minutes = serializers.IntegerField(
        required=False, min_value=0, help_text="An attended place: the credited time as it should be."
    )
    answer = serializers.CharField(max_length=corrections.MAX_LENGTH, required=False, allow_blank=True)


_SELECTED = ("assignment__volunteer", "assignment__shift__post", "assignment__shift__community")


@extend_schema(tags=["records"])
class MyRecordCorrectionsView(ListAPIView):
    """The caller's reported errors, newest first."""

    serializer_class = RecordCorrectionSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return RecordCorrection.objects.none()
        volunteer = user_volunteer(self.request.user)
        if volunteer is None:
            raise ServiceError("not_a_volunteer")
        return (
            RecordCorrection.objects.filter(assignment__volunteer=volunteer)
            .select_related(*_SELECTED)
            .order_by("-created_at", "-id")
        )


@extend_schema(tags=["coordination"])
class RecordCorrectionViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Reported errors waiting for an answer at the caller's communities, oldest first."""

    serializer_class = RecordCorrectionSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return RecordCorrection.objects.none()
        require_coordinator(self.request.user)
        return shift_selectors.corrections_open_for(self.request.user)

    @extend_schema(
        request=AnswerSerializer,
        responses={
            200: RecordCorrectionSerializer,
            409: OpenApiResponse(description="`correction_not_pending`: already answered."),
        },
        summary="Answer a reported error: corrected, or declined with a reason; the volunteer is told",
    )
    @action(detail=True, methods=["post"])
    def answer(self, request, pk=None):
        require_coordinator(request.user)
        data = parse(AnswerSerializer, request.data)
        correction = corrections.correction_answer(
            actor=request.user,
            correction_id=object_id(pk),
            corrected=data["decision"] == "corrected",
            answer=data.get("answer", ""),
        )
        return Response(RecordCorrectionSerializer(correction).data)

    @extend_schema(
        request=CorrectSerializer,
        responses={
            200: RecordCorrectionSerializer,
            409: OpenApiResponse(description="`correction_not_pending`; or the attendance rules' refusal."),
        },
        summary="Correct the record as reported (times at the post, or the credited time) and answer",
    )
    @action(detail=True, methods=["post"])
    def correct(self, request, pk=None):
        require_coordinator(request.user)
        data = parse(CorrectSerializer, request.data)
        attended = None
        if data.get("attended_from") and data.get("attended_to"):
            attended = (data["attended_from"], data["attended_to"])
        correction = corrections.correction_correct(
            actor=request.user,
            correction_id=object_id(pk),
            answer=data.get("answer", ""),
            attended=attended,
            credited_minutes=data.get("credited_minutes"),
        )
        return Response(RecordCorrectionSerializer(correction).data)
