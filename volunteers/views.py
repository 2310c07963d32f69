"""Server-rendered pages about the signed-in person: home, profile, hours, log-in.

Thin, like the API views: read through selectors, write through services, and turn a
``ServiceError`` into a message a person can read.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from config.client import client_ip
from config.errors import ServiceError
from volunteers import login_codes, selectors, services
from volunteers.context_processors import WORKSPACE_SESSION_KEY, request_roles
from volunteers.decorators import volunteer_required
from volunteers.forms import (
    LoginCodeForm,
    LoginForm,
    PasswordChangeForm,
    PasswordSetForm,
    PreferencesForm,
)
from volunteers.models import Volunteer, new_calendar_token

UPCOMING_ON_HOME = 5
PAGE_SIZE = 20


class LoginView(auth_views.LoginView):
    """The code log-in first (mobile → code → in), the password second."""

    template_name = "registration/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context.setdefault("code_form", LoginCodeForm())
        context["password_open"] = self.request.method == "POST"
        return context


def _safe_next(request) -> str:
    target = request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse(settings.LOGIN_REDIRECT_URL)


@require_POST
def login_by_code(request):
    """The code form of the log-in page: ``action=send`` texts a code, else log in with it. The
    page's script asks for the code through the API instead and counts down without a reload."""
    form = LoginCodeForm(request.POST)
    context = {"code_form": form, "resend_after": 0, "code_sent": False}
    if form.is_valid():
        mobile = form.cleaned_data["mobile"]
        if request.POST.get("action") == "send":
            try:
                context["resend_after"] = login_codes.login_code_request(mobile=mobile, ip=client_ip(request))
                context["code_sent"] = True
            except ServiceError as error:
                if error.code == "sms_code_throttled":
                    context["resend_after"] = error.details["retry_after"]
                    form.add_error(
                        None,
                        _("Too many codes asked for. Please try again in %(seconds)s seconds.")
                        % {"seconds": error.details["retry_after"]},
                    )
                else:
                    form.add_error("mobile", _("Enter an 11-digit mainland mobile number starting with 1."))
        elif not form.cleaned_data["code"]:
            form.add_error("code", _("Enter the code texted to you."))
        else:
            user = authenticate(request, mobile=mobile, code=form.cleaned_data["code"])
            if user is not None and user.is_active:
                login(request, user, backend="volunteers.login_codes.LoginCodeBackend")
                return redirect(_safe_next(request))
            form.add_error("code", _("The code is wrong or has expired. Ask for a new code."))
    context.update(
        {
            "form": LoginForm(request=request),
            "next": request.POST.get("next", ""),
            "password_open": False,
        }
    )
    return render(request, "registration/login.html", context, status=200 if not form.errors else 400)


@require_POST
@login_required
def workspace_switch(request):
    """Work in another of one's roles: "/" and the tab bar follow it for the rest of the session."""
    chosen = request.POST.get("workspace", "")
    if chosen in request_roles(request).workspaces:
        request.session[WORKSPACE_SESSION_KEY] = chosen
    return redirect("home")


@login_required
def password_set(request):
    """Set a password of one's own, or replace a forgotten one after a code log-in."""
    form = PasswordSetForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.user_password_choose(user=request.user, password=form.cleaned_data["new_password1"])
        except ValidationError as error:
            for message in error.message_dict.get("password", error.messages):
                form.add_error("new_password1", message)
        else:
            update_session_auth_hash(request, request.user)
            messages.success(request, _("Your password has been set. You can log in with it or with a texted code."))
            return redirect("profile" if selectors.user_volunteer(request.user) else "home")
    return render(request, "registration/password_set_form.html", {"form": form})


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("password_change_done")
    form_class = PasswordChangeForm

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and not request.user.has_usable_password():
            return redirect("password-set")  # no current password to give: set one
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "request": self.request}

    def form_valid(self, form):
        messages.success(self.request, _("Your password has been changed."))
        return super().form_valid(form)


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "registration/password_change_done.html"
    title = gettext_lazy("Password changed")


@volunteer_required
def profile(request):
    volunteer = request.volunteer
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            services.volunteer_preferences_update(
                volunteer=volunteer,
                notify_by_sms=form.cleaned_data["notify_by_sms"],
                notify_by_email=form.cleaned_data["notify_by_email"],
                message_language=form.cleaned_data["message_language"],
            )
            messages.success(request, _("Your notification preferences have been saved."))
            return redirect("profile")
    else:
        form = PreferencesForm(
            initial={
                "notify_by_sms": volunteer.notify_by_sms,
                "notify_by_email": volunteer.notify_by_email,
                "message_language": selectors.volunteer_message_language(volunteer),
            }
        )
    volunteer = (
        Volunteer.objects.select_related("organization", "team", "deployed_community")
        .prefetch_related("skills", "categories", "qualifications__qualification_type")
        .get(pk=volunteer.pk)
    )
    return render(request, "volunteers/profile.html", {"volunteer": volunteer, "form": form})


@require_POST
@volunteer_required
def calendar_reset(request):
    # The same two-line write as the API's CalendarLinkView.post.
    volunteer = request.volunteer
    volunteer.calendar_token = new_calendar_token()
    volunteer.save(update_fields=["calendar_token", "updated_at"])
    messages.success(request, _("Your calendar link has been reset. Subscribe again with the new link."))
    return redirect("my-shifts")
