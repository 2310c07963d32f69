from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(help_text="Username or mobile number.")
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)


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
