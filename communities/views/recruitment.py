"""Recruitment pages: a call's public page, short link and poster (anyone); the staff's list,
editor and review queue (organisation staff, their subtree only)."""

from __future__ import annotations

from types import SimpleNamespace

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from communities.render import posters
from communities.selectors import recruitment as selectors
from communities.services import recruitment as services
from config.client import client_ip
from config.errors import ERRORS, ServiceError
from config.throttling import ScopedRateThrottle
from volunteers.decorators import role_required
from volunteers.models import QualificationType, RecruitmentCall, Skill, VolunteerCategory
from volunteers.selectors import is_committee_staff

from .recruitment_forms import ApplicationFilterForm, ApplyForm, CallForm, RejectForm, call_initial

PAGE_SIZE = 50

staff_required = role_required(is_committee_staff, gettext_lazy("Only organisation staff can use this page."))


def _refusal(error: ServiceError):
    if error.code == "not_found":
        return Http404(str(error.message))
    return PermissionDenied(str(error.message))


# --- Public ------------------------------------------------------------------------------------


def _public_or_404(slug: str) -> RecruitmentCall:
    call = selectors.public_call(slug)
    if call is None:
        raise Http404(_("There is no such recruitment call."))
    return call


def _add_errors(form, error: ServiceError) -> None:
    details = error.details if isinstance(error.details, dict) else {}
    placed = False
    for name, problems in details.items():
        if name in form.fields and isinstance(problems, list):
            for problem in problems:
                form.add_error(name, str(problem))
            placed = True
    if not placed:
        form.add_error(None, str(error.message))


@never_cache
@require_http_methods(["GET", "POST"])
def call_page(request, slug: str):
    """The page a poster's QR code opens: the call, and the form to answer it. ``action=send``
    texts a code to the number given; ``action=apply`` sends the answer."""
    call = _public_or_404(slug)
    agreement = selectors.call_agreement(call)
    choices = selectors.application_choices(call)
    is_open = selectors.call_accepts_answers(call)
    choices.categories = list(VolunteerCategory.objects.order_by("code"))
    choices.skills = list(Skill.objects.order_by("code"))
    choices.qualifications = list(QualificationType.objects.order_by("code"))
    initial = {"agreement_version": agreement.version}
    form = ApplyForm(request.POST or None, initial=initial, choices=choices)
    context = {"call": call, "agreement": agreement, "form": form, "open": is_open, "code_sent": False}
    status = 200
    if request.method == "POST":
        if not is_open:
            raise Http404(_("This call is no longer taking answers."))
        if _throttled(request):
            form.is_valid()
            form.add_error(None, str(ERRORS["throttled"][1]))
            return render(request, "recruitment/call_page.html", context, status=429)
        if form.is_valid():
            try:
                if request.POST.get("action") == "send":
                    context["resend_after"] = services.call_code_request(
                        slug=slug, mobile=form.cleaned_data["mobile"], ip=client_ip(request)
                    )
                    context["code_sent"] = True
                else:
                    application = services.call_apply(
                        slug=slug,
                        form=services.ApplicationForm.from_data(form.service_data()),
                        code=form.cleaned_data.get("code") or "",
                    )
                    return render(request, "recruitment/applied.html", {"call": call, "application": application})
            except ServiceError as error:
                if error.code == "sms_code_throttled":
                    form.add_error(
                        None,
                        _("Too many codes asked for. Please try again in %(seconds)s seconds.")
                        % {"seconds": error.details["retry_after"]},
                    )
                elif error.code == "login_code_invalid":
                    form.add_error("code", _("The code is wrong or has expired. Ask for a new code."))
                elif error.code == "agreement_changed":
                    form = ApplyForm(
                        {**request.POST.dict(), "agreement_version": agreement.version, "accepts_agreement": ""},
                        choices=choices,
                    )
                    form.is_valid()
                    form.add_error("accepts_agreement", str(error.message))
                else:
                    _add_errors(form, error)
                context["form"] = form
        if form.errors:
            status = 400
    return render(request, "recruitment/call_page.html", context, status=status)


def _throttled(request) -> bool:
    """The page's answers count against the same per-address rate as the API's."""
    return not ScopedRateThrottle().allow_request(request, SimpleNamespace(throttle_scope="public_call_apply"))


def call_short(request, slug: str):
    """The short link printed on a poster."""
    return redirect("call-page", slug=slug)


def _poster_call(request, slug: str) -> RecruitmentCall:
    """A published call's poster for anyone; a draft's for its staff only (to check it first)."""
    call = RecruitmentCall.objects.select_related("organization").filter(slug=slug).first()
    if call is None:
        raise Http404(_("There is no such recruitment call."))
    if call.status == RecruitmentCall.Status.DRAFT and not (
        request.user.is_authenticated and selectors.call_for_staff(request.user, call.pk) is not None
    ):
        raise Http404(_("There is no such recruitment call."))
    return call


def _short_url(request, call) -> str:
    return request.build_absolute_uri(reverse("call-short", args=[call.slug]))


def call_poster_png(request, slug: str):
    call = _poster_call(request, slug)
    response = HttpResponse(posters.poster_png(call, _short_url(request, call)), content_type="image/png")
    response["Content-Disposition"] = f'inline; filename="call-{call.slug}.png"'
    return response


def call_poster_pdf(request, slug: str):
    call = _poster_call(request, slug)
    response = HttpResponse(posters.poster_pdf(call, _short_url(request, call)), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="call-{call.slug}.pdf"'
    return response


# --- Staff -------------------------------------------------------------------------------------


@staff_required
def call_list(request):
    calls = Paginator(selectors.calls_visible_to(request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "recruitment/call_list.html", {"calls": calls, "current": "committee-calls"})


def _call_form_values(form) -> dict:
    return dict(form.cleaned_data)


@staff_required
def call_create(request):
    form = CallForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            call = services.call_create(actor=request.user, **_call_form_values(form))
        except ServiceError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("The call is saved as a draft. Publish it when it is ready."))
            return redirect("committee-call", pk=call.pk)
    return render(
        request,
        "recruitment/call_form.html",
        {"form": form, "call": None, "current": "committee-calls"},
        status=400 if form.errors else 200,
    )


def _staff_call(request, pk: int) -> RecruitmentCall:
    call = selectors.call_for_staff(request.user, pk)
    if call is None:
        raise Http404(_("There is no such recruitment call."))
    return call


@staff_required
def call_edit(request, pk: int):
    call = _staff_call(request, pk)
    agreement = selectors.call_agreement(call)
    form = CallForm(request.POST or None, user=request.user, initial=call_initial(call, agreement.text))
    if request.method == "POST" and form.is_valid():
        try:
            services.call_update(actor=request.user, call_id=call.pk, **_call_form_values(form))
        except ServiceError as error:
            _add_errors(form, error)
        else:
            messages.success(request, _("The call is saved."))
            return redirect("committee-call", pk=call.pk)
    return render(
        request,
        "recruitment/call_form.html",
        {"form": form, "call": call, "current": "committee-calls"},
        status=400 if form.errors else 200,
    )


@staff_required
def call_detail(request, pk: int):
    call = _staff_call(request, pk)
    filters = ApplicationFilterForm(request.GET or None)
    chosen = filters.cleaned_data if filters.is_valid() else {}
    applications = Paginator(
        selectors.applications_for_review(request.user, call_id=call.pk, filters=chosen), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "recruitment/call_detail.html",
        {
            "call": call,
            "agreement": selectors.call_agreement(call),
            "filters": filters,
            "applications": applications,
            "short_url": _short_url(request, call),
            "reject_form": RejectForm(),
            "current": "committee-calls",
        },
    )


@staff_required
@require_POST
def call_status(request, pk: int, action: str):
    call = _staff_call(request, pk)
    service = services.call_publish if action == "publish" else services.call_close
    try:
        service(actor=request.user, call_id=call.pk)
    except ServiceError as error:
        messages.error(request, str(error.message))
    else:
        messages.success(request, _("The call is published.") if action == "publish" else _("The call is closed."))
    return redirect("committee-call", pk=call.pk)


@staff_required
@require_POST
def call_review(request, pk: int):
    """The queue's buttons: approve the ticked applications, or reject one with a reason."""
    call = _staff_call(request, pk)
    if request.POST.get("action") == "reject":
        form = RejectForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Please give a reason; it is texted to the applicant."))
            return redirect("committee-call", pk=call.pk)
        try:
            _in_call(request, call, [form.cleaned_data["application"]])
            services.application_reject(
                actor=request.user, application_id=form.cleaned_data["application"], reason=form.cleaned_data["reason"]
            )
        except ServiceError as error:
            messages.error(request, str(error.message))
        else:
            messages.success(request, _("The application is rejected and the applicant will be texted the reason."))
        return redirect("committee-call", pk=call.pk)
    ids = []
    for value in request.POST.getlist("application"):
        if value.isdigit():
            ids.append(int(value))
    if not ids:
        messages.error(request, _("Tick the applications to approve."))
        return redirect("committee-call", pk=call.pk)
    try:
        _in_call(request, call, ids)
    except ServiceError as error:
        raise _refusal(error) from error
    result = services.applications_approve(actor=request.user, application_ids=ids)
    if result["approved"]:
        messages.success(
            request, _("%(count)s applications approved; they are texted.") % {"count": len(result["approved"])}
        )
    if result["refused"]:
        messages.error(
            request,
            _("%(count)s could not be approved (already reviewed, or the person is registered under other details).")
            % {"count": len(result["refused"])},
        )
    return redirect("committee-call", pk=call.pk)


def _in_call(request, call, ids: list[int]) -> None:
    found = selectors.applications_for_review(request.user, call_id=call.pk).filter(pk__in=ids).count()
    if found != len(set(ids)):
        raise ServiceError("not_found")
