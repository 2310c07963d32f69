"""REST endpoints about the caller: log-in token, profile, calendar feed."""

from __future__ import annotations

from django.contrib.auth import authenticate, update_session_auth_hash
from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, serializers
from rest_framework.authtoken.models import Token
from rest_framework.response import Response
from rest_framework.views import APIView

from config.client import client_ip
from config.errors import ServiceError, error_body
from config.throttling import ScopedRateThrottle
from volunteers import login_codes, selectors, services
from volunteers.auth import lockout_wait
from volunteers.models import Volunteer
from volunteers.serializers import (
    PasswordSetSerializer,
    PreferencesSerializer,
    SmsCodeRequestSerializer,
    SmsCodeResponseSerializer,
    TokenRequestSerializer,
    TokenResponseSerializer,
)


def _ref(obj):
    return {"id": obj.pk, "name": str(obj)} if obj is not None else None


def _login_locked_response(retry_after: int) -> Response:
    return Response(
        error_body("login_locked", details={"retry_after_seconds": retry_after}),
        status=429,
        headers={"Retry-After": str(retry_after)},
    )


@extend_schema(tags=["auth"])
class SmsCodeView(APIView):
    """Text a log-in code to a mobile number. The answer is the same whether or not the number
    belongs to anyone; only a known number gets a text (volunteers/login_codes.py)."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        request=SmsCodeRequestSerializer,
        responses={
            202: SmsCodeResponseSerializer,
            400: OpenApiResponse(description="`invalid`: not an 11-digit mainland mobile number."),
            429: OpenApiResponse(
                description="`sms_code_throttled` (`details.retry_after`, seconds): too many codes for this "
                "number or from this address."
            ),
        },
        summary="Text me a log-in code",
    )
    def post(self, request):
        serializer = SmsCodeRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            wait = login_codes.login_code_request(mobile=serializer.validated_data["mobile"], ip=client_ip(request))
        except ServiceError as error:
            if error.code == "sms_code_throttled":
                return Response(
                    error_body(error.code, details=error.details),
                    status=429,
                    headers={"Retry-After": str(error.details["retry_after"])},
                )
            raise
        return Response({"resend_after": wait}, status=202)


@extend_schema(tags=["auth"])
class TokenView(APIView):
    """Log in for a token: with a mobile number and the code texted to it, or with a username and
    password. Password failures count towards the lockout of volunteers.auth (429 ``login_locked``);
    a code takes one of its five tries per check (volunteers/login_codes.py)."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [ScopedRateThrottle]

    @property
    def throttle_scope(self) -> str:
        # Codes have their own, generous rate per address: a crowd behind one carrier NAT logs in
        # at once, and each code is limited to five tries and each number to ten codes a day.
        data = getattr(self.request, "data", None)
        return "auth_code" if isinstance(data, dict) and "code" in data else "auth"

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            200: TokenResponseSerializer,
            400: OpenApiResponse(description="`invalid`: neither mobile and code nor username and password given."),
            401: OpenApiResponse(
                description="`login_code_invalid`: the code is wrong, expired, used or burnt; "
                "`authentication_failed`: wrong username or password."
            ),
            429: OpenApiResponse(
                description="`login_locked` (`details.retry_after_seconds`) or `throttled`: too many attempts."
            ),
        },
    )
    def post(self, request):
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        credentials = serializer.validated_data
        user = authenticate(request, **credentials)
        if "code" in credentials:
            if user is None or not user.is_active:
                raise ServiceError("login_code_invalid")
        else:
            if user is None and lockout_wait(request):
                return _login_locked_response(lockout_wait(request))
            if user is None or not user.is_active:
                raise ServiceError("authentication_failed")
        token, _created = Token.objects.get_or_create(user=user)
        return Response({"token": token.key})


@extend_schema(tags=["me"])
class PasswordView(APIView):
    """Set (or replace) the caller's password: optional, for those who want one besides the code.
    Forgot it? Log in by code and set a new one. Every API token is revoked; a new one is returned."""

    @extend_schema(
        request=PasswordSetSerializer,
        responses={
            200: TokenResponseSerializer,
            400: OpenApiResponse(description="`invalid`: the password is too short, too common or all digits."),
            401: OpenApiResponse(description="Not authenticated."),
        },
        summary="Set my password",
    )
    def post(self, request):
        serializer = PasswordSetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.user_password_choose(user=request.user, password=serializer.validated_data["password"])
        if request.session is not None and request.user.is_authenticated:
            update_session_auth_hash(request, request.user)
        token = Token.objects.create(user=request.user)
        return Response({"token": token.key})


# --- Token reset and personal data (docs/privacy.md) ---------------------------------------


@extend_schema(tags=["auth"])
class TokenResetView(APIView):
    """Revoke the caller's token and issue a new one (e.g. after a phone was lost)."""

    @extend_schema(
        request=None,
        responses={200: TokenResponseSerializer, 401: OpenApiResponse(description="Not authenticated.")},
        summary="Replace the caller's token",
    )
    @transaction.atomic
    def post(self, request):
        Token.objects.filter(user=request.user).delete()
        token = Token.objects.create(user=request.user)
        return Response({"token": token.key})


class IdNumberSerializer(serializers.Serializer):
    id_number = serializers.CharField()


_ME_ERRORS = {
    401: OpenApiResponse(description="Not authenticated."),
    403: OpenApiResponse(description="`not_a_volunteer`: the caller has no volunteer record."),
}


def _require_volunteer(request) -> Volunteer:
    volunteer = selectors.user_volunteer(request.user)
    if volunteer is None:
        raise ServiceError("not_a_volunteer")
    return volunteer


def _preferences(volunteer: Volunteer) -> dict:
    return {
        "notify_by_sms": volunteer.notify_by_sms,
        "notify_by_email": volunteer.notify_by_email,
        "message_language": selectors.volunteer_message_language(volunteer),
    }


@extend_schema(tags=["me"])
class PreferencesView(APIView):
    """Where the caller's messages reach them besides the inbox, and the language they are written in."""

    @extend_schema(responses={200: PreferencesSerializer, **_ME_ERRORS}, summary="My notification preferences")
    def get(self, request):
        return Response(PreferencesSerializer(_preferences(_require_volunteer(request))).data)

    @extend_schema(
        request=PreferencesSerializer,
        responses={
            200: PreferencesSerializer,
            400: OpenApiResponse(description="`invalid`: a field is not one of its allowed values."),
            **_ME_ERRORS,
        },
        summary="Change my notification preferences (only the fields given)",
    )
    def patch(self, request):
        volunteer = _require_volunteer(request)
        serializer = PreferencesSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.volunteer_preferences_update(volunteer=volunteer, **serializer.validated_data)
        return Response(PreferencesSerializer(_preferences(volunteer)).data)


@extend_schema(tags=["me"])
class IdNumberView(APIView):
    """The caller's own full ID number. Every call is recorded as a personal-data access."""

    @extend_schema(request=None, responses={200: IdNumberSerializer, **_ME_ERRORS}, summary="Show my full ID number")
    def post(self, request):
        volunteer = _require_volunteer(request)
        number = services.volunteer_id_number_reveal(actor=request.user, volunteer=volunteer, purpose="self_view")
        response = Response({"id_number": number})
        response["Cache-Control"] = "no-store"
        return response
