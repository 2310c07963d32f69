"""Pages for call-outs (staff and coordinators) and the live operations board (committee).

Thin: the services and selectors the API uses; the board's page carries its first figures and
``static/js/live.js`` asks ``/api/v1/live/`` again every ``LIVE_BOARD_POLL_SECONDS``.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from communities.api.mobilisation import LiveBoardSerializer
from communities.models import Broadcast, Community
from communities.selectors.broadcasts import broadcasts_sent_by, may_send_broadcasts
from communities.selectors.live import live_board
from communities.selectors.shifts import communities_managed_by
from communities.services import broadcasts
from communities.views.committee import committee_required
from communities.views.shifts import report_refusal
from config.errors import ServiceError
from volunteers.decorators import role_required
from volunteers.models import RecruitmentCall, Team
from volunteers.selectors import is_committee_staff, organization_subtree

broadcaster_required = role_required(
    may_send_broadcasts, gettext_lazy("Only coordinators and league committee staff can send call-outs.")
)


class BroadcastForm(forms.Form):
    audience = forms.ChoiceField(label=gettext_lazy("Send to"), choices=Broadcast.Audience.choices)
    shift = forms.IntegerField(
        label=gettext_lazy("Shift number"),
        required=False,
        min_value=1,
        max_value=2**63 - 1,
        help_text=gettext_lazy("For a shift's volunteers: the number in the shift's address (/shifts/123/)."),
    )
    community = forms.TypedChoiceField(label=gettext_lazy("Community"), required=False, coerce=int, empty_value=None)
    team = forms.TypedChoiceField(label=gettext_lazy("Team"), required=False, coerce=int, empty_value=None)
    organization = forms.TypedChoiceField(
        label=gettext_lazy("Organization (its reserve)"), required=False, coerce=int, empty_value=None
    )
    call = forms.TypedChoiceField(
        label=gettext_lazy("Recruitment call (its applicants)"), required=False, coerce=int, empty_value=None
    )
    subject = forms.CharField(label=gettext_lazy("Subject"), max_length=60)
    message = forms.CharField(label=gettext_lazy("Message"), max_length=300, widget=forms.Textarea(attrs={"rows": 4}))
    link_shift = forms.IntegerField(
        label=gettext_lazy("Shift to sign up for (optional)"),
        required=False,
        min_value=1,
        max_value=2**63 - 1,
        help_text=gettext_lazy("Readers get a button that takes them to this shift."),
    )
    by_sms = forms.BooleanField(label=gettext_lazy("Also send by SMS"), required=False)
    urgent = forms.BooleanField(label=gettext_lazy("Urgent: send texts during quiet hours too"), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        staff = user.is_superuser or is_committee_staff(user)
        communities = Community.objects.all() if staff else communities_managed_by(user)
        self.fields["community"].choices = [("", "—")] + [
            (c.pk, c.display_name) for c in communities.order_by("code")[:500]
        ]
        if staff:
            organizations = organization_subtree(user)
            self.fields["team"].choices = [("", "—")] + [
                (t.pk, t.name) for t in Team.objects.filter(organization__in=organizations).order_by("name")
            ]
            self.fields["call"].choices = [("", "—")] + [
                (c.pk, c.title)
                for c in RecruitmentCall.objects.filter(organization__in=organizations).order_by("-pk")[:200]
            ]
            self.fields["organization"].choices = [("", "—")] + [
                (o.pk, f"{'· ' * o.depth}{o.display_name}") for o in organizations.order_by("path")
            ]
        else:
            self.fields["audience"].choices = [
                choice for choice in Broadcast.Audience.choices if choice[0] in ("shift", "community")
            ]
            for name in ("team", "organization", "call", "urgent"):
                del self.fields[name]

    def __getitem__(self, name):
        try:
            return super().__getitem__(name)
        except KeyError:
            return None


@broadcaster_required
def broadcast_page(request):
    """Write a call-out, preview its audience and cost, send it; my call-outs below."""
    form = BroadcastForm(request.POST or None, user=request.user)
    preview = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            target = broadcasts.broadcast_target(
                actor=request.user,
                audience=data["audience"],
                shift_id=data["shift"],
                team_id=data.get("team"),
                community_id=data["community"],
                organization_id=data.get("organization"),
                call_id=data.get("call"),
            )
            if request.POST.get("action") == "send":
                sent = broadcasts.broadcast_create(
                    actor=request.user,
                    target=target,
                    subject=data["subject"],
                    message=data["message"],
                    by_sms=data["by_sms"],
                    urgent=data.get("urgent") or False,
                    link_shift_id=data["link_shift"],
                )
                messages.success(request, _("Call-out sent to %(people)d people.") % {"people": sent.recipients})
                return redirect("broadcasts")
            preview = broadcasts.broadcast_preview(
                target=target, subject=data["subject"], message=data["message"], by_sms=data["by_sms"]
            )
        except ServiceError as error:
            report_refusal(request, error)
    page = Paginator(broadcasts_sent_by(request.user), 20).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "preview": preview,
        "page": page,
        "by_sms": preview is not None and form.cleaned_data["by_sms"],
        "sms_language": settings.NOTIFICATIONS["LANGUAGE"],
    }
    return render(request, "communities/broadcasts.html", context)


LABELS = {
    "checked_in": gettext_lazy("checked in"),
    "expected": gettext_lazy("expected"),
    "missing": gettext_lazy("missing"),
    "call": gettext_lazy("Call"),
    "none_missing": gettext_lazy("Everyone expected has checked in."),
    "no_requests": gettext_lazy("No open requests."),
    "updated": gettext_lazy("Updated at"),
    "stale": gettext_lazy("Could not update; showing the last figures."),
}


@committee_required
def live_page(request):
    board = LiveBoardSerializer(live_board(user=request.user)).data
    labels = {key: str(value) for key, value in LABELS.items()}
    return render(request, "committee/live.html", {"board": board, "board_json": board, "labels": labels})
