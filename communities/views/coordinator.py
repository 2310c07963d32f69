"""Pages for community coordinators (their communities only) and team leaders.

Thin: selectors read, the same services as the API write, refusals are said in words.
Objects outside the caller's communities are 404, as in the API.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from communities.api.coordinator import qr_svg, roster_payload
from communities.api.shifts import candidate_reason
from communities.models import Assignment, Shift
from communities.notifications import outbox
from communities.render import refusals
from communities.selectors import shifts as shift_selectors
from communities.selectors.people import volunteer_mobile_display, volunteers_with_mobile_visibility
from communities.services import attendance, coordination
from communities.views.coordinator_forms import (
    AssignForm,
    HoursAdjustForm,
    NoShowForm,
    ReasonForm,
    RotaForm,
    ShiftCancelForm,
    ShiftEditForm,
)
from communities.views.shifts import report_refusal
from config.errors import ServiceError
from config.pagination import WindowCountPaginator
from config.params import as_date, as_text, safe_next_url
from volunteers.decorators import role_required
from volunteers.models import Team, Volunteer
from volunteers.selectors import can_coordinate, user_volunteer

coordinator_required = role_required(can_coordinate, gettext_lazy("Only community coordinators can use this page."))


def _day(request) -> date:
    return as_date(request.GET.get("date")) or timezone.localdate()


def _roster_url(community_id: int, day: date) -> str:
    return f"{reverse('coordinator-roster', args=[community_id])}?date={day.isoformat()}"


@coordinator_required
def coordinator_today(request):
    """Each of my communities today: shifts, fill rate, who is in and who is missing."""
    day = _day(request)
    communities = shift_selectors.communities_managed_by(request.user).select_related("street__district")
    query = as_text(request.GET.get("q"))
    if query:
        communities = communities.filter(Q(name__icontains=query) | Q(code__icontains=query))
    page = Paginator(communities.order_by("code"), 10).get_page(request.GET.get("page"))
    start, end = shift_selectors.day_bounds(day)
    shifts = (
        Shift.objects.filter(community__in=list(page.object_list), starts_at__lt=end, ends_at__gt=start)
        .select_related("post__post_type")
        .annotate(
            checked_in=Count("assignments", filter=Q(assignments__checked_in_at__isnull=False)),
            missing=Count(
                "assignments",
                filter=Q(assignments__status="confirmed", assignments__checked_in_at__isnull=True)
                & Q(starts_at__lte=timezone.now()),
            ),
            no_shows=Count("assignments", filter=Q(assignments__status="no_show")),
        )
        .order_by("starts_at", "post__name")
    )
    by_community: dict[int, list] = {}
    for shift in shifts:
        shift.fill_percent = round(100 * shift.confirmed_count / shift.capacity)
        by_community.setdefault(shift.community_id, []).append(shift)
    for community in page.object_list:
        community.today_shifts = by_community.get(community.pk, [])
    return render(
        request,
        "coordinator/today.html",
        {
            "page": page,
            "day": day,
            "query": query,
            "prev_day": day - timedelta(days=1),
            "next_day": day + timedelta(days=1),
        },
    )


@coordinator_required
def coordinator_roster(request, community_id: int):
    community = get_object_or_404(shift_selectors.communities_managed_by(request.user), pk=community_id)
    day = _day(request)
    roster = roster_payload(community, day, user=request.user)
    # Each shift's section is named by its heading (post, times), which two shifts can share:
    # number the repeats so every section's name is its own.
    seen: dict = {}
    for row in roster["shifts"]:
        key = (row["post"].pk, row["starts_at"], row["ends_at"])
        seen[key] = seen.get(key, 0) + 1
        row["repeat"] = seen[key] if seen[key] > 1 else None
    return render(
        request,
        "coordinator/roster.html",
        {
            "community": community,
            "roster": roster,
            "day": day,
            "prev_day": day - timedelta(days=1),
            "next_day": day + timedelta(days=1),
            "reason_form": ReasonForm(),
            "now": timezone.now(),
        },
    )


@coordinator_required
def coordinator_code(request, shift_id: int):
    """The rotating check-in code, full screen, as a QR code and digits. Refreshes itself."""
    shift = get_object_or_404(
        shift_selectors.shifts_managed_by(request.user).select_related("post__post_type", "community"), pk=shift_id
    )
    current = attendance.checkin_code_current(shift=shift)
    url = request.build_absolute_uri(f"{reverse('check-in')}?shift={shift.pk}&code={current['code']}")
    response = render(request, "coordinator/code.html", {"shift": shift, "current": current, "qr": qr_svg(url)})
    response["Cache-Control"] = "no-store"
    return response


@coordinator_required
def coordinator_rota(request, community_id: int):
    community = get_object_or_404(shift_selectors.communities_managed_by(request.user), pk=community_id)
    posts = list(community.posts.select_related("post_type").order_by("name"))
    form = RotaForm(request.POST or None, posts=posts)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            result = coordination.rota_create(
                actor=request.user,
                community=community,
                post_id=int(data["post"]),
                date_from=data["date_from"],
                date_to=data["date_to"],
                slots=data["slots"],
                capacity=data["capacity"],
                weekdays=data["weekdays"] or None,
            )
        except ServiceError as error:
            report_refusal(request, error)
        else:
            messages.success(
                request,
                _("%(created)d shifts created, %(skipped)d already existed.")
                % {"created": result["created"], "skipped": result["skipped"]},
            )
            # The first day that has shifts of this rota (a weekday filter may skip the first date).
            return redirect(_roster_url(community.pk, result["first_day"]))
    return render(request, "coordinator/rota.html", {"community": community, "form": form})


@coordinator_required
def coordinator_candidates(request, shift_id: int):
    shift = get_object_or_404(
        shift_selectors.shifts_managed_by(request.user).select_related("post__post_type", "community"), pk=shift_id
    )
    page = WindowCountPaginator(shift_selectors.shift_candidates(shift=shift), 20).get_page(request.GET.get("page"))
    for rank, volunteer in enumerate(page.object_list, start=page.start_index()):
        volunteer.rank, volunteer.reason = rank, candidate_reason(volunteer)
    form = AssignForm(request.POST or None, candidates=page.object_list)
    if request.method == "POST" and form.is_valid():
        ids = list(form.cleaned_data["volunteer_ids"])
        number = form.cleaned_data["volunteer_number"].strip()
        if number:
            extra = Volunteer.objects.filter(volunteer_number=number).values_list("pk", flat=True).first()
            if extra is None:
                messages.error(request, _("No volunteer has the number %(number)s.") % {"number": number})
                return redirect(request.get_full_path())
            ids.append(extra)
        results = coordination.shift_assign(
            actor=request.user,
            shift_id=shift.pk,
            volunteer_ids=ids,
            override_reason=form.cleaned_data["override_reason"],
        )
        names = dict(Volunteer.objects.filter(pk__in=ids).values_list("pk", "real_name"))
        for result in results:
            name = names.get(result["volunteer_id"], str(result["volunteer_id"]))
            if result["result"] == "confirmed":
                messages.success(request, _("%(name)s is confirmed.") % {"name": name})
            elif result["result"] == "waitlisted":
                messages.info(request, _("%(name)s is on the waitlist (the shift is full).") % {"name": name})
            else:
                error = ServiceError(result["code"], result["details"])
                messages.error(request, f"{name}: " + "\n".join([str(error.message), *_explain(error)]))
        return redirect(request.get_full_path())
    return render(request, "coordinator/candidates.html", {"shift": shift, "page": page, "form": form})


def _explain(error: ServiceError) -> list[str]:
    return refusals.explain(error)


ACTIONS = {
    "check-in": (attendance.assignment_check_in_manual, ReasonForm, _("Checked in.")),
    "check-out": (attendance.assignment_check_out_manual, ReasonForm, _("Checked out.")),
    "no-show": (attendance.assignment_mark_no_show, NoShowForm, _("Marked as no-show.")),
    "clear-no-show": (attendance.assignment_clear_no_show, ReasonForm, _("No-show cleared.")),
    "reopen": (attendance.assignment_reopen, ReasonForm, _("Reopened.")),
}


@require_POST
@coordinator_required
def coordinator_attendance(request, assignment_id: int, action: str):
    """Check in or out by hand, mark or clear a no-show, reopen a check-out: always with a reason."""
    assignment = get_object_or_404(
        shift_selectors.assignments_managed_by(request.user).select_related("shift"), pk=assignment_id
    )
    back = f"{reverse('coordinator-roster', args=[assignment.shift.community_id])}?date={timezone.localtime(assignment.shift.starts_at).date()}"
    if action not in ACTIONS:
        raise PermissionDenied
    service, form_class, done = ACTIONS[action]
    form = form_class(request.POST)
    if not form.is_valid():
        messages.error(request, str(ServiceError("reason_required").message))
        return redirect(back)
    try:
        service(assignment_id=assignment.pk, actor=request.user, **form.cleaned_data)
    except ServiceError as error:
        report_refusal(request, error)
    else:
        messages.success(request, done)
    return redirect(back)


@coordinator_required
def coordinator_hours(request):
    """Credited hours awaiting approval at my communities, by shift."""
    pending = (
        shift_selectors.assignments_managed_by(request.user)
        .filter(status=Assignment.Status.COMPLETED, hours_status=Assignment.HoursStatus.PENDING)
        .select_related("volunteer", "shift__post__post_type", "shift__community")
        .order_by("shift__starts_at", "shift_id", "id")
    )
    page = Paginator(pending, 25).get_page(request.GET.get("page"))
    # Each shift's whole count, also the part on other pages: "approve all" takes them all.
    counts = dict(
        pending.filter(shift_id__in={a.shift_id for a in page.object_list})
        .order_by()
        .values("shift_id")
        .annotate(count=Count("id"))
        .values_list("shift_id", "count")
    )
    for assignment in page.object_list:
        assignment.shift.pending_count = counts.get(assignment.shift_id, 0)
    reports = list(shift_selectors.corrections_open_for(request.user))
    return render(request, "coordinator/hours.html", {"page": page, "reports": reports})


@require_POST
@coordinator_required
def coordinator_hours_action(request, assignment_id: int, action: str):
    assignment = get_object_or_404(shift_selectors.assignments_managed_by(request.user), pk=assignment_id)
    try:
        if action == "approve":
            attendance.hours_approve(assignment_id=assignment.pk, actor=request.user)
            messages.success(request, _("Hours approved."))
        elif action == "adjust":
            form = HoursAdjustForm(request.POST)
            if not form.is_valid():
                messages.error(request, _("Give the hours and a reason."))
                return redirect("coordinator-hours")
            attendance.hours_adjust(
                assignment_id=assignment.pk,
                actor=request.user,
                credited_minutes=form.credited_minutes(),
                reason=form.cleaned_data["reason"],
            )
            messages.success(request, _("Hours adjusted and approved."))
        else:
            raise PermissionDenied
    except ServiceError as error:
        report_refusal(request, error)
    return redirect(safe_next_url(request, reverse("coordinator-hours")))


@require_POST
@coordinator_required
def coordinator_hours_approve_shift(request, shift_id: int):
    """Approve every credited time of one shift awaiting approval, in one step."""
    shift = get_object_or_404(shift_selectors.shifts_managed_by(request.user), pk=shift_id)
    try:
        approved = attendance.hours_approve_shift(shift_id=shift.pk, actor=request.user)
    except ServiceError as error:
        report_refusal(request, error)
    else:
        messages.success(
            request,
            ngettext("%(count)d credited time approved.", "%(count)d credited times approved.", len(approved))
            % {"count": len(approved)},
        )
    return redirect(safe_next_url(request, reverse("coordinator-hours")))


def _managed_shift(request, shift_id: int) -> Shift:
    return get_object_or_404(
        shift_selectors.shifts_managed_by(request.user).select_related("post__post_type", "community"), pk=shift_id
    )


def _to_minute(moment):
    return moment.replace(second=0, microsecond=0)


@coordinator_required
def coordinator_shift_edit(request, shift_id: int):
    """Change a shift's day, times, capacity or notes (coordination.shift_update, as the API);
    cancelling it is on the same page."""
    shift = _managed_shift(request, shift_id)
    now = timezone.now()
    start, end = timezone.localtime(shift.starts_at), timezone.localtime(shift.ends_at)
    initial = {"day": start.date(), "start": start.time(), "end": end.time(), "capacity": shift.capacity}
    times_fixed = shift_selectors.shift_attendance_count(shift) > 0
    form = ShiftEditForm(request.POST or None, initial={**initial, "notes": shift.notes}, times_fixed=times_fixed)
    if request.method == "POST" and form.is_valid():
        starts_at, ends_at = form.times()
        if (starts_at, ends_at) == (_to_minute(shift.starts_at), _to_minute(shift.ends_at)):
            starts_at = ends_at = None  # the form shows minutes: unchanged, whatever the seconds stored
        try:
            coordination.shift_update(
                actor=request.user,
                shift_id=shift.pk,
                starts_at=starts_at,
                ends_at=ends_at,
                capacity=form.cleaned_data["capacity"],
                notes=form.cleaned_data["notes"],
                reason=form.cleaned_data["reason"],
            )
        except ServiceError as error:
            report_refusal(request, error)
        else:
            messages.success(request, _("The shift is changed."))
            return redirect(_roster_url(shift.community_id, timezone.localtime(starts_at or shift.starts_at).date()))
    return render(
        request,
        "coordinator/shift_edit.html",
        {
            "shift": shift,
            "form": form,
            "cancel_form": ShiftCancelForm(),
            "now": now,
            "effect": shift_selectors.shift_cancel_effect(shift, now=now),
            "times_fixed": times_fixed,
        },
    )


@require_POST
@coordinator_required
def coordinator_shift_cancel(request, shift_id: int):
    """Cancel a shift (coordination.shift_cancel, as the API): a reason and a ticked confirmation."""
    shift = _managed_shift(request, shift_id)
    form = ShiftCancelForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give a reason and tick the confirmation to cancel the shift."))
        return redirect("coordinator-shift-edit", shift_id=shift.pk)
    try:
        coordination.shift_cancel(actor=request.user, shift_id=shift.pk, reason=form.cleaned_data["reason"])
    except ServiceError as error:
        report_refusal(request, error)
        return redirect("coordinator-shift-edit", shift_id=shift.pk)
    messages.success(request, _("The shift is cancelled; its volunteers are told."))
    return redirect(_roster_url(shift.community_id, timezone.localtime(shift.starts_at).date()))


@coordinator_required
def coordinator_failed_messages(request):
    """Texts and messages about my communities' shifts that did not reach their person: refused by
    the provider, or reported undelivered by its receipt. Each can be sent again."""
    rows = outbox.failed_list(user=request.user).select_related("shift__post")
    page = Paginator(rows, 25).get_page(request.GET.get("page"))
    outbox.failed_communities_attach(page.object_list)
    for row in page.object_list:
        row.recipient_name = outbox.failed_recipient_name(row)
    return render(request, "coordinator/failed_messages.html", {"page": page})


@require_POST
@coordinator_required
def coordinator_failed_message_retry(request, notification_id: int):
    try:
        outbox.notification_retry(user=request.user, notification_id=notification_id)
        messages.success(request, _("The message will be sent again."))
    except ServiceError as error:
        if error.code == "not_found":
            raise Http404 from None
        report_refusal(request, error)
    return redirect(safe_next_url(request, reverse("coordinator-failed-messages")))


@login_required
def team_overview(request):
    """A team leader's view of their team: today's attendance and the coming week's shifts."""
    volunteer = user_volunteer(request.user)
    teams = list(Team.objects.filter(leader=volunteer)) if volunteer else []
    if not teams:
        raise PermissionDenied(_("Only team leaders can use this page."))
    start, _end = shift_selectors.day_bounds(timezone.localdate())
    assignments = (
        Assignment.objects.filter(
            volunteer__team__in=teams,
            shift__starts_at__gte=start,
            shift__starts_at__lt=start + timedelta(days=7),
        )
        .exclude(status=Assignment.Status.CANCELLED)
        .select_related("volunteer", "shift__post__post_type", "shift__community")
        .order_by("shift__starts_at", "volunteer__real_name")
    )
    members = list(
        volunteers_with_mobile_visibility(
            Volunteer.objects.filter(team__in=teams).select_related("deployed_community").order_by("real_name"),
            user=request.user,
        )
    )
    for member in members:
        member.shown_mobile = volunteer_mobile_display(request.user, member)
    return render(
        request,
        "coordinator/team.html",
        {"teams": teams, "assignments": assignments, "members": members, "now": timezone.now()},
    )
