"""Forms for the volunteer's own pages: log-in, password change and preferences."""

from __future__ import annotations

import math

from django import forms
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AdminPasswordChangeForm as DjangoAdminPasswordChangeForm
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.forms import PasswordChangeForm as DjangoPasswordChangeForm
from django.utils.translation import gettext_lazy as _

from volunteers import auth, services


class LoginForm(AuthenticationForm):
    """Volunteers log in with their mobile number; staff with their username."""

    username = forms.CharField(
        label=_("Mobile number or username"),
        max_length=150,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
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
            _raise_if_locked(self.request)
            raise


class LoginCodeForm(forms.Form):
    """Log-in by a code texted to the mobile number: the page's first way in."""

    mobile = forms.CharField(
        label=_("Mobile number"),
        max_length=20,
        widget=forms.TextInput(
            attrs={"autocomplete": "tel", "inputmode": "tel", "autofocus": True, "placeholder": "138 0000 0000"}
        ),
    )
    code = forms.CharField(
        label=_("Verification code"),
        required=False,
        max_length=12,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": "[0-9]*", "maxlength": 6}
        ),
    )


class PasswordSetForm(forms.Form):
    """A password of one's own, besides the texted code (no old password: a code log-in is the
    proof, which is also how a forgotten password is replaced)."""

    new_password1 = forms.CharField(
        label=_("New password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    new_password2 = forms.CharField(
        label=_("New password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, user, *args, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        first, second = cleaned.get("new_password1"), cleaned.get("new_password2")
        if first and second and first != second:
            raise forms.ValidationError(_("The two passwords differ."), code="password_mismatch")
        return cleaned


def _raise_if_locked(request) -> None:
    wait = auth.lockout_wait(request)
    if wait:
        raise forms.ValidationError(
            _("Too many failed log-ins. Please try again in %(minutes)s minutes."),
            code="locked",
            params={"minutes": math.ceil(wait / 60)},
        ) from None


class PasswordChangeForm(DjangoPasswordChangeForm):
    """Django's form, with the old password checked through ``authenticate()``: a guess here counts
    towards the lockout, and a locked account is refused, like any log-in."""

    def __init__(self, user, *args, request=None, **kwargs):
        self.request = request
        super().__init__(user, *args, **kwargs)

    def clean_old_password(self):
        old_password = self.cleaned_data["old_password"]
        if authenticate(self.request, username=self.user.get_username(), password=old_password) is None:
            _raise_if_locked(self.request)
            raise forms.ValidationError(self.error_messages["password_incorrect"], code="password_incorrect")
        return old_password

    def set_password_and_save(self, user, password_field_name="new_password1", commit=True):  # noqa: S107 - a field name
        services.user_password_set(user=user, password=self.cleaned_data[password_field_name])
        return user


class AdminPasswordChangeForm(DjangoAdminPasswordChangeForm):
    """The admin's password form, saving through the same service (tokens revoked)."""

    def set_password_and_save(self, user, commit=True, **kwargs):
        usable = self.cleaned_data.get("set_usable_password", True)
        services.user_password_set(user=user, password=self.cleaned_data["password1"] if usable else None)
        return user


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


class ContactForm(forms.Form):
    """What a volunteer changes themself: email, emergency contact, skills."""

    email = forms.EmailField(label=_("Email"), required=False)
    emergency_contact_name = forms.CharField(label=_("Emergency contact"), required=False, max_length=50)
    emergency_contact_mobile = forms.CharField(label=_("Emergency contact's mobile"), required=False, max_length=11)
    skills = forms.MultipleChoiceField(label=_("Skills"), required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, **kwargs):
        from volunteers.models import Skill

        super().__init__(*args, **kwargs)
        self.fields["skills"].choices = [(skill.code, skill.display_name) for skill in Skill.objects.all()]


class MobileChangeForm(forms.Form):
    mobile = forms.CharField(
        label=_("New mobile number"),
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )
    code = forms.CharField(
        label=_("Code texted to the new number"),
        required=False,
        max_length=6,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}),
    )
