"""REST endpoints for coordinators (their communities only) and league committee staff."""

from __future__ import annotations

from datetime import date

import qrcode
import qrcode.image.svg
from django.db.models import Q
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from communities.api.coordinator_serializers import (
    AttendanceFilterSerializer,
    AttendanceSerializer,
    AuditEntrySerializer,
    AuditFilterSerializer,
    DispatchRecallRequestSerializer,
    DispatchRequestSerializer,
    DispatchSerializer,
    HoursAdjustSerializer,
    NoShowSerializer,
    ReasonSerializer,
    RecallRequestSerializer,
    RecallSerializer,
    TimedReasonSerializer,
)
from communities.models import Assignment, AuditEntry, Community, Dispatch
from communities.selectors import dispatch as selectors_dispatch
from communities.selectors import shifts as shift_selectors
from communities.selectors.people import volunteer_mobile_display, volunteers_mark_mobile_visibility
from communities.services import attendance, coordination
from config.errors import ServiceError
from config.params import object_id
from volunteers.models import Volunteer
from volunteers.selectors import can_coordinate, is_committee_staff, organization_subtree


def parse(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def require_coordinator(user) -> None:
    """Roles that never coordinate get 403; objects outside a coordinator's communities get 404."""
    if not can_coordinate(user):
        raise ServiceError("permission_denied")


def require_staff(user) -> None:
    if not is_committee_staff(user):
        raise ServiceError("permission_denied")


def qr_svg(data: str) -> str:
    image = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=12, border=2)
    return image.to_string(encoding="unicode")


@extend_schema(tags=["attendance"])
class AttendanceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Assignments at the caller's communities: check people in and out, no-shows, hours."""

    serializer_class = AttendanceSerializer

    queryset = Assignment.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        require_coordinator(self.request.user)
        queryset = (
            shift_selectors.assignments_managed_by(self.request.user)
            .select_related("volunteer", "shift", "code_attempts")
            .order_by("shift__starts_at", "id")
        )
        if self.action == "list":
            filters = parse(AttendanceFilterSerializer, self.request.query_params.dict())
            if "shift" in filters:
                queryset = queryset.filter(shift_id=filters["shift"])
            if "community" in filters:
                queryset = queryset.filter(shift__community_id=filters["community"])
            if "status" in filters:
                queryset = queryset.filter(status=filters["status"])
            if "hours_status" in filters:
                queryset = queryset.filter(hours_status=filters["hours_status"])
        return queryset

    @extend_schema(parameters=[AttendanceFilterSerializer])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def _act(self, service, serializer_class=None, **extra):
        assignment = self.get_object()
        data = parse(serializer_class, self.request.data) if serializer_class else {}
        service(assignment_id=assignment.pk, actor=self.request.user, **data, **extra)
        return Response(self.get_serializer(self.get_queryset().get(pk=assignment.pk)).data)

    @extend_schema(request=TimedReasonSerializer, responses=AttendanceSerializer)
    @action(detail=True, methods=["post"], url_path="check-in")
    def check_in(self, request, pk=None):
        return self._act(attendance.assignment_check_in_manual, TimedReasonSerializer)

    @extend_schema(request=TimedReasonSerializer, responses=AttendanceSerializer)
    @action(detail=True, methods=["post"], url_path="check-out")
    def check_out(self, request, pk=None):
        return self._act(attendance.assignment_check_out_manual, TimedReasonSerializer)

    @extend_schema(request=NoShowSerializer, responses=AttendanceSerializer)
    @action(detail=True, methods=["post"], url_path="no-show")
    def no_show(self, request, pk=None):
        return self._act(attendance.assignment_mark_no_show, NoShowSerializer)

    @extend_schema(request=ReasonSerializer, responses=AttendanceSerializer)
    @action(detail=True, methods=["post"], url_path="clear-no-show")
    def clear_no_show(self, request, pk=None):
        return self._act(attendance.assignment_clear_no_show, ReasonSerializer)

    @extend_schema(request=ReasonSerializer, responses=AttendanceSerializer)
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        """Undo a mistaken check-out (back to checked in) or no-show (back to confirmed)."""
        return self._act(attendance.assignment_reopen, ReasonSerializer)

    @extend_schema(request=None, responses=AttendanceSerializer)
    @action(detail=True, methods=["post"], url_path="approve-hours")
    def approve_hours(self, request, pk=None):
        return self._act(attendance.hours_approve)

    @extend_schema(request=HoursAdjustSerializer, responses=AttendanceSerializer)
    @action(detail=True, methods=["post"], url_path="adjust-hours")
    def adjust_hours(self, request, pk=None):
        return self._act(attendance.hours_adjust, HoursAdjustSerializer)


@extend_schema(tags=["attendance"])
class AuditViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The audit trail of attendance and hours: coordinators see their communities, committee
    staff the volunteers of their organizations, superusers everything."""

    serializer_class = AuditEntrySerializer

    queryset = AuditEntry.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        user = self.request.user
        entries = AuditEntry.objects.select_related("actor").order_by("-created_at", "-id")
        if not user.is_superuser:
            managed = shift_selectors.communities_managed_by(user)
            organizations = organization_subtree(user)
            if not managed.exists() and not organizations.exists():
                raise ServiceError("permission_denied")
            entries = entries.filter(
                Q(shift__community__in=managed) | Q(assignment__volunteer__organization__in=organizations)
            )
        filters = parse(AuditFilterSerializer, self.request.query_params.dict())
        if "assignment" in filters:
            entries = entries.filter(assignment_id=filters["assignment"])
        if "shift" in filters:
            entries = entries.filter(shift_id=filters["shift"])
        if "action" in filters:
            entries = entries.filter(action=filters["action"])
        return entries

    @extend_schema(parameters=[AuditFilterSerializer])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


@extend_schema(tags=["dispatch"])
class DispatchViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet):
    """League committee staff send a team or reserve volunteers to a community, and recall them."""

    serializer_class = DispatchSerializer

    queryset = Dispatch.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        require_staff(self.request.user)
        return selectors_dispatch.dispatch_list(organizations=organization_subtree(self.request.user))

    @extend_schema(request=DispatchRequestSerializer, responses={201: DispatchSerializer})
    def create(self, request, *args, **kwargs):
        require_staff(request.user)
        data = parse(DispatchRequestSerializer, request.data)
        community = get_object_or_404(Community, pk=data["community"])
        dispatch = coordination.dispatch_create(
            actor=request.user,
            community=community,
            organizations=organization_subtree(request.user),
            team_id=data.get("team"),
            count=data.get("count"),
            categories=data["categories"],
            skills=data["skills"],
            note=data["note"],
            report_at=data["report_at"],
        )
        dispatch = self.get_queryset().get(pk=dispatch.pk)
        return Response(self.get_serializer(dispatch).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=DispatchRecallRequestSerializer,
        responses={200: RecallSerializer(many=True)},
        summary="Return a dispatch's volunteers (all it still holds, some, or a team's) to the reserve",
        description="Their places on coming shifts in the community are released (the waitlist promoted, "
        "everyone told); each volunteer and the community's coordinators are told. Cannot be undone. "
        "`nothing_to_recall` (400): no one named is still deployed by the dispatch.",
    )
    @action(detail=True, methods=["post"])
    def recall(self, request, pk=None):
        require_staff(request.user)
        data = parse(DispatchRecallRequestSerializer, request.data)
        recalls = coordination.volunteers_recall(
            actor=request.user,
            organizations=organization_subtree(request.user),
            dispatch_id=object_id(pk),
            volunteer_ids=data.get("volunteers"),
            team_id=data.get("team"),
            reason=data["reason"],
        )
        return Response(RecallSerializer(recalls, many=True).data)


@extend_schema(
    tags=["dispatch"],
    request=RecallRequestSerializer,
    responses={200: RecallSerializer(many=True)},
    summary="Return one deployed volunteer to the reserve",
    description="As a dispatch's recall, for one volunteer wherever they are deployed. "
    "`nothing_to_recall` (400): the volunteer is not deployed.",
)
class VolunteerRecallView(APIView):
    def post(self, request, pk: int):
        require_staff(request.user)
        organizations = organization_subtree(request.user)
        volunteer = get_object_or_404(Volunteer.objects.filter(organization__in=organizations), pk=pk)
        data = parse(RecallRequestSerializer, request.data)
        recalls = coordination.volunteers_recall(
            actor=request.user, organizations=organizations, volunteer_ids=[volunteer.pk], reason=data["reason"]
        )
        return Response(RecallSerializer(recalls, many=True).data)


ROSTER_DATE = OpenApiParameter("date", date, description="The day (defaults to today).")


def roster_payload(community: Community, day: date, *, user) -> dict:
    """The day's roster as ``user`` may see it: each mobile number full or masked by the one rule
    (``volunteers.selectors.volunteer_mobile_visible_q``), so a past day's shows masked numbers."""
    shifts = shift_selectors.community_roster(community=community, day=day)
    people = [assignment.volunteer for shift in shifts for assignment in shift.live_assignments]
    volunteers_mark_mobile_visibility(people, user=user)
    for volunteer in people:
        volunteer.shown_mobile = volunteer_mobile_display(user, volunteer)
    rows, taken, places = [], 0, 0
    for shift in shifts:
        groups = {"confirmed": [], "checked_in": [], "waitlisted": [], "no_show": []}
        for assignment in shift.live_assignments:
            if assignment.status == "waitlisted":
                groups["waitlisted"].append(assignment)
            elif assignment.status == "no_show":
                groups["no_show"].append(assignment)
            elif assignment.checked_in_at is not None:
                groups["checked_in"].append(assignment)
            else:
                groups["confirmed"].append(assignment)
        if shift.status == "open":
            taken += shift.confirmed_count
            places += shift.capacity
        rows.append(
            {
                "id": shift.pk,
                "post": shift.post,
                "starts_at": shift.starts_at,
                "ends_at": shift.ends_at,
                "status": shift.status,
                "capacity": shift.capacity,
                "fill_rate": round(shift.confirmed_count / shift.capacity, 3),
                "checkin_opens_at": attendance.check_in_opens(shift),
                "no_show_from": attendance.no_show_grace_ends(shift),
                **groups,
            }
        )
    return {
        "community": community.pk,
        "date": day,
        "shifts": rows,
        "fill_rate": round(taken / places, 3) if places else 0.0,
    }


def today() -> date:
    return timezone.localdate()
