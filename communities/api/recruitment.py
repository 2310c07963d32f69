"""REST endpoints for recruitment calls: staff publish and review (their organisations' subtree
only); anyone with a call's link reads it and answers it (rate-limited, no personal data out)."""

from __future__ import annotations

from types import SimpleNamespace

from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from communities.api.recruitment_serializers import (
    ApplicationFilterSerializer,
    ApplicationRejectSerializer,
    ApplicationSerializer,
    BulkApproveResultSerializer,
    BulkApproveSerializer,
    CallListSerializer,
    CallSerializer,
    CallWriteSerializer,
    PublicApplyResultSerializer,
    PublicApplySerializer,
    PublicCallSerializer,
    PublicCodeRequestSerializer,
    PublicCodeResponseSerializer,
)
from communities.selectors import recruitment as selectors
from communities.services import recruitment as services
from config.client import client_ip
from config.errors import ServiceError, error_body
from config.throttling import ScopedRateThrottle
from volunteers.models import CallApplication, QualificationType, RecruitmentCall, Skill, VolunteerCategory
from volunteers.selectors import is_committee_staff


def _parse(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _require_staff(user) -> None:
    if not is_committee_staff(user):
        raise ServiceError("permission_denied")


@extend_schema(tags=["recruitment"])
class CallViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Recruitment calls of the caller's organisations (staff; superusers see all)."""

    queryset = RecruitmentCall.objects.none()
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_serializer_class(self):
        return CallListSerializer if self.action == "list" else CallSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        _require_staff(self.request.user)
        return selectors.calls_visible_to(self.request.user)

    def get_object(self):
        _require_staff(self.request.user)
        call = selectors.call_for_staff(self.request.user, self._pk())
        if call is None:
            raise ServiceError("not_found")
        return call

    def _pk(self) -> int:
        try:
            return int(self.kwargs["pk"])
        except (TypeError, ValueError):
            raise ServiceError("not_found") from None

    def _answer(self, call_id: int, code: int = 200) -> Response:
        call = selectors.call_for_staff(self.request.user, call_id)
        return Response(CallSerializer(call, context={"request": self.request}).data, status=code)

    @extend_schema(request=CallWriteSerializer, responses={201: CallSerializer})
    def create(self, request, *args, **kwargs):
        _require_staff(request.user)
        data = _parse(CallWriteSerializer, request.data)
        call = services.call_create(actor=request.user, **data)
        return self._answer(call.pk, status.HTTP_201_CREATED)

    @extend_schema(request=CallWriteSerializer(partial=True), responses=CallSerializer)
    def partial_update(self, request, *args, **kwargs):
        call = self.get_object()
        serializer = CallWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.call_update(actor=request.user, call_id=call.pk, **serializer.validated_data)
        return self._answer(call.pk)

    @extend_schema(exclude=True)
    def update(self, request, *args, **kwargs):
        raise ServiceError("method_not_allowed")

    @extend_schema(request=None, responses=CallSerializer)
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        """Open the call to answers (its public page and poster work from now on)."""
        call = self.get_object()
        services.call_publish(actor=request.user, call_id=call.pk)
        return self._answer(call.pk)

    @extend_schema(request=None, responses=CallSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        """Stop taking answers; applications already in stay to be reviewed."""
        call = self.get_object()
        services.call_close(actor=request.user, call_id=call.pk)
        return self._answer(call.pk)

    @extend_schema(parameters=[ApplicationFilterSerializer], responses=ApplicationSerializer(many=True))
    @action(detail=True, methods=["get"])
    def applications(self, request, pk=None):
        """The review queue, oldest first; mobile and ID numbers masked."""
        _require_staff(request.user)
        if not selectors.call_in_scope(request.user, self._pk()):
            raise ServiceError("not_found")
        filters = _parse(ApplicationFilterSerializer, request.query_params.dict())
        queryset = selectors.applications_for_review(request.user, call_id=self._pk(), filters=filters)
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(ApplicationSerializer(page, many=True).data)


@extend_schema(tags=["recruitment"])
class ApplicationViewSet(viewsets.GenericViewSet):
    """Review of applications: approve (one or many) or reject with a reason."""

    queryset = CallApplication.objects.none()
    serializer_class = ApplicationSerializer

    def _pk(self) -> int:
        try:
            return int(self.kwargs["pk"])
        except (TypeError, ValueError):
            raise ServiceError("not_found") from None

    def _answer(self, application_id: int) -> Response:
        application = CallApplication.objects.select_related(
            "organization",
            "team",
            "agreement",
            "volunteer",
            "residence_district",
            "residence_street",
            "residence_community",
        ).get(pk=application_id)
        return Response(ApplicationSerializer(application).data)

    @extend_schema(request=None, responses=ApplicationSerializer)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """The applicant becomes a reserve volunteer of the organisation they chose, and is texted."""
        _require_staff(request.user)
        application = services.application_approve(actor=request.user, application_id=self._pk())
        return self._answer(application.pk)

    @extend_schema(request=ApplicationRejectSerializer, responses=ApplicationSerializer)
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """The applicant is texted the reason."""
        _require_staff(request.user)
        data = _parse(ApplicationRejectSerializer, request.data)
        application = services.application_reject(actor=request.user, application_id=self._pk(), **data)
        return self._answer(application.pk)

    @extend_schema(
        request=BulkApproveSerializer, responses=BulkApproveResultSerializer, operation_id="applications_approve_many"
    )
    @action(detail=False, methods=["post"], url_path="approve")
    def approve_many(self, request):
        """Approve several at once; each on its own, so one refused does not hold back the rest."""
        _require_staff(request.user)
        data = _parse(BulkApproveSerializer, request.data)
        result = services.applications_approve(actor=request.user, application_ids=data["ids"])
        return Response({"approved": result["approved"], "refused": {str(k): v for k, v in result["refused"].items()}})


# --- Public ----------------------------------------------------------------------------------


def public_payload(call: RecruitmentCall) -> SimpleNamespace:
    """A public call with the choices its form offers: names and ids only, no person in it."""
    choices = selectors.application_choices(call)
    return SimpleNamespace(
        slug=call.slug,
        title=call.title,
        text=call.text,
        organization=call.organization,
        deadline=call.deadline,
        open=selectors.call_accepts_answers(call),
        target_count=call.target_count,
        approved=call.approved,
        min_age=call.min_age,
        max_age=call.max_age,
        categories=call.categories,
        required_skills=call.required_skills,
        required_qualifications=call.required_qualifications,
        approval_required=call.approval_required,
        agreement=selectors.call_agreement(call),
        choices=SimpleNamespace(
            organizations=choices.organizations,
            teams=choices.teams,
            categories=list(VolunteerCategory.objects.order_by("code")),
            skills=list(Skill.objects.order_by("code")),
            qualifications=list(QualificationType.objects.order_by("code")),
            districts=[SimpleNamespace(id=d.pk, display_name=d.display_name, parent=None) for d in choices.districts],
            streets=[
                SimpleNamespace(id=s.pk, display_name=s.display_name, parent=s.district_id) for s in choices.streets
            ],
            communities=[
                SimpleNamespace(id=c.pk, display_name=c.display_name, parent=c.street_id) for c in choices.communities
            ],
        ),
    )


def application_result_message(application: CallApplication) -> str:
    if application.status == CallApplication.Status.APPROVED:
        return gettext("You are registered. Log in with your mobile number and a texted code to find shifts.")
    return gettext("Thank you. Your application is waiting for review; we will text you the result.")


class PublicThrottled(APIView):
    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "public_call"


@extend_schema(tags=["recruitment"])
class PublicCallView(PublicThrottled):
    """A published call, for its public page or a mini-program: no personal data."""

    @extend_schema(responses={200: PublicCallSerializer, 404: OpenApiResponse(description="`not_found`")})
    def get(self, request, slug: str):
        call = selectors.public_call(slug)
        if call is None:
            raise ServiceError("not_found")
        return Response(PublicCallSerializer(public_payload(call)).data)


@extend_schema(tags=["recruitment"])
class PublicCallCodeView(PublicThrottled):
    """Text a code to the number of someone answering the call (any valid number gets one)."""

    throttle_scope = "public_call_apply"

    @extend_schema(
        request=PublicCodeRequestSerializer,
        responses={
            202: PublicCodeResponseSerializer,
            400: OpenApiResponse(description="`invalid`"),
            404: OpenApiResponse(description="`not_found`"),
            409: OpenApiResponse(description="`call_closed`"),
            429: OpenApiResponse(description="`sms_code_throttled` (`details.retry_after`) or `throttled`"),
        },
    )
    def post(self, request, slug: str):
        data = _parse(PublicCodeRequestSerializer, request.data)
        try:
            wait = services.call_code_request(slug=slug, mobile=data["mobile"], ip=client_ip(request))
        except ServiceError as error:
            if error.code == "sms_code_throttled":
                return Response(
                    error_body(error.code, details=error.details),
                    status=429,
                    headers={"Retry-After": str(error.details["retry_after"])},
                )
            raise
        return Response({"resend_after": wait}, status=202)


@extend_schema(tags=["recruitment"])
class PublicCallApplyView(PublicThrottled):
    """Answer a call: the texted code, who you are, the agreement accepted."""

    throttle_scope = "public_call_apply"

    @extend_schema(
        request=PublicApplySerializer,
        responses={
            201: PublicApplyResultSerializer,
            400: OpenApiResponse(description="`invalid` (field → messages)"),
            401: OpenApiResponse(description="`login_code_invalid`: the code is wrong, expired or used."),
            404: OpenApiResponse(description="`not_found`"),
            409: OpenApiResponse(
                description="`call_closed`; `agreement_changed` (read it again: `details.agreement_version`); "
                "`already_applied` (`details.status`); `contact_staff`: these details cannot be registered here."
            ),
            429: OpenApiResponse(description="`throttled`"),
        },
    )
    def post(self, request, slug: str):
        data = _parse(PublicApplySerializer, request.data)
        application = services.call_apply(slug=slug, form=services.ApplicationForm.from_data(data), code=data["code"])
        return Response(
            {"status": application.status, "message": application_result_message(application)},
            status=status.HTTP_201_CREATED,
        )
