"""Server-rendered pages about shifts: browse, sign up, cancel, my shifts, week, check-in, inbox.

Thin, like the API: read through selectors, write through services (the same ones the API
calls, so every rule exists once), and say a refusal in words (``refusals.explain``).
Every write is a POST that redirects, so reloading a result page never repeats it.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from communities.models import Assignment, Shift
from communities.notifications import outbox
from communities.render import refusals
from communities.rules.eligibility import ineligibility
from communities.selectors import shifts as shift_selectors
from communities.selectors.offers import shift_offers
from communities.services import attendance, signup
from communities.views.forms import ORDER_NEAR, CheckInForm, ShiftFilterForm
from communities.views.me import calendar_feed_url
from config import formats
from config.errors import ServiceError
from config.pagination import IdsFirstPaginator
from config.params import as_date, safe_next_url
from volunteers.decorators import volunteer_required
from volunteers.selectors import user_volunteer

PAGE_SIZE = 20


def report_refusal(request, error: ServiceError) -> None:
    """The error's own message, then one line per explanation (the template keeps line breaks)."""
    messages.error(request, "\n".join([str(error.message), *refusals.explain(error)]))


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


# --- Browse and sign up ---------------------------------------------------------------------


NEAR_LABELS = {
    shift_selectors.NEAR_COMMUNITY: gettext_lazy("In my community"),
    shift_selectors.NEAR_STREET: gettext_lazy("On my street"),
    shift_selectors.NEAR_DISTRICT: gettext_lazy("In my district"),
    shift_selectors.NEAR_ELSEWHERE: gettext_lazy("Farther away"),
}


def _groups(shifts: list, near: bool) -> list[dict]:
    """Consecutive shifts of one nearness under one heading (one group, no heading, by time)."""
    if not near:
        return [{"nearness": None, "label": "", "shifts": shifts}] if shifts else []
    groups: list[dict] = []
    for shift in shifts:
        if not groups or groups[-1]["nearness"] != shift.nearness:
            groups.append({"nearness": shift.nearness, "label": NEAR_LABELS[shift.nearness], "shifts": []})
        groups[-1]["shifts"].append(shift)
    return groups


@login_required
def shift_browse(request):
    """Shifts near me: the volunteer's own community first, then street, district and the rest
    (nearest first where coordinates exist); a sign-up button only where the sign-up would take
    them, the others greyed with the reason."""
    volunteer = user_volunteer(request.user)
    place = shift_selectors.volunteer_place(volunteer)
    form = ShiftFilterForm(request.GET or None)
    filters: dict = {}
    more = False
    order = ORDER_NEAR
    if form.is_valid():
        data = form.cleaned_data
        order = data["order"] or ORDER_NEAR
        if data["district"]:
            filters["district"] = data["district"]
        if data["street"]:
            filters["street"] = data["street"]
        if data["community"] is not None:
            filters["communities"] = data["community"]
        if data["post_type"]:
            filters["post_type"] = str(data["post_type"].pk)
        if data["date"]:
            filters["starts_after"] = _day_start(data["date"])
            filters["starts_before"] = _day_start(data["date"] + timedelta(days=1))
        if data["has_space"]:
            filters["has_space"] = True
        if data["eligible"]:
            filters["eligible"] = True
        more = any(key not in ("district", "street") for key in filters)
    near = place if order == ORDER_NEAR else None
    shifts = shift_selectors.shift_list(volunteer=volunteer, near=near, **filters)
    page = IdsFirstPaginator(shifts, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = shift_offers(volunteer=volunteer, shifts=page.object_list)
    return render(
        request,
        "communities/shift_list.html",
        {
            "form": form,
            "page": page,
            "groups": _groups(page.object_list, near is not None),
            "volunteer": volunteer,
            "place": place,
            "filtered": bool(filters) or order != ORDER_NEAR,
            "more_filters": more,
            "now": timezone.now(),
        },
    )


@login_required
def shift_detail(request, pk: int):
    volunteer = user_volunteer(request.user)
    try:
        shift = shift_selectors.shift_detail(shift_id=pk, volunteer=volunteer)
    except Shift.DoesNotExist:
        raise Http404 from None
    mine = shift.my_assignments[0] if volunteer is not None and shift.my_assignments else None
    problems = []
    if volunteer is not None and mine is None:
        problems = refusals.explain_ineligibility(ineligibility(shift_id=shift.pk, volunteer_id=volunteer.pk))
    return render(
        request,
        "communities/shift_detail.html",
        {
            "shift": shift,
            "volunteer": volunteer,
            "mine": mine,
            "problems": problems,
            "now": timezone.now(),
            "post_type": shift.post.post_type,
        },
    )


@require_POST
@volunteer_required
def shift_sign_up(request, pk: int):
    back = safe_next_url(request, reverse("shift-detail", args=[pk]))
    try:
        assignment = signup.shift_sign_up(shift_id=pk, volunteer=request.volunteer)
    except ServiceError as error:
        if error.code == "not_found":
            raise Http404 from None
        report_refusal(request, error)
        return redirect(back)
    words = refusals.shift_words(assignment.shift)
    if assignment.status == Assignment.Status.CONFIRMED:
        messages.success(request, _("You are signed up for %(shift)s.") % {"shift": words})
    else:
        position = (
            shift_selectors.assignments_with_position(Assignment.objects.filter(pk=assignment.pk))
            .values_list("waitlist_position", flat=True)
            .get()
        )
        messages.warning(
            request,
            "\n".join(
                [
                    _("%(shift)s is full, so you joined its waitlist.") % {"shift": words},
                    refusals.waitlist_words(position),
                    _("If a place frees up you get it automatically, and we will tell you."),
                ]
            ),
        )
    return redirect(back)


@require_POST
@volunteer_required
def assignment_cancel(request, pk: int):
    assignment = get_object_or_404(
        Assignment.objects.select_related("shift__post__post_type", "shift__community"),
        pk=pk,
        volunteer=request.volunteer,
    )
    back = safe_next_url(request, reverse("my-shifts"))
    was_waitlisted = assignment.status == Assignment.Status.WAITLISTED
    try:
        signup.assignment_cancel(assignment_id=assignment.pk)
    except ServiceError as error:
        report_refusal(request, error)
        return redirect(back)
    words = refusals.shift_words(assignment.shift)
    if was_waitlisted:
        messages.success(request, _("You left the waitlist for %(shift)s.") % {"shift": words})
    else:
        messages.success(request, _("Your place on %(shift)s is cancelled.") % {"shift": words})
    return redirect(back)


# --- My shifts ------------------------------------------------------------------------------


@volunteer_required
def my_shifts(request):
    volunteer = request.volunteer
    now = timezone.now()
    upcoming = list(shift_selectors.volunteer_upcoming_assignments(volunteer=volunteer, now=now))
    past = Paginator(shift_selectors.volunteer_past_assignments(volunteer=volunteer, now=now), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    open_ids = shift_selectors.volunteer_checkin_open_ids(volunteer=volunteer, now=now)
    return render(
        request,
        "communities/my_shifts.html",
        {
            "upcoming": upcoming,
            "past": past,
            "check_in_ids": open_ids,
            "now": now,
            **_calendar_links(request, volunteer),
        },
    )


def _calendar_links(request, volunteer) -> dict:
    url = calendar_feed_url(request, volunteer)
    return {"calendar_url": url, "webcal_url": "webcal://" + url.split("://", 1)[1]}


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


@volunteer_required
def my_week(request):
    volunteer = request.volunteer
    today = timezone.localdate()
    chosen = as_date(request.GET.get("week")) or today
    monday = _monday(chosen)
    days = [monday + timedelta(days=offset) for offset in range(7)]
    assignments = shift_selectors.volunteer_assignments_between(
        volunteer=volunteer, start=_day_start(monday), end=_day_start(monday + timedelta(days=7))
    )
    by_day: dict[date, list] = {day: [] for day in days}
    for assignment in assignments:
        start = timezone.localtime(assignment.shift.starts_at).date()
        end = timezone.localtime(assignment.shift.ends_at - timedelta(microseconds=1)).date()
        # A night shift appears on each day it covers, marked as continuing on the later ones.
        for day in days:
            if start <= day <= end:
                by_day[day].append({"assignment": assignment, "continued": day != start})
    return render(
        request,
        "communities/my_week.html",
        {
            "days": [{"date": day, "items": by_day[day], "today": day == today} for day in days],
            "monday": monday,
            "sunday": days[-1],
            "previous_week": monday - timedelta(days=7),
            "next_week": monday + timedelta(days=7),
            "this_week": _monday(today),
            **_calendar_links(request, volunteer),
        },
    )


# --- Check-in -------------------------------------------------------------------------------


@volunteer_required
def check_in(request):
    """Type the post's 6-digit code, or scan its QR code where the browser can (static/js/checkin.js)."""
    volunteer = request.volunteer
    open_now = list(shift_selectors.volunteer_checkin_open(volunteer=volunteer))
    if request.method == "POST":
        form = CheckInForm(request.POST)
        if form.is_valid():
            return _check_in(request, form)
        bound_id = form.data.get("assignment")
    else:
        form, bound_id = None, None
    code = request.GET.get("code", "")
    # Opened from the home page or a QR link for one shift: put that shift first.
    chosen = request.GET.get("shift", "")
    open_now.sort(key=lambda a: str(a.shift_id) != chosen)
    forms = []
    for assignment in open_now:
        if form is not None and str(assignment.pk) == bound_id:
            form.auto_id = _checkin_auto_id(assignment)
            forms.append((assignment, form))
        else:
            forms.append(
                (
                    assignment,
                    CheckInForm(
                        initial={"assignment": assignment.pk, "code": code}, auto_id=_checkin_auto_id(assignment)
                    ),
                )
            )
    if forms:
        # The code field is what a volunteer at the post came for: focus it (the first shift's,
        # or the one whose code was refused).
        focused = next((f for _a, f in forms if f.is_bound), forms[0][1])
        focused.fields["code"].widget.attrs["autofocus"] = True
    upcoming = (
        None
        if open_now
        else shift_selectors.volunteer_upcoming_assignments(volunteer=volunteer)
        .filter(status=Assignment.Status.CONFIRMED)
        .first()
    )
    opens_minutes = int(settings.RULES["CHECKIN_OPENS_BEFORE"].total_seconds() // 60)
    return render(
        request, "communities/check_in.html", {"forms": forms, "upcoming": upcoming, "opens_minutes": opens_minutes}
    )


def _checkin_auto_id(assignment: Assignment) -> str:
    """Field ids of one shift's form: several shifts' forms can share the page."""
    return f"id_%s_{assignment.pk}"


def _check_in(request, form: CheckInForm):
    data = form.cleaned_data
    assignment = get_object_or_404(Assignment, pk=data["assignment"], volunteer=request.volunteer)
    try:
        assignment = attendance.assignment_check_in(
            assignment_id=assignment.pk,
            volunteer=request.volunteer,
            code=data["code"],
            latitude=data.get("latitude"),
            longitude=data.get("longitude"),
        )
    except ServiceError as error:
        report_refusal(request, error)
        return redirect("check-in")
    shift = Assignment.objects.select_related("shift__post__post_type", "shift__community").get(pk=assignment.pk).shift
    checked_in_at = timezone.localtime(assignment.checked_in_at or timezone.now())
    messages.success(
        request,
        _("Checked in at %(time)s for %(shift)s. Thank you for serving!")
        % {"time": formats.clock(checked_in_at), "shift": refusals.shift_words(shift)},
    )
    return redirect("my-shifts")


@require_POST
@volunteer_required
def check_out(request, pk: int):
    assignment = get_object_or_404(
        Assignment.objects.select_related("shift__post__post_type", "shift__community"),
        pk=pk,
        volunteer=request.volunteer,
    )
    try:
        attendance.assignment_check_out(assignment_id=assignment.pk, volunteer=request.volunteer)
    except ServiceError as error:
        report_refusal(request, error)
        return redirect(safe_next_url(request, reverse("my-shifts")))
    messages.success(
        request,
        _("Checked out from %(shift)s. Your time is waiting for the coordinator's approval.")
        % {"shift": refusals.shift_words(assignment.shift)},
    )
    return redirect(safe_next_url(request, reverse("my-shifts")))


# --- Inbox ----------------------------------------------------------------------------------


@login_required
def inbox(request):
    page = Paginator(shift_selectors.notification_inbox(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "communities/inbox.html", {"page": page})


@login_required
def inbox_broadcast(request, pk: int):
    """A call-out's short link (``/m/<id>/``, in its SMS): the whole message in the reader's inbox."""
    notice = shift_selectors.broadcast_inbox_message(request.user, pk)
    if notice is None:
        raise Http404
    return render(request, "communities/inbox_message.html", {"notice": notice})


@require_POST
@login_required
def inbox_mark_read(request, pk: int | None = None):
    try:
        if pk is None:
            outbox.notifications_mark_all_read(user=request.user)
        else:
            outbox.notification_mark_read(user=request.user, notification_id=pk)
    except ServiceError as error:
        if error.code == "not_found":
            raise Http404 from None
        raise
    return redirect(safe_next_url(request, reverse("inbox")))
