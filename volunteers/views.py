"""Server-rendered pages about the signed-in person: home, profile, hours, log-in.

Thin, like the API views: read through selectors, write through services, and turn a
``ServiceError`` into a message a person can read.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse, reverse_lazy
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from communities import selectors as shift_selectors

from . import selectors, services
from .decorators import volunteer_required
from .forms import LoginForm, PasswordChangeForm, PreferencesForm
from .models import Volunteer, new_calendar_token

UPCOMING_ON_HOME = 5
PAGE_SIZE = 20


def optional_url(name: str, *args) -> str | None:
    """The URL of a page that another part of the system may not provide yet."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def calendar_feed_url(request, volunteer: Volunteer) -> str:
    return request.build_absolute_uri(f"{reverse('me-calendar')}?token={volunteer.calendar_token}")


def home(request):
    volunteer = selectors.user_volunteer(request.user)
    if volunteer is None:
        return render(request, "home.html")
    now = timezone.now()
    upcoming = list(shift_selectors.volunteer_upcoming_assignments(volunteer=volunteer, now=now)[:UPCOMING_ON_HOME])
    check_in_now = list(shift_selectors.volunteer_checkin_open(volunteer=volunteer, now=now))
    promoted = [a for a in upcoming if a.promoted and a.status == a.Status.CONFIRMED and a.shift.starts_at > now]
    unread = list(shift_selectors.notification_inbox(request.user).filter(read_at__isnull=True)[:3])
    hours = selectors.volunteer_credited_minutes(volunteer) / 60
    return render(
        request,
        "volunteers/home.html",
        {
            "volunteer": volunteer,
            "upcoming": upcoming,
            "check_in_now": check_in_now,
            "promoted": promoted,
            "unread": unread,
            "hours": hours,
            "stars": selectors.star_level(hours),
        },
    )


class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("password_change_done")
    form_class = PasswordChangeForm

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


@volunteer_required
def hours(request):
    volunteer = request.volunteer
    total_hours = selectors.volunteer_credited_minutes(volunteer) / 60
    stars = selectors.star_level(total_hours)
    thresholds = settings.RULES["STAR_THRESHOLDS_HOURS"]
    next_threshold = next((t for t in thresholds if t > total_hours), None)
    page = Paginator(shift_selectors.volunteer_completed_assignments(volunteer=volunteer), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "volunteers/hours.html",
        {
            "volunteer": volunteer,
            "total_hours": total_hours,
            "stars": stars,
            "star_range": range(1, len(thresholds) + 1),
            "next_threshold": next_threshold,
            "hours_to_next": (next_threshold - total_hours) if next_threshold else None,
            "progress_percent": int(100 * total_hours / next_threshold) if next_threshold else 100,
            "page": page,
            "certificate_url": optional_url("certificate-download"),
        },
    )


@require_POST
@volunteer_required
def calendar_reset(request):
    # The same two-line write as the API's CalendarLinkView.post.
    volunteer = request.volunteer
    volunteer.calendar_token = new_calendar_token()
    volunteer.save(update_fields=["calendar_token", "updated_at"])
    messages.success(request, _("Your calendar link has been reset. Subscribe again with the new link."))
    return redirect("my-shifts")
