"""The league committee's pages: the dashboard, drill-down from organization to team to volunteer,
and the daily reports.

Every number comes from the selectors the statistics API uses (``communities.selectors.stats``), with the
same scope and filters, so the page and the API always agree. Charts are drawn on the server as
SVG (``communities.render.charts``); nothing is fetched from elsewhere.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from communities.models import Assignment, District
from communities.render import charts
from communities.selectors import stats
from communities.selectors.people import volunteer_mobile_display
from communities.services import certificates, reports
from config.errors import ServiceError
from volunteers.decorators import role_required
from volunteers.models import Organization, Team, Volunteer
from volunteers.selectors import is_committee_staff

PAGE_SIZE = 25
CHART_ROWS = 10
MAX_DAILY_CHART_POINTS = 62


# Log-in required, and league committee staff (or a superuser); others get 403.
committee_required = role_required(is_committee_staff, gettext_lazy("Only league committee staff can use this page."))


class StatsFilterForm(forms.Form):
    organization = forms.TypedChoiceField(
        label=gettext_lazy("Organization"), required=False, coerce=int, empty_value=None
    )
    district = forms.TypedChoiceField(label=gettext_lazy("District"), required=False, coerce=int, empty_value=None)
    date_from = forms.DateField(
        label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(label=gettext_lazy("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, organizations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].choices = [("", _("All in my scope"))] + [
            (org.pk, f"{'· ' * org.depth}{org.display_name}") for org in organizations
        ]
        self.fields["district"].choices = [("", _("All districts"))] + [
            (d.pk, d.display_name) for d in District.objects.order_by("code")
        ]

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            self.add_error("date_to", _("The end date is before the start date."))
        return data


def _query(request, *, filters: dict | None = None) -> stats.StatsQuery:
    try:
        return stats.stats_query(user=request.user, **(filters or {}))
    except ServiceError as error:
        if error.code == "permission_denied":
            raise PermissionDenied(str(error.message)) from error
        raise Http404(str(error.message)) from error


def _filters(request) -> tuple[StatsFilterForm, dict]:
    scope = _query(request)
    form = StatsFilterForm(request.GET or None, organizations=stats.scope_organizations(scope).order_by("path"))
    filters: dict = {}
    if form.is_bound and form.is_valid():
        filters = {key: value for key, value in form.cleaned_data.items() if value not in (None, "")}
        if "district" in filters:
            filters["district"] = str(filters["district"])
    return form, filters


def _export_links(filters: dict) -> dict:
    params = {key: (value.isoformat() if hasattr(value, "isoformat") else value) for key, value in filters.items()}

    def link(name: str, fmt: str, **extra) -> str:
        return f"{reverse(name)}?{urlencode({**params, **extra, 'export': fmt})}"

    tables = [
        ("overview", _("Overview"), "stats-overview", {}),
        ("organizations", _("Organizations"), "stats-organizations", {}),
        ("communities", _("Communities"), "stats-communities", {}),
        ("post-types", _("Post types"), "stats-post-types", {}),
        ("daily", _("Hours over time"), "stats-daily", {}),
        ("volunteers", _("Volunteers by hours"), "stats-leaderboard", {"by": "volunteer", "limit": 100}),
        ("teams", _("Teams by hours"), "stats-leaderboard", {"by": "team", "limit": 100}),
        ("stars", _("Star levels"), "stats-stars", {}),
        ("people", _("Volunteers by category and political status"), "stats-people", {}),
    ]
    return [
        {"key": key, "label": label, "xlsx": link(name, "xlsx", **extra), "csv": link(name, "csv", **extra)}
        for key, label, name, extra in tables
    ]


def _today_report(query: stats.StatsQuery, top: dict | None) -> tuple[dict | None, bool]:
    """Today's report for the top of the scope: the written one, or the figures so far."""
    if top is None:
        return None, False
    today = timezone.localdate()
    written = reports.daily_report_latest(organization_id=top["id"], day=today)
    if written is not None:
        return written.data, True
    return reports.daily_report_figures(day=today).get(top["id"]), False


@committee_required
def dashboard(request):
    form, filters = _filters(request)
    query = _query(request, filters=filters)
    overview = stats.stats_overview(query)
    organizations = stats.stats_organizations(query)
    top_rows = [row for row in organizations if row["parent"] is None]
    detail_rows = [row for row in organizations if row["level"] == 1] or top_rows
    daily = stats.stats_daily(query)
    interval = "day"
    if len(daily) > MAX_DAILY_CHART_POINTS:
        daily, interval = stats.stats_daily(query, interval="week"), "week"
    today = timezone.localdate()
    fill_query = query if (query.date_from or query.date_to) else query.with_dates(today, today)
    communities = [row for row in stats.stats_communities(fill_query, order="fill_rate") if row["places"]]
    lowest_fill = sorted(communities, key=lambda row: (row["fill_rate"], -row["places"], row["code"]))[:CHART_ROWS]
    stars = stats.stats_stars(query)
    people = stats.stats_people(query)
    texts = stats.stats_sms_daily(query)
    report, report_written = _today_report(query, top_rows[0] if len(top_rows) == 1 else None)
    by_hours = sorted(detail_rows, key=lambda row: -row["minutes"])[:CHART_ROWS]
    by_deployed = sorted(detail_rows, key=lambda row: -row["deployed"])[:CHART_ROWS]
    context = {
        "form": form,
        "overview": overview,
        "organizations": organizations,
        "detail_rows": detail_rows,
        "daily": daily,
        "interval": interval,
        "lowest_fill": lowest_fill,
        "fill_is_today": fill_query is not query,
        "stars": stars,
        "people": people,
        "hours_10k": stats.hours_10k(overview["minutes"]),
        "texts": texts,
        "report": report,
        "report_written": report_written,
        "exports": _export_links(filters),
        "charts": {
            "hours": charts.line_chart(
                "chart-hours",
                [(row["date"], row["hours"]) for row in daily],
                title=_("Credited hours per week") if interval == "week" else _("Credited hours per day"),
                empty=_("No credited hours in this period."),
            ),
            "org_hours": charts.bar_chart(
                "chart-org-hours",
                [(row["name"], row["hours"]) for row in by_hours],
                title=_("Credited hours by organization"),
                empty=_("No organizations in this scope."),
            ),
            "org_deployed": charts.bar_chart(
                "chart-org-deployed",
                [(row["name"], row["deployed"]) for row in by_deployed],
                title=_("Volunteers deployed by organization"),
                empty=_("No organizations in this scope."),
                color=charts.PALETTE[2],
            ),
            "fill": charts.bar_chart(
                "chart-fill",
                [(row["name"], row["fill_rate"]) for row in lowest_fill],
                title=_("Fill rate by community (lowest first)"),
                empty=_("No shifts in this period."),
                fmt=charts.percent,
                maximum=1,
                color=charts.PALETTE[3],
            ),
            "texts": charts.lines_chart(
                "chart-texts",
                [row["date"] for row in texts],
                [
                    (_("Sent"), [row["sent"] for row in texts], charts.PALETTE[1]),
                    (_("Delivered"), [row["delivered"] for row in texts], charts.PALETTE[2]),
                    (_("Failed"), [row["failed"] for row in texts], charts.PALETTE[0]),
                ],
                title=_("Texts sent, delivered and failed per day"),
                empty=_("No texts in this period."),
            ),
            "stars": charts.donut_chart(
                "chart-stars",
                [(_("%(level)d stars") % {"level": row["level"]}, row["volunteers"]) for row in stars],
                title=_("Volunteers by star level"),
                empty=_("No volunteers in this scope."),
                colors=charts.STAR_PALETTE,
            ),
        },
    }
    return render(request, "committee/dashboard.html", context)


def _scoped_organization(request, pk: int) -> tuple[stats.StatsQuery, Organization]:
    scope = _query(request)
    organization = get_object_or_404(stats.scope_organizations(scope), pk=pk)
    return scope, organization


@committee_required
def organization_detail(request, pk: int):
    form, filters = _filters(request)
    filters.pop("organization", None)
    _scope, organization = _scoped_organization(request, pk)
    query = _query(request, filters={**filters, "organization": organization.pk})
    rows = stats.stats_organizations(query)
    context = {
        "form": form,
        "organization": organization,
        "ancestors": Organization.objects.filter(
            pk__in=[int(part) for part in organization.path.strip("/").split("/")[:-1]]
        ).order_by("depth"),
        "totals": rows[0] if rows else None,
        "children": [row for row in rows if row["level"] == 1],
        "teams": stats.stats_teams(query, organization_id=organization.pk),
        "overview": stats.stats_overview(query),
        "exports": _export_links({**filters, "organization": organization.pk}),
    }
    return render(request, "committee/organization.html", context)


@committee_required
def team_detail(request, pk: int):
    scope = _query(request)
    team = get_object_or_404(
        Team.objects.select_related("organization", "leader").filter(organization__in=stats.scope_organizations(scope)),
        pk=pk,
    )
    query = _query(request, filters={"organization": team.organization_id})
    team_row = next(
        (row for row in stats.stats_teams(query, organization_id=team.organization_id) if row["id"] == team.pk), None
    )
    page = Paginator(stats.team_members(team_id=team.pk), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "committee/team.html", {"team": team, "figures": team_row, "page": page})


@committee_required
def volunteer_detail(request, pk: int):
    scope = _query(request)
    volunteer = get_object_or_404(
        Volunteer.objects.select_related("organization", "team", "deployed_community", "tally").filter(
            organization__in=stats.scope_organizations(scope)
        ),
        pk=pk,
    )
    assignments = (
        Assignment.objects.filter(volunteer=volunteer)
        .select_related("shift__post__post_type", "shift__community")
        .order_by("-shift__starts_at", "-pk")
    )
    page = Paginator(assignments, PAGE_SIZE).get_page(request.GET.get("page"))
    tally = getattr(volunteer, "tally", None)
    context = {
        "volunteer": volunteer,
        "mobile": volunteer_mobile_display(request.user, volunteer),
        "tally": tally,
        "hours": round((tally.total_minutes if tally else 0) / 60, 1),
        "stars": tally.star_level if tally else 0,
        "page": page,
        "certificates": volunteer.certificates.select_related("issuer").order_by("-issued_at")[:10],
        "today": timezone.localdate(),
        "first_day": certificates.volunteer_first_service_day(volunteer),
    }
    return render(request, "committee/volunteer.html", context)


class IssueForm(forms.Form):
    date_from = forms.DateField(label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=gettext_lazy("To"), widget=forms.DateInput(attrs={"type": "date"}))


@require_POST
@committee_required
def certificate_issue(request, pk: int):
    scope = _query(request)
    volunteer = get_object_or_404(Volunteer.objects.filter(organization__in=stats.scope_organizations(scope)), pk=pk)
    form = IssueForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the first and last day of the period."))
        return redirect("committee-volunteer", pk=pk)
    try:
        certificate = certificates.certificate_issue(
            volunteer=volunteer,
            issuer_org=certificates.certificate_issuer_for(user=request.user, volunteer=volunteer),
            actor=request.user,
            period_start=form.cleaned_data["date_from"],
            period_end=form.cleaned_data["date_to"],
        )
    except ServiceError as error:
        details = " ".join(str(m) for messages_ in error.details.values() for m in messages_)
        messages.error(request, f"{error.message} {details}".strip())
        return redirect("committee-volunteer", pk=pk)
    messages.success(request, _("Certificate %(number)s issued.") % {"number": certificate.number})
    return redirect("committee-volunteer", pk=pk)


@committee_required
def report_list(request):
    scope = _query(request)
    page = Paginator(reports.daily_report_list(query=scope), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "committee/reports.html", {"page": page})
