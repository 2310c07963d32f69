"""REST endpoints for communities, shifts and the caller's assignments. Thin: parse, call, shape."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from communities.api import coordinator
from communities.api.coordinator_serializers import (
    AssignRequestSerializer,
    AssignResultSerializer,
    CandidateSerializer,
    CheckinCodeSerializer,
    CheckinRequestSerializer,
    HoursApprovedSerializer,
    ReasonSerializer,
    RosterSerializer,
    RotaRequestSerializer,
    RotaResultSerializer,
    ShiftUpdateSerializer,
)
from communities.api.corrections import RecordCorrectionSerializer, ReportSerializer
from communities.api.serializers import (
    AssignmentDetailSerializer,
    AssignmentFilterSerializer,
    AssignmentSerializer,
    CommunityFilterSerializer,
    CommunitySerializer,
    ShiftFilterSerializer,
    ShiftSerializer,
)
from communities.models import Assignment, Community, Shift
from communities.selectors import shifts as shift_selectors
from communities.selectors.offers import shift_offers
from communities.services import attendance, coordination, corrections, signup
from config.errors import ServiceError
from config.pagination import IdsFirstPagination, WindowCountPagination
from config.params import as_date, object_id
from volunteers.selectors import user_volunteer

ERROR_RESPONSES = {
    400: OpenApiResponse(description="Malformed input; `details` holds the field errors."),
    401: OpenApiResponse(description="Not authenticated."),
    403: OpenApiResponse(description="Not allowed, or not eligible (`not_eligible`)."),
    404: OpenApiResponse(description="Not found."),
    409: OpenApiResponse(description="Refused by a rule; `code` says which."),
}


def parse_query(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.query_params.dict())
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def require_volunteer(request):
    volunteer = user_volunteer(request.user)
    if volunteer is None:
        raise ServiceError("not_a_volunteer")
    return volunteer


@extend_schema(tags=["communities"])
class CommunityViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = CommunitySerializer

    def get_queryset(self):
        if self.action == "list":
            return shift_selectors.community_list(**parse_query(CommunityFilterSerializer, self.request))
        return shift_selectors.community_list()

    @extend_schema(parameters=[CommunityFilterSerializer])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def _managed_community(self, pk) -> Community:
        coordinator.require_coordinator(self.request.user)
        return get_object_or_404(shift_selectors.communities_managed_by(self.request.user), pk=object_id(pk))

    @extend_schema(
        tags=["coordination"],
        request=RotaRequestSerializer,
        responses={201: RotaResultSerializer, **ERROR_RESPONSES},
        summary="Create shifts in bulk from a pattern",
    )
    @action(detail=True, methods=["post"])
    def rota(self, request, pk=None):
        community = self._managed_community(pk)
        data = coordinator.parse(RotaRequestSerializer, request.data)
        result = coordination.rota_create(
            actor=request.user,
            community=community,
            post_id=data["post"],
            date_from=data["date_from"],
            date_to=data["date_to"],
            slots=[(slot["start"], slot["end"]) for slot in data["slots"]],
            capacity=data["capacity"],
            weekdays=data.get("weekdays"),
            notes=data["notes"],
        )
        return Response(result, status=status.HTTP_201_CREATED)

    @extend_schema(tags=["coordination"], parameters=[coordinator.ROSTER_DATE], responses=RosterSerializer)
    @action(detail=True, methods=["get"])
    def roster(self, request, pk=None):
        community = self._managed_community(pk)
        raw = request.query_params.get("date")
        day = as_date(raw) if raw else coordinator.today()
        if day is None:
            raise ServiceError("invalid", {"date": [_("Use the format YYYY-MM-DD.")]})
        return Response(RosterSerializer(coordinator.roster_payload(community, day, user=request.user)).data)


@extend_schema(tags=["shifts"])
class ShiftViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = ShiftSerializer
    pagination_class = IdsFirstPagination  # the page's ids in the list's order first, then their rows

    def get_queryset(self):
        volunteer = user_volunteer(self.request.user)
        if self.action == "list":
            filters = parse_query(ShiftFilterSerializer, self.request)
            near = shift_selectors.volunteer_place(volunteer) if filters.pop("order") == "near" else None
            return shift_selectors.shift_list(volunteer=volunteer, near=near, **filters)
        return shift_selectors.shift_list(volunteer=volunteer, include_past=True)

    def paginate_queryset(self, queryset):
        page = super().paginate_queryset(queryset)
        if self.action == "list" and page is not None:
            page = shift_offers(volunteer=user_volunteer(self.request.user), shifts=page)
        return page

    @extend_schema(parameters=[ShiftFilterSerializer])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(
        request=None,
        responses={201: AssignmentSerializer, **ERROR_RESPONSES},
        summary="Sign up for a shift (confirmed, or waitlisted when it is full)",
    )
    @action(detail=True, methods=["post"])
    def signup(self, request, pk=None):
        # The service locks the caller's volunteer profile itself (``not_a_volunteer`` when there is
        # none) and returns the new assignment with its waitlist position: no query of its own here.
        assignment = signup.shift_sign_up(shift_id=object_id(pk), user=request.user)
        return Response(AssignmentSerializer.represent(assignment), status=status.HTTP_201_CREATED)

    def _managed_shift(self, pk) -> Shift:
        coordinator.require_coordinator(self.request.user)
        return get_object_or_404(
            shift_selectors.shifts_managed_by(self.request.user).select_related("post__post_type", "community"),
            pk=object_id(pk),
        )

    @extend_schema(
        tags=["coordination"], request=ShiftUpdateSerializer, responses={200: ShiftSerializer, **ERROR_RESPONSES}
    )
    def partial_update(self, request, pk=None):
        shift = self._managed_shift(pk)
        data = coordinator.parse(ShiftUpdateSerializer, request.data)
        coordination.shift_update(actor=request.user, shift_id=shift.pk, **data)
        return Response(self.get_serializer(self.get_queryset().get(pk=shift.pk)).data)

    @extend_schema(
        tags=["coordination"],
        request=ReasonSerializer,
        responses={200: ShiftSerializer, **ERROR_RESPONSES},
        summary="Cancel a shift",
        description=(
            "Confirmed and waitlisted volunteers are released and told. On a shift under way, those "
            "checked in are checked out now instead, with the time served credited (awaiting approval)."
        ),
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        shift = self._managed_shift(pk)
        data = coordinator.parse(ReasonSerializer, request.data)
        coordination.shift_cancel(actor=request.user, shift_id=shift.pk, reason=data["reason"])
        return Response(self.get_serializer(self.get_queryset().get(pk=shift.pk)).data)

    @extend_schema(
        tags=["coordination"],
        request=None,
        responses={200: HoursApprovedSerializer, **ERROR_RESPONSES},
        summary="Approve every credited time of the shift awaiting approval",
    )
    @action(detail=True, methods=["post"], url_path="approve-hours")
    def approve_hours(self, request, pk=None):
        shift = self._managed_shift(pk)
        approved = attendance.hours_approve_shift(shift_id=shift.pk, actor=request.user)
        return Response(
            HoursApprovedSerializer({"approved": len(approved), "assignment_ids": [a.pk for a in approved]}).data
        )

    @extend_schema(tags=["coordination"], responses=CandidateSerializer(many=True))
    # Ranking computes every candidate before the first: the total comes with the page.
    @action(detail=True, methods=["get"], pagination_class=WindowCountPagination)
    def candidates(self, request, pk=None):
        shift = self._managed_shift(pk)
        page = self.paginate_queryset(shift_selectors.shift_candidates(shift=shift))
        for rank, volunteer in enumerate(page, start=self.paginator.page.start_index()):
            volunteer.rank = rank
            volunteer.reason = candidate_reason(volunteer)
        return self.get_paginated_response(CandidateSerializer(page, many=True).data)

    @extend_schema(
        tags=["coordination"],
        request=AssignRequestSerializer,
        responses={200: AssignResultSerializer(many=True), **ERROR_RESPONSES},
    )
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        shift = self._managed_shift(pk)
        data = coordinator.parse(AssignRequestSerializer, request.data)
        results = coordination.shift_assign(
            actor=request.user,
            shift_id=shift.pk,
            volunteer_ids=data["volunteer_ids"],
            override_reason=data["override_reason"],
        )
        return Response(AssignResultSerializer(results, many=True).data)

    @extend_schema(tags=["coordination"], responses=CheckinCodeSerializer)
    @action(detail=True, methods=["get"], url_path="checkin-code")
    def checkin_code(self, request, pk=None):
        shift = self._managed_shift(pk)
        current = attendance.checkin_code_current(shift=shift)
        url = request.build_absolute_uri(f"{reverse('check-in')}?shift={shift.pk}&code={current['code']}")
        response = Response(
            CheckinCodeSerializer({**current, "checkin_url": url, "qr_svg": coordinator.qr_svg(url)}).data
        )
        response["Cache-Control"] = "no-store"
        return response


def candidate_reason(volunteer) -> str:
    parts = []
    if volunteer.deployed_here:
        parts.append(str(_("deployed to this community")))
    if volunteer.matching_skills:
        parts.append(str(_("%(count)d matching skills") % {"count": volunteer.matching_skills}))
    parts.append(str(_("%(hours)s h in the last 7 days") % {"hours": round(volunteer.recent_minutes / 60, 1)}))
    return " · ".join(parts)


@extend_schema(tags=["assignments"])
class AssignmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The caller's own assignments."""

    serializer_class = AssignmentDetailSerializer

    def get_queryset(self):
        volunteer = user_volunteer(self.request.user)
        if volunteer is None:
            return Assignment.objects.none()
        status_filter = (
            parse_query(AssignmentFilterSerializer, self.request).get("status") if self.action == "list" else None
        )
        return shift_selectors.volunteer_assignment_list(volunteer=volunteer, status=status_filter)

    @extend_schema(parameters=[AssignmentFilterSerializer])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=CheckinRequestSerializer, responses={200: AssignmentDetailSerializer, **ERROR_RESPONSES})
    @action(detail=True, methods=["post"], url_path="check-in")
    def check_in(self, request, pk=None):
        assignment = self.get_object()
        data = coordinator.parse(CheckinRequestSerializer, request.data)
        attendance.assignment_check_in(assignment_id=assignment.pk, volunteer=assignment.volunteer, **data)
        return Response(self.get_serializer(self.get_queryset().get(pk=assignment.pk)).data)

    @extend_schema(request=None, responses={200: AssignmentDetailSerializer, **ERROR_RESPONSES})
    @action(detail=True, methods=["post"], url_path="check-out")
    def check_out(self, request, pk=None):
        assignment = self.get_object()
        attendance.assignment_check_out(assignment_id=assignment.pk, volunteer=assignment.volunteer)
        return Response(self.get_serializer(self.get_queryset().get(pk=assignment.pk)).data)

    @extend_schema(
        request=ReportSerializer,
        responses={
            201: RecordCorrectionSerializer,
            **ERROR_RESPONSES,
            409: OpenApiResponse(
                description="`correction_pending`: already reported and waiting; `correction_not_applicable`: "
                "not an attended, missed or held place; `shift_not_started`."
            ),
        },
        summary="Report an error in the record of one of my places; the community's coordinators are told",
    )
    @action(detail=True, methods=["post"], url_path="report-error")
    def report_error(self, request, pk=None):
        assignment = self.get_object()
        data = coordinator.parse(ReportSerializer, request.data)
        correction = corrections.correction_report(
            user=request.user, assignment_id=assignment.pk, message=data["message"]
        )
        return Response(RecordCorrectionSerializer(correction).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: AssignmentDetailSerializer, **ERROR_RESPONSES})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        assignment = self.get_object()
        signup.assignment_cancel(assignment_id=assignment.pk)
        return Response(self.get_serializer(self.get_queryset().get(pk=assignment.pk)).data)
