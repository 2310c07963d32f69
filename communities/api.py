"""REST endpoints for communities, shifts and the caller's assignments. Thin: parse, call, shape."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from config.errors import ServiceError
from volunteers.selectors import user_volunteer

from . import selectors, services
from .models import Assignment
from .serializers import (
    AssignmentDetailSerializer,
    AssignmentFilterSerializer,
    AssignmentSerializer,
    CommunityFilterSerializer,
    CommunitySerializer,
    ShiftFilterSerializer,
    ShiftSerializer,
)

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
            return selectors.community_list(**parse_query(CommunityFilterSerializer, self.request))
        return selectors.community_list()

    @extend_schema(parameters=[CommunityFilterSerializer])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)


@extend_schema(tags=["shifts"])
class ShiftViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ShiftSerializer

    def get_queryset(self):
        volunteer = user_volunteer(self.request.user)
        if self.action == "list":
            return selectors.shift_list(volunteer=volunteer, **parse_query(ShiftFilterSerializer, self.request))
        return selectors.shift_list(volunteer=volunteer, include_past=True)

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
        volunteer = require_volunteer(request)
        shift_id = self._shift_id(pk)
        assignment = services.shift_sign_up(shift_id=shift_id, volunteer=volunteer)
        assignment = selectors.assignments_with_position(Assignment.objects.filter(pk=assignment.pk)).get()
        return Response(AssignmentSerializer(assignment).data, status=status.HTTP_201_CREATED)

    @staticmethod
    def _shift_id(pk) -> int:
        try:
            return int(pk)
        except (TypeError, ValueError):
            raise ServiceError("not_found") from None


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
        return selectors.volunteer_assignment_list(volunteer=volunteer, status=status_filter)

    @extend_schema(parameters=[AssignmentFilterSerializer])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=None, responses={200: AssignmentDetailSerializer, **ERROR_RESPONSES})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        assignment = self.get_object()
        services.assignment_cancel(assignment_id=assignment.pk)
        return Response(self.get_serializer(self.get_queryset().get(pk=assignment.pk)).data)
