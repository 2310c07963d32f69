"""REST endpoints about the signed-in volunteer's participation: profile with hours, their own
details and mobile number (audited, checked against their places), calendar feed, data export and
account deletion (anonymisation frees their places)."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.db import transaction
from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from communities.selectors.people import volunteer_credited_minutes
from communities.selectors.shifts import volunteer_calendar_shifts
from communities.services import privacy, records
from config.client import client_ip
from config.errors import ServiceError
from volunteers import selectors
from volunteers import services as volunteer_services
from volunteers.api import _ME_ERRORS, _login_locked_response, _ref, _require_volunteer
from volunteers.auth import lockout_wait
from volunteers.calendar import shifts_ics
from volunteers.models import Volunteer, new_calendar_token
from volunteers.serializers import (
    CalendarLinkSerializer,
    MeSerializer,
    MeUpdateSerializer,
    MobileChangedSerializer,
    MobileChangeSerializer,
    SmsCodeResponseSerializer,
)


class MeUpdatedSerializer(MeSerializer):
    released = serializers.IntegerField(help_text="Upcoming places given up with the skills removed.")


@extend_schema(tags=["me"])
class MeView(APIView):
    @extend_schema(responses={200: MeSerializer})
    def get(self, request):
        user = request.user
        volunteer = selectors.user_volunteer(user)
        minutes = volunteer_credited_minutes(volunteer) if volunteer else 0
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
            "email": user.email,
            "emergency_contact_name": volunteer.emergency_contact_name if volunteer else None,
            "emergency_contact_mobile": volunteer.emergency_contact_mobile if volunteer else None,
            "skills": sorted(volunteer.skills.values_list("code", flat=True)) if volunteer else [],
        }
        return Response(MeSerializer(data).data)

    @extend_schema(
        request=MeUpdateSerializer,
        responses={
            200: MeUpdatedSerializer,
            400: OpenApiResponse(description="`invalid`: an address, number or skill code that is not valid."),
            **_ME_ERRORS,
            409: OpenApiResponse(
                description="`volunteer_has_upcoming_shifts`: removing these skills would cost the upcoming places "
                "listed in `details` (each with the reason); send `release_places` to give them up. "
                "`volunteer_anonymised`."
            ),
        },
        summary="Change my email, emergency contact or skills (only the fields given)",
    )
    def patch(self, request):
        serializer = MeUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        release = changes.pop("release_places", False)
        result = records.volunteer_own_update(user=request.user, changes=changes, release_places=release)
        request.user.refresh_from_db()  # the service saved its own copy of the account and profile
        response = self.get(request)
        response.data["released"] = result.released
        return response


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


class AccountDeleteSerializer(serializers.Serializer):
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)


class AccountDeletedSerializer(serializers.Serializer):
    volunteer_number = serializers.CharField()
    anonymised_at = serializers.DateTimeField()


@extend_schema(tags=["me"])
class DataExportView(APIView):
    """Everything held about the caller, as JSON (the full ID number inside is recorded)."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT, **_ME_ERRORS}, summary="Download my data")
    def get(self, request):
        volunteer = _require_volunteer(request)
        data = privacy.volunteer_data_export(actor=request.user, volunteer=volunteer)
        response = Response(data)
        response["Content-Disposition"] = f'attachment; filename="my-data-{volunteer.volunteer_number}.json"'
        response["Cache-Control"] = "no-store"
        return response


@extend_schema(tags=["me"])
class AccountDeleteView(APIView):
    """Delete the caller's personal data: the account is anonymised, credited hours stay counted."""

    @extend_schema(
        request=AccountDeleteSerializer,
        responses={
            200: AccountDeletedSerializer,
            400: OpenApiResponse(description="`password_incorrect`, or `invalid`: no password given."),
            **_ME_ERRORS,
            429: OpenApiResponse(description="`login_locked`: too many wrong passwords."),
        },
        summary="Delete my account",
    )
    def post(self, request):
        volunteer = _require_volunteer(request)
        serializer = AccountDeleteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        username = request.user.get_username()
        # Through authenticate(), so wrong passwords count towards the lockout like any log-in.
        if authenticate(request, username=username, password=serializer.validated_data["password"]) is None:
            if lockout_wait(request):
                return _login_locked_response(lockout_wait(request))
            raise ServiceError("password_incorrect")
        volunteer = privacy.volunteer_anonymise(volunteer=volunteer, actor=request.user)
        return Response(
            {"volunteer_number": volunteer.volunteer_number, "anonymised_at": volunteer.anonymised_at.isoformat()}
        )


@extend_schema(tags=["me"])
class MobileChangeView(APIView):
    """A new mobile number, proven by a code texted to it: first ``{mobile}`` (a code is sent,
    202), then ``{mobile, code}`` (the number changes, 200). Log in with the new number after."""

    @extend_schema(
        request=MobileChangeSerializer,
        responses={
            200: MobileChangedSerializer,
            202: SmsCodeResponseSerializer,
            400: OpenApiResponse(description="`invalid`: not a mainland mobile number, or already yours."),
            401: OpenApiResponse(description="`login_code_invalid`: the code is wrong or has expired."),
            403: OpenApiResponse(description="`not_a_volunteer`"),
            409: OpenApiResponse(description="`mobile_taken`: the number belongs to another account."),
            429: OpenApiResponse(description="`sms_code_throttled`: too many codes asked for."),
        },
        summary="Change my mobile number (code to the new number)",
    )
    def post(self, request):
        serializer = MobileChangeSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data.get("code"):
            volunteer = records.mobile_change_confirm(user=request.user, mobile=data["mobile"], code=data["code"])
            return Response({"mobile_masked": volunteer.mobile_masked, "username": volunteer.user.get_username()})
        wait = volunteer_services.mobile_change_code_send(
            user=request.user, mobile=data["mobile"], ip=client_ip(request)
        )
        return Response({"resend_after": wait}, status=202)
