"""Pages about the signed-in volunteer's participation: the home page and their hours."""

from __future__ import annotations

from django.conf import settings
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from communities.selectors import shifts as shift_selectors
from communities.selectors.people import volunteer_credited_minutes
from volunteers import selectors
from volunteers.context_processors import request_workspace
from volunteers.decorators import volunteer_required
from volunteers.models import Volunteer

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


# Each workspace's landing page; a volunteer's is the home page itself.
WORKSPACE_PAGES = {
    selectors.ROLE_COMMITTEE: "committee-dashboard",
    selectors.ROLE_COORDINATOR: "coordinator-today",
    selectors.ROLE_TEAM_LEADER: "team-overview",
}


def home(request):
    """Anonymous: the public home. Signed in: the workspace of one's most senior role (or the one
    switched to): a volunteer's next shifts and what to do now are here; the other roles are
    sent to their own workspace. The log-in forms land here."""
    if not request.user.is_authenticated:
        return render(request, "home.html")
    workspace = request_workspace(request)
    if workspace in WORKSPACE_PAGES:
        return redirect(WORKSPACE_PAGES[workspace])
    volunteer = selectors.user_volunteer(request.user)
    if volunteer is None:
        return render(request, "home.html")
    now = timezone.now()
    upcoming = list(shift_selectors.volunteer_upcoming_assignments(volunteer=volunteer, now=now)[:UPCOMING_ON_HOME])
    check_in_now = list(shift_selectors.volunteer_checkin_open(volunteer=volunteer, now=now))
    on_shift = [a for a in upcoming if a.checked_in_at is not None and a.checked_out_at is None]
    promoted = [a for a in upcoming if a.promoted and a.status == a.Status.CONFIRMED and a.shift.starts_at > now]
    unread = list(shift_selectors.notification_inbox(request.user).filter(read_at__isnull=True)[:3])
    hours = volunteer_credited_minutes(volunteer) / 60
    return render(
        request,
        "volunteers/home.html",
        {
            "volunteer": volunteer,
            "upcoming": upcoming,
            "check_in_now": check_in_now,
            "on_shift": on_shift,
            "now": now,
            "promoted": promoted,
            "unread": unread,
            "hours": hours,
            "stars": selectors.star_level(hours),
        },
    )


@volunteer_required
def hours(request):
    volunteer = request.volunteer
    total_hours = volunteer_credited_minutes(volunteer) / 60
    stars = selectors.star_level(total_hours)
    thresholds = settings.RULES["STAR_THRESHOLDS_HOURS"]
    next_threshold = next((t for t in thresholds if t > total_hours), None)
    page = Paginator(shift_selectors.volunteer_record_places(volunteer=volunteer), PAGE_SIZE).get_page(
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
            "completed": volunteer.assignments.filter(status="completed").count(),
            "certificate_url": optional_url("certificate-download"),
        },
    )
