"""REST endpoints about the caller: log-in token, profile, calendar feed."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.db import transaction
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions
from rest_framework.authtoken.models import Token
from rest_framework.response import Response
from rest_framework.views import APIView

from communities.selectors import volunteer_calendar_shifts
from config.errors import ServiceError

from . import selectors
from .calendar import shifts_ics
from .models import Volunteer, new_calendar_token
from .serializers import CalendarLinkSerializer, MeSerializer, TokenRequestSerializer, TokenResponseSerializer


def _ref(obj):
    return {"id": obj.pk, "name": str(obj)} if obj is not None else None


@extend_schema(tags=["auth"])
class TokenView(APIView):
    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(request=TokenRequestSerializer, responses={200: TokenResponseSerializer})
    def post(self, request):
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = authenticate(request, **serializer.validated_data)
        if user is None or not user.is_active:
            raise ServiceError("authentication_failed")
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


@extend_schema(tags=["me"])
class MeView(APIView):
    @extend_schema(responses={200: MeSerializer})
    def get(self, request):
        user = request.user
        volunteer = selectors.user_volunteer(user)
        minutes = selectors.volunteer_credited_minutes(volunteer) if volunteer else 0
        hours = minutes / 60
        data = {
            "id": user.pk,
            "username": user.get_username(),
            "volunteer_id": volunteer.pk if volunteer else None,
            "volunteer_number": volunteer.volunteer_number if volunteer else None,
            "name": volunteer.real_name if volunteer else (user.get_full_name() or user.get_username()),
            "id_number_masked": volunteer.id_number_masked if volunteer else None,
            "mobile_masked": volunteer.mobile_masked if volunteer else None,
            "organization": _ref(volunteer.organization) if volunteer else None,
            "team": _ref(volunteer.team) if volunteer else None,
            "status": volunteer.status if volunteer else None,
            "deployed_community": _ref(volunteer.deployed_community) if volunteer else None,
            "roles": selectors.user_roles(user),
            "total_hours": round(hours, 1),
            "star_level": selectors.star_level(hours),
        }
        return Response(MeSerializer(data).data)


def _calendar_url(request, volunteer: Volunteer) -> str:
    return request.build_absolute_uri(f"{reverse('me-calendar')}?token={volunteer.calendar_token}")


@extend_schema(tags=["me"])
class CalendarView(APIView):
    """The caller's confirmed shifts as iCalendar, for subscription from a phone's calendar."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        parameters=[OpenApiParameter("token", str, required=True, description="The secret calendar token.")],
        responses={(200, "text/calendar"): OpenApiTypes.BINARY},
    )
    def get(self, request):
        token = request.query_params.get("token", "")
        volunteer = Volunteer.objects.filter(calendar_token=token).first() if token else None
        if volunteer is None:
            raise ServiceError("not_found")
        body = shifts_ics(volunteer_calendar_shifts(volunteer=volunteer), host=request.get_host())
        return HttpResponse(body, content_type="text/calendar; charset=utf-8")


@extend_schema(tags=["me"])
class CalendarLinkView(APIView):
    @extend_schema(responses={200: CalendarLinkSerializer})
    def get(self, request):
        volunteer = selectors.user_volunteer(request.user)
        if volunteer is None:
            raise ServiceError("not_a_volunteer")
        return Response({"url": _calendar_url(request, volunteer)})

    @extend_schema(request=None, responses={200: CalendarLinkSerializer}, summary="Reset the calendar token")
    @transaction.atomic
    def post(self, request):
        volunteer = selectors.user_volunteer(request.user)
        if volunteer is None:
            raise ServiceError("not_a_volunteer")
        volunteer.calendar_token = new_calendar_token()
        volunteer.save(update_fields=["calendar_token", "updated_at"])
        return Response({"url": _calendar_url(request, volunteer)})
