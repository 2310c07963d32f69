"""Pages of community requests (点单): a coordinator files and follows them; committee staff
fulfil them by dispatch or decline them. Thin: the same services and selectors as the API."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from communities.models import CommunityRequest, District, PostType
from communities.selectors import community_requests as request_selectors
from communities.selectors.shifts import communities_managed_by
from communities.services import community_requests
from communities.views.committee import committee_required
from communities.views.coordinator import coordinator_required
from communities.views.shifts import report_refusal
from config.errors import ServiceError
from config.params import as_id
from volunteers.models import Skill, Team
from volunteers.selectors import organization_subtree

PAGE_SIZE = 20


class CommunityRequestForm(forms.Form):
    community = forms.TypedChoiceField(label=gettext_lazy("Community"), coerce=int)
    wanted = forms.IntegerField(label=gettext_lazy("Volunteers wanted"), min_value=1)
    urgency = forms.TypedChoiceField(
        label=gettext_lazy("Urgency"), coerce=int, choices=CommunityRequest.Urgency.choices
    )
    date_from = forms.DateField(
        label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    date_to = forms.DateField(
        label=gettext_lazy("To"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    time_from = forms.TimeField(
        label=gettext_lazy("Daily from"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    time_to = forms.TimeField(
        label=gettext_lazy("Daily until"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    post_types = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Post types"),
        queryset=PostType.objects.order_by("code"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    skills = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Skills needed"),
        queryset=Skill.objects.order_by("code"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    note = forms.CharField(
        label=gettext_lazy("Note"), max_length=300, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, communities, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["community"].choices = [(c.pk, c.display_name) for c in communities]
        today = timezone.localdate()
        self.fields["date_from"].initial = self.fields["date_to"].initial = today


class RequestFilterForm(forms.Form):
    status = forms.ChoiceField(
        label=gettext_lazy("Status"),
        required=False,
        choices=[("open", gettext_lazy("Open")), ("closed", gettext_lazy("Closed")), ("all", gettext_lazy("All"))],
    )
    district = forms.TypedChoiceField(label=gettext_lazy("District"), required=False, coerce=int, empty_value=None)
    urgency = forms.TypedChoiceField(
        label=gettext_lazy("Urgency"),
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", gettext_lazy("Any urgency")), *CommunityRequest.Urgency.choices],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["district"].choices = [("", _("All districts"))] + [
            (d.pk, d.display_name) for d in District.objects.order_by("code")
        ]


@coordinator_required
def coordinator_requests(request):
    """File a request for one of my communities; follow mine."""
    communities = communities_managed_by(request.user).order_by("code")
    form = CommunityRequestForm(request.POST or None, communities=communities)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            community_requests.community_request_create(
                actor=request.user,
                community_id=data["community"],
                wanted=data["wanted"],
                urgency=data["urgency"],
                date_from=data["date_from"],
                date_to=data["date_to"],
                time_from=data["time_from"],
                time_to=data["time_to"],
                post_type_ids=[post_type.pk for post_type in data["post_types"]],
                skill_codes=[skill.code for skill in data["skills"]],
                note=data["note"],
            )
        except ServiceError as error:
            report_refusal(request, error)
        else:
            messages.success(request, _("Your request has been sent to the league committee."))
            return redirect("coordinator-requests")
    rows = request_selectors.community_request_list(user=request.user, status="all")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "coordinator/requests.html", {"form": form, "page": page})


@committee_required
def committee_requests(request):
    """Open requests by urgency and age, with what is missing; fulfil or decline each."""
    filters = RequestFilterForm(request.GET or None)
    chosen = filters.cleaned_data if filters.is_valid() else {}
    rows = request_selectors.community_request_list(
        user=request.user,
        status=chosen.get("status") or "open",
        district=chosen.get("district"),
        urgency=chosen.get("urgency"),
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    teams = Team.objects.filter(organization__in=organization_subtree(request.user)).select_related("organization")
    return render(
        request, "committee/requests.html", {"filters": filters, "page": page, "teams": teams.order_by("name")}
    )


@committee_required
@require_POST
def committee_request_fulfil(request, pk: int):
    team_id, count = as_id(request.POST.get("team")), as_id(request.POST.get("count"))
    try:
        dispatch = community_requests.community_request_fulfil(
            actor=request.user,
            request_id=pk,
            organizations=organization_subtree(request.user),
            team_id=team_id,
            count=None if team_id else count,
            note=(request.POST.get("note") or "").strip()[:200],
        )
    except ServiceError as error:
        report_refusal(request, error)
    else:
        messages.success(
            request,
            _("%(count)d volunteers dispatched to %(community)s.")
            % {"count": dispatch.volunteers.count(), "community": dispatch.community.display_name},
        )
    return redirect("committee-requests")


@committee_required
@require_POST
def committee_request_decline(request, pk: int):
    try:
        community_requests.community_request_decline(
            actor=request.user, request_id=pk, reason=request.POST.get("reason", "")
        )
    except ServiceError as error:
        report_refusal(request, error)
    else:
        messages.success(request, _("The request has been declined; the coordinators are told."))
    return redirect("committee-requests")
