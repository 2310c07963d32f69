"""Forms for the volunteer's own pages: log-in and preferences."""

from __future__ import annotations

import math

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from config.client import client_ip

from . import auth


class LoginForm(AuthenticationForm):
    """Volunteers log in with their mobile number; staff with their username."""

    username = forms.CharField(
        label=_("Mobile number or username"),
        max_length=150,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username", "autocapitalize": "none"}),
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def clean(self):
        try:
            return super().clean()
        except forms.ValidationError:
            # A locked account fails like a wrong password inside ``authenticate``; say which it is.
            wait = auth.lockout_retry_after(username=self.cleaned_data.get("username", ""), ip=client_ip(self.request))
            if wait:
                raise forms.ValidationError(
                    _("Too many failed log-ins. Please try again in %(minutes)s minutes."),
                    code="locked",
                    params={"minutes": math.ceil(wait / 60)},
                ) from None
            raise


class PreferencesForm(forms.Form):
    notify_by_sms = forms.BooleanField(
        label=_("Text messages (SMS)"),
        required=False,
        help_text=_("Reminders and changes to your shifts, sent to your mobile."),
    )
    notify_by_email = forms.BooleanField(
        label=_("Email"),
        required=False,
        help_text=_("The same messages by email, if an address is on file."),
    )
    message_language = forms.ChoiceField(
        label=_("Language of messages"),
        choices=settings.LANGUAGES,
        help_text=_("Text messages, emails and your inbox are written in this language."),
    )
