"""The league committee's dispatch pages: send volunteers to a community picked by name, see
who a dispatch sent and why, and recall them (a dispatch, a team, one volunteer) after a
confirmation. Thin: the selectors read, ``coordination`` writes, as the API does."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from communities.models import Community
from communities.selectors import dispatch as selectors_dispatch
from communities.selectors import shifts as selectors
from communities.services import coordination
from communities.views.coordinator_forms import DispatchForm, RecallForm
from communities.views.shifts import report_refusal
from config.errors import ServiceError
from config.params import as_id
from volunteers.decorators import role_required
from volunteers.models import Skill, Team, Volunteer, VolunteerCategory
from volunteers.selectors import is_committee_staff, organization_subtree

staff_required = role_required(is_committee_staff, gettext_lazy("Only league committee staff can use this page."))

# Communities a name search offers at once; a longer list asks for more of the name.
COMMUNITY_CHOICES = 12


def reason_words(reason: dict | None) -> list[str]:
    """Why the reserve pick chose a volunteer, in words (``selectors_dispatch.pick_reason``)."""
    if not reason:
        return []
    words = []
    if reason.get("near") == selectors_dispatch.NEAR_STREET:
        words.append(_("lives or works in this street"))
    elif reason.get("near") == selectors_dispatch.NEAR_DISTRICT:
        words.append(_("lives or works in this district"))
    skills = reason.get("skills") or 0
    if skills:
        words.append(
            ngettext("has %(count)d skill the posts need", "has %(count)d skills the posts need", skills)
            % {"count": skills}
        )
    hours = round((reason.get("minutes_7d") or 0) / 60, 1)
    words.append(_("%(hours)s h served in the last 7 days") % {"hours": f"{hours:g}"})
    return words


def _communities(source) -> tuple[str, list[Community]]:
    """The name searched for and the communities it finds, the one already chosen kept first."""
    query = (source.get("q") or "").strip()[:100]
    found = list(selectors.community_list(q=query)[:COMMUNITY_CHOICES]) if query else []
    chosen = as_id(source.get("community"))
    if chosen is not None and all(c.pk != chosen for c in found):
        community = selectors.community_list().filter(pk=chosen).first()
        if community is not None:
            found.insert(0, community)
    return query, found


@staff_required
def committee_dispatch(request):
    """Send a team, or reserve volunteers by category and skill, to a community found by name."""
    organizations = organization_subtree(request.user)
    source = request.POST if request.method == "POST" else request.GET
    query, communities = _communities(source)
    if request.GET.get("partial") == "communities":
        # The search-as-you-type list; without JavaScript the search form reloads the page.
        form = DispatchForm(communities=communities)
        return render(
            request, "committee/partials/community_choices.html", {"form": form, "query": query, "found": communities}
        )
    teams = Team.objects.filter(organization__in=organizations).select_related("organization").order_by("name")
    form = DispatchForm(
        request.POST or None,
        communities=communities,
        teams=teams,
        categories=VolunteerCategory.objects.all(),
        skills=Skill.objects.all(),
        initial={"community": communities[0].pk} if len(communities) == 1 else None,
    )
    preview = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        community = get_object_or_404(Community.objects.select_related("street__district"), pk=data["community"])
        if request.POST.get("action") == "preview":
            preview = _preview(community, organizations, data)
        else:
            try:
                dispatch = coordination.dispatch_create(
                    actor=request.user,
                    community=community,
                    organizations=organizations,
                    team_id=data["team"],
                    count=data["count"],
                    categories=data["categories"],
                    skills=data["skills"],
                    note=data["note"],
                    report_at=data["report_at"],
                )
            except ServiceError as error:
                report_refusal(request, error)
            else:
                count = dispatch.volunteers.count()
                messages.success(
                    request,
                    ngettext(
                        "%(count)d volunteer dispatched to %(community)s; they and its coordinators have been told.",
                        "%(count)d volunteers dispatched to %(community)s; they and its coordinators have been told.",
                        count,
                    )
                    % {"count": count, "community": community.display_name},
                )
                return redirect("committee-dispatch-detail", pk=dispatch.pk)
    recent = selectors_dispatch.dispatch_list(organizations=organizations)[:20]
    return render(
        request,
        "committee/dispatch.html",
        {"form": form, "query": query, "found": communities, "preview": preview, "recent": recent},
    )


def _preview(community: Community, organizations, data: dict) -> dict:
    """Who the dispatch would send as things stand, and why (reserve picks only)."""
    if data["team"]:
        members = list(
            Volunteer.objects.filter(team_id=data["team"], team__organization__in=organizations)
            .exclude(status=Volunteer.Status.SUSPENDED)
            .filter(anonymised_at__isnull=True)
            .order_by("volunteer_number")
        )
        return {"community": community, "rows": [(v, []) for v in members], "requested": len(members)}
    pool = selectors_dispatch.reserve_ranked(
        community=community, organizations=organizations, categories=data["categories"], skills=data["skills"]
    )
    chosen = list(pool[: data["count"]])
    return {
        "community": community,
        "rows": [(v, reason_words(selectors_dispatch.pick_reason(v))) for v in chosen],
        "requested": data["count"],
    }


def _dispatch_or_404(request, pk: int):
    organizations = organization_subtree(request.user)
    dispatch = get_object_or_404(selectors_dispatch.dispatch_list(organizations=organizations), pk=pk)
    return organizations, dispatch


@staff_required
def dispatch_detail(request, pk: int):
    organizations, dispatch = _dispatch_or_404(request, pk)
    members = selectors_dispatch.dispatch_members(dispatch=dispatch, organizations=organizations)
    for member in members:
        member.reason_words = reason_words(member.reason)
    return render(
        request,
        "committee/dispatch_detail.html",
        {"dispatch": dispatch, "members": members, "here": sum(1 for m in members if m.here)},
    )


def _recall_page(request, *, organizations, targets, back: str, title: str, recall_kwargs: dict):
    """Confirm, then recall: the page lists who goes back and how many coming places it releases."""
    form = RecallForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            recalls = coordination.volunteers_recall(
                actor=request.user, organizations=organizations, reason=form.cleaned_data["reason"], **recall_kwargs
            )
        except ServiceError as error:
            report_refusal(request, error)
        else:
            places = sum(r.places_released for r in recalls)
            messages.success(
                request,
                ngettext(
                    "%(count)d volunteer recalled to the reserve.",
                    "%(count)d volunteers recalled to the reserve.",
                    len(recalls),
                )
                % {"count": len(recalls)}
                + " "
                + ngettext("%(places)d coming place released.", "%(places)d coming places released.", places)
                % {"places": places},
            )
            return redirect(back)
    people = list(targets.select_related("deployed_community", "team").order_by("volunteer_number"))
    places = selectors_dispatch.coming_places(volunteer_ids=[v.pk for v in people], now=timezone.now()).count()
    return render(
        request,
        "committee/recall.html",
        {"form": form, "people": people, "places": places, "back": back, "title": title},
    )


@staff_required
def dispatch_recall(request, pk: int):
    """Recall a dispatch's volunteers: all it still holds, one (``?volunteer=``) or a team's (``?team=``)."""
    organizations, dispatch = _dispatch_or_404(request, pk)
    # Who is named in the address: the confirmation form posts back to the same address.
    volunteer_id, team_id = as_id(request.GET.get("volunteer")), as_id(request.GET.get("team"))
    if team_id is not None:
        get_object_or_404(Team.objects.filter(organization__in=organizations), pk=team_id)
    targets = selectors_dispatch.recall_targets(
        organizations=organizations,
        dispatch=dispatch,
        team_id=team_id,
        volunteer_ids=[volunteer_id] if volunteer_id is not None else None,
    )
    return _recall_page(
        request,
        organizations=organizations,
        targets=targets,
        back=reverse("committee-dispatch-detail", args=[dispatch.pk]),
        title=_("Recall from %(community)s") % {"community": dispatch.community.display_name},
        recall_kwargs={
            "dispatch_id": dispatch.pk,
            "team_id": team_id,
            "volunteer_ids": [volunteer_id] if volunteer_id is not None else None,
        },
    )


@staff_required
def volunteer_recall(request, pk: int):
    organizations = organization_subtree(request.user)
    volunteer = get_object_or_404(Volunteer.objects.filter(organization__in=organizations), pk=pk)
    targets = selectors_dispatch.recall_targets(organizations=organizations, volunteer_ids=[volunteer.pk])
    return _recall_page(
        request,
        organizations=organizations,
        targets=targets,
        back=reverse("committee-volunteer", args=[volunteer.pk]),
        title=_("Recall %(name)s to the reserve") % {"name": volunteer.real_name},
        recall_kwargs={"volunteer_ids": [volunteer.pk]},
    )
