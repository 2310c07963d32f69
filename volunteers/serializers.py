from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class TokenRequestSerializer(serializers.Serializer):
    """Either ``mobile`` and the texted ``code``, or ``username`` and ``password``."""

    mobile = serializers.CharField(required=False, max_length=20, help_text="Mobile number (log-in by code).")
    code = serializers.CharField(
        required=False, max_length=12, help_text="The code texted by `POST /api/v1/auth/sms-code/`."
    )
    username = serializers.CharField(required=False, help_text="Username or mobile number (log-in by password).")
    password = serializers.CharField(required=False, style={"input_type": "password"}, trim_whitespace=False)

    def validate(self, attrs):
        if attrs.get("mobile") and attrs.get("code"):
            return {"mobile": attrs["mobile"], "code": attrs["code"]}
        if attrs.get("username") and attrs.get("password"):
            return {"username": attrs["username"], "password": attrs["password"]}
        raise serializers.ValidationError(_("Give a mobile number and its code, or a username and password."))


class SmsCodeRequestSerializer(serializers.Serializer):
    mobile = serializers.CharField(max_length=20, help_text="The mainland mobile number to text a log-in code to.")


class SmsCodeResponseSerializer(serializers.Serializer):
    resend_after = serializers.IntegerField(help_text="Seconds before the same number may ask again.")


class PasswordSetSerializer(serializers.Serializer):
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False, max_length=128)


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField()


class RefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="User id.")
    username = serializers.CharField()
    volunteer_id = serializers.IntegerField(allow_null=True)
    volunteer_number = serializers.CharField(allow_null=True)
    name = serializers.CharField()
    id_number_masked = serializers.CharField(allow_null=True)
    mobile_masked = serializers.CharField(allow_null=True)
    organization = RefSerializer(allow_null=True)
    team = RefSerializer(allow_null=True)
    status = serializers.CharField(allow_null=True)
    deployed_community = RefSerializer(allow_null=True)
    roles = serializers.ListField(child=serializers.CharField())
    total_hours = serializers.FloatField()
    star_level = serializers.IntegerField()
    email = serializers.CharField(allow_blank=True)
    emergency_contact_name = serializers.CharField(allow_null=True)
    emergency_contact_mobile = serializers.CharField(allow_null=True)
    skills = serializers.ListField(child=serializers.CharField(), help_text="Skill codes.")


class MeUpdateSerializer(serializers.Serializer):
    """What a volunteer changes themself; insurance and qualifications go through a change request."""

    email = serializers.CharField(required=False, allow_blank=True, max_length=254)
    emergency_contact_name = serializers.CharField(required=False, allow_blank=True, max_length=50)
    emergency_contact_mobile = serializers.CharField(required=False, allow_blank=True, max_length=20)
    skills = serializers.ListField(child=serializers.SlugField(), required=False, help_text="Skill codes.")
    release_places = serializers.BooleanField(
        required=False,
        default=False,
        help_text="With skills removed: give up the upcoming places they make me ineligible for (the waitlist "
        "is promoted, everyone told). Without it such a change is refused with `volunteer_has_upcoming_shifts`.",
    )


class MobileChangedSerializer(serializers.Serializer):
    mobile_masked = serializers.CharField()
    username = serializers.CharField(help_text="The account's user name, which follows the number.")


class MobileChangeSerializer(serializers.Serializer):
    mobile = serializers.CharField(max_length=20, help_text="The new number.")
    code = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=6,
        help_text="Without it a code is texted to the new number; with it the number changes.",
    )


class PreferencesSerializer(serializers.Serializer):
    notify_by_sms = serializers.BooleanField(required=False, help_text=_("Messages by SMS to the mobile on file."))
    notify_by_email = serializers.BooleanField(
        required=False, help_text=_("Messages by email, if an address is on file.")
    )
    message_language = serializers.ChoiceField(
        choices=settings.LANGUAGES, required=False, help_text=_("The language messages are written in.")
    )


class CalendarLinkSerializer(serializers.Serializer):
    url = serializers.CharField()
