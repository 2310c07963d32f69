"""Pages for a reported error in a service record (``communities.services.corrections``): the
volunteer reports it from their hours page; the community's coordinators answer it from theirs."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from communities.models import Assignment, RecordCorrection
from communities.services import corrections
from communities.views.coordinator import coordinator_required
from communities.views.shifts import report_refusal
from config.errors import ServiceError
from config.params import safe_next_url
from volunteers.decorators import volunteer_required


class ReportForm(forms.Form):
    message = forms.CharField(
        label=gettext_lazy("What is wrong"),
        max_length=corrections.MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=gettext_lazy(
            "For example: I was at the post from 08:00 to 12:00 but the record says I did not come. "
            "The community's coordinators check it and answer you."
        ),
    )


class AnswerForm(forms.Form):
    answer = forms.CharField(
        label=gettext_lazy("Answer to the volunteer"),
        max_length=corrections.MAX_LENGTH,
        required=False,
        help_text=gettext_lazy("Needed to decline; kept in the audit trail."),
    )
    decision = forms.ChoiceField(choices=[("corrected", "corrected"), ("declined", "declined")])


_MOMENT = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


class CorrectForm(forms.Form):
    """The record as it should be: the times at the post (a place not attended on the record), or
    the credited time (an attended one); and the answer."""

    attended_from = forms.DateTimeField(label=gettext_lazy("At the post from"), required=False, widget=_MOMENT)
    attended_to = forms.DateTimeField(label=gettext_lazy("Until"), required=False, widget=_MOMENT)
    hours = forms.IntegerField(label=gettext_lazy("Hours"), min_value=0, max_value=24, required=False)
    minutes = forms.IntegerField(label=gettext_lazy("Minutes"), min_value=0, max_value=59, required=False)
    answer = forms.CharField(
        label=gettext_lazy("Answer to the volunteer"), max_length=corrections.MAX_LENGTH, required=False
    )

    def attended(self):
        start, end = self.cleaned_data.get("attended_from"), self.cleaned_data.get("attended_to")
        return (start, end) if start and end else None

    def credited_minutes(self):
        if self.cleaned_data.get("hours") is None:
            return None
        return self.cleaned_data["hours"] * 60 + (self.cleaned_data.get("minutes") or 0)


@volunteer_required
def report(request, assignment_id: int):
    """Report an error in the record of one of my attended or missed shifts."""
    assignment = get_object_or_404(
        Assignment.objects.select_related("shift__post__post_type", "shift__community").filter(
            volunteer=request.volunteer
        ),
        pk=assignment_id,
    )
    if corrections.report_refusal(assignment, now=timezone.now()) is not None:
        raise Http404  # the hours page links only the places whose record may be reported
    open_report = assignment.corrections.filter(status=RecordCorrection.Status.PENDING).first()
    form = ReportForm(request.POST or None)
    if request.method == "POST" and open_report is None and form.is_valid():
        try:
            corrections.correction_report(
                user=request.user, assignment_id=assignment.pk, message=form.cleaned_data["message"]
            )
        except ServiceError as error:
            report_refusal(request, error)
        else:
            messages.success(
                request, _("Your report is sent to the community's coordinators. You will be told their answer.")
            )
            return redirect("my-hours")
    return render(
        request, "volunteers/record_report.html", {"assignment": assignment, "form": form, "open_report": open_report}
    )


@require_POST
@coordinator_required
def answer(request, correction_id: int):
    """Answer a reported error: corrected, or declined with a reason."""
    form = AnswerForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose whether the record was corrected."))
        return redirect("coordinator-hours")
    try:
        corrections.correction_answer(
            actor=request.user,
            correction_id=correction_id,
            corrected=form.cleaned_data["decision"] == "corrected",
            answer=form.cleaned_data["answer"],
        )
    except ServiceError as error:
        if error.code == "not_found":
            raise Http404 from None
        if error.code == "invalid" and "answer" in error.details:
            messages.error(request, _("Give the volunteer a reason to decline."))
        else:
            report_refusal(request, error)
    else:
        messages.success(request, _("Answered; the volunteer is told."))
    return redirect(safe_next_url(request, reverse("coordinator-hours")))


@require_POST
@coordinator_required
def correct(request, correction_id: int):
    """Correct the record as reported (times at the post, or the credited time) and answer, in one step."""
    form = CorrectForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the times at the post, or the credited time."))
        return redirect(safe_next_url(request, reverse("coordinator-hours")))
    try:
        corrections.correction_correct(
            actor=request.user,
            correction_id=correction_id,
            answer=form.cleaned_data["answer"],
            attended=form.attended(),
            credited_minutes=form.credited_minutes(),
        )
    except ServiceError as error:
        if error.code == "not_found":
            raise Http404 from None
        report_refusal(request, error)
    else:
        messages.success(request, _("The record is corrected; the volunteer is told."))
    return redirect(safe_next_url(request, reverse("coordinator-hours")))
