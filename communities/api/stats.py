"""Statistics endpoints for league committee staff, under /api/v1/stats/, and the daily reports.

Thin: parse the filters, build the caller's ``StatsQuery`` (scope and filters), call one
selector, shape the answer. ``?export=xlsx`` or ``?export=csv`` returns the same table as a file
(``format`` is DRF's renderer switch, hence another name).
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from communities.models import DailyReport
from communities.render import exports
from communities.selectors import stats
from communities.services import reports
from config.pagination import PageNumberPagination

# --- Filters ----------------------------------------------------------------------------------


class StatsFilterSerializer(serializers.Serializer):
    date_from = serializers.DateField(required=False, help_text="First day (inclusive), YYYY-MM-DD.")
    date_to = serializers.DateField(required=False, help_text="Last day (inclusive), YYYY-MM-DD.")
    organization = serializers.IntegerField(
        required=False, min_value=1, help_text="Narrow to this organization's subtree (within your scope)."
    )
    district = serializers.CharField(required=False, max_length=16, help_text="District id or code.")
    export = serializers.ChoiceField(
        choices=exports.FORMATS, required=False, help_text="Download the table as a file instead of JSON."
    )


class CommunityStatsFilterSerializer(StatsFilterSerializer):
    order = serializers.ChoiceField(choices=list(stats.COMMUNITY_ORDERS), required=False, default="hours")


class DailyStatsFilterSerializer(StatsFilterSerializer):
    interval = serializers.ChoiceField(choices=["day", "week"], required=False, default="day")


class LeaderboardFilterSerializer(StatsFilterSerializer):
    by = serializers.ChoiceField(choices=["volunteer", "team"], required=False, default="volunteer")
    limit = serializers.IntegerField(
        required=False, min_value=1, max_value=stats.LEADERBOARD_MAX, default=stats.LEADERBOARD_DEFAULT
    )


# --- Shapes -------------------------------------------------------------------------------------


class OverviewSerializer(serializers.Serializer):
    today = serializers.DateField()
    week_start = serializers.DateField()
    date_from = serializers.DateField(allow_null=True)
    date_to = serializers.DateField(allow_null=True)
    volunteers = serializers.IntegerField(help_text="Registered volunteers (the reserve, 储备).")
    deployed = serializers.IntegerField(help_text="Currently deployed to a community (深入).")
    not_deployed = serializers.IntegerField()
    suspended = serializers.IntegerField()
    active_today = serializers.IntegerField(help_text="Volunteers with a confirmed or completed place today.")
    communities_covered = serializers.IntegerField(help_text="Communities with at least one deployed volunteer.")
    shifts_today = serializers.IntegerField()
    shifts_today_filled = serializers.IntegerField()
    shifts_today_unfilled = serializers.IntegerField()
    places_today = serializers.IntegerField()
    places_today_taken = serializers.IntegerField()
    fill_rate_today = serializers.FloatField()
    minutes = serializers.IntegerField(help_text="Approved credited minutes in the date range (all time without).")
    hours = serializers.FloatField()
    completed = serializers.IntegerField()
    no_shows = serializers.IntegerField()
    week_minutes = serializers.IntegerField()
    week_hours = serializers.FloatField()
    week_no_shows = serializers.IntegerField()


class FiguresSerializer(serializers.Serializer):
    volunteers = serializers.IntegerField()
    deployed = serializers.IntegerField()
    minutes = serializers.IntegerField()
    hours = serializers.FloatField()
    completed = serializers.IntegerField()
    no_shows = serializers.IntegerField()
    average_hours = serializers.FloatField(help_text="Credited hours per volunteer.")


class OrganizationStatsSerializer(FiguresSerializer):
    id = serializers.IntegerField()
    parent = serializers.IntegerField(allow_null=True, help_text="None at the top of your scope.")
    level = serializers.IntegerField(help_text="Depth below the top of your scope.")
    code = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.CharField()


class OrganizationTreeSerializer(serializers.Serializer):
    total = FiguresSerializer()
    results = OrganizationStatsSerializer(many=True)


class TallyFiguresSerializer(serializers.Serializer):
    minutes = serializers.IntegerField()
    hours = serializers.FloatField()
    completed = serializers.IntegerField()
    no_shows = serializers.IntegerField()


class ShiftFiguresSerializer(TallyFiguresSerializer):
    shifts = serializers.IntegerField()
    shifts_filled = serializers.IntegerField()
    places = serializers.IntegerField()
    places_taken = serializers.IntegerField()
    fill_rate = serializers.FloatField()


class CommunityStatsSerializer(ShiftFiguresSerializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    street = serializers.CharField()
    district = serializers.CharField()
    deployed = serializers.IntegerField()


class PostTypeStatsSerializer(ShiftFiguresSerializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()


class DailyPointSerializer(TallyFiguresSerializer):
    date = serializers.DateField(help_text="The day, or the Monday starting the week.")


class VolunteerRankSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    id = serializers.IntegerField()
    volunteer_number = serializers.CharField()
    name = serializers.CharField()
    organization = serializers.CharField()
    team = serializers.CharField()
    minutes = serializers.IntegerField()
    hours = serializers.FloatField()
    completed = serializers.IntegerField()
    star_level = serializers.IntegerField()


class TeamRankSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    id = serializers.IntegerField()
    name = serializers.CharField()
    organization = serializers.CharField()
    members = serializers.IntegerField()
    minutes = serializers.IntegerField()
    hours = serializers.FloatField()
    completed = serializers.IntegerField()
    no_shows = serializers.IntegerField()


class StarLevelSerializer(serializers.Serializer):
    level = serializers.IntegerField()
    min_hours = serializers.IntegerField()
    volunteers = serializers.IntegerField()


def results_of(serializer_class, name: str):
    return type(name, (serializers.Serializer,), {"results": serializer_class(many=True)})


class CommunityStatsPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = CommunityStatsSerializer(many=True)


PostTypeStatsListSerializer = results_of(PostTypeStatsSerializer, "PostTypeStatsListSerializer")
DailyStatsListSerializer = results_of(DailyPointSerializer, "DailyStatsListSerializer")
StarStatsListSerializer = results_of(StarLevelSerializer, "StarStatsListSerializer")


class PeopleStatsSerializer(serializers.Serializer):
    group = serializers.ChoiceField(choices=["category", "political_status"])
    code = serializers.CharField()
    name = serializers.CharField()
    volunteers = serializers.IntegerField()
    minutes = serializers.IntegerField(help_text="Credited minutes, all time.")
    hours = serializers.FloatField()
    hours_10k = serializers.FloatField(help_text="Credited hours in units of 10,000 (万小时).")


PeopleStatsListSerializer = results_of(PeopleStatsSerializer, "PeopleStatsListSerializer")


class LeaderboardSerializer(serializers.Serializer):
    by = serializers.ChoiceField(choices=["volunteer", "team"])
    results = serializers.ListField(
        child=serializers.DictField(), help_text="VolunteerRank rows for by=volunteer, TeamRank rows for by=team."
    )


ERRORS = {
    400: OpenApiResponse(description="`invalid`: a malformed filter; `details` says which."),
    403: OpenApiResponse(description="`permission_denied`: only league committee staff."),
    404: OpenApiResponse(description="`not_found`: an organization outside your scope, or an unknown district."),
}


def stats_responses(serializer_class) -> dict:
    return {
        200: serializer_class,
        (200, exports.XLSX_TYPE): OpenApiTypes.BINARY,
        (200, "text/csv"): OpenApiTypes.BINARY,
        **ERRORS,
    }


# --- Views ----------------------------------------------------------------------------------------


def parse_query(serializer_class, request) -> dict:
    serializer = serializer_class(data=request.query_params.dict())
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def query_from(request, params: dict) -> stats.StatsQuery:
    return stats.stats_query(
        user=request.user,
        organization=params.get("organization"),
        district=params.get("district"),
        date_from=params.get("date_from"),
        date_to=params.get("date_to"),
    )


class StatsView(APIView):
    filters = StatsFilterSerializer

    def get(self, request):
        params = parse_query(self.filters, request)
        query = query_from(request, params)
        return self.answer(query, params)


@extend_schema(tags=["statistics"])
class OverviewView(StatsView):
    """The headline figures for your scope."""

    @extend_schema(parameters=[StatsFilterSerializer], responses=stats_responses(OverviewSerializer))
    def get(self, request):
        return super().get(request)

    def answer(self, query, params):
        data = stats.stats_overview(query)
        if params.get("export"):
            return exports.table_response(exports.overview_sheet(data), name="overview", fmt=params["export"])
        return Response(OverviewSerializer(data).data)


@extend_schema(tags=["statistics"])
class OrganizationsView(StatsView):
    """The organization tree with the subtotals of each subtree."""

    @extend_schema(parameters=[StatsFilterSerializer], responses=stats_responses(OrganizationTreeSerializer))
    def get(self, request):
        return super().get(request)

    def answer(self, query, params):
        rows = stats.stats_organizations(query)
        if params.get("export"):
            return exports.table_response(
                exports.stats_sheet("organizations", rows), name="organizations", fmt=params["export"]
            )
        return Response({"total": stats.stats_organization_totals(rows), "results": rows})


@extend_schema(tags=["statistics"])
class CommunitiesView(StatsView):
    """Hours, deployment and fill rate per community (paginated; the export holds every row)."""

    filters = CommunityStatsFilterSerializer

    @extend_schema(
        parameters=[CommunityStatsFilterSerializer],
        responses=stats_responses(CommunityStatsPageSerializer),
    )
    def get(self, request):
        return super().get(request)

    def answer(self, query, params):
        rows = stats.stats_communities(query, order=params["order"])
        if params.get("export"):
            return exports.table_response(
                exports.stats_sheet("communities", rows), name="communities", fmt=params["export"]
            )
        page = self.paginator.paginate_queryset(rows, self.request, view=self)
        return self.paginator.get_paginated_response(page)

    @property
    def paginator(self):
        if not hasattr(self, "_paginator"):
            self._paginator = PageNumberPagination()
        return self._paginator


@extend_schema(tags=["statistics"])
class PostTypesView(StatsView):
    """Hours and fill rate per duty."""

    @extend_schema(parameters=[StatsFilterSerializer], responses=stats_responses(PostTypeStatsListSerializer))
    def get(self, request):
        return super().get(request)

    def answer(self, query, params):
        rows = stats.stats_post_types(query)
        if params.get("export"):
            return exports.table_response(
                exports.stats_sheet("post-types", rows), name="post-types", fmt=params["export"]
            )
        return Response({"results": rows})


@extend_schema(tags=["statistics"])
class DailyView(StatsView):
    """Credited hours over time, per day or per week."""

    filters = DailyStatsFilterSerializer

    @extend_schema(parameters=[DailyStatsFilterSerializer], responses=stats_responses(DailyStatsListSerializer))
    def get(self, request):
        return super().get(request)

    def answer(self, query, params):
        rows = stats.stats_daily(query, interval=params["interval"])
        if params.get("export"):
            return exports.table_response(exports.stats_sheet("daily", rows), name="daily", fmt=params["export"])
        return Response({"results": rows})


@extend_schema(tags=["statistics"])
class LeaderboardView(StatsView):
    """Volunteers or teams by credited hours."""

    filters = LeaderboardFilterSerializer

    @extend_schema(parameters=[LeaderboardFilterSerializer], responses=stats_responses(LeaderboardSerializer))
    def get(self, request):
        return super().get(request)

    def answer(self, query, params):
        by = params["by"]
        rows = stats.stats_leaderboard(query, by=by, limit=params["limit"])
        table = "leaderboard-teams" if by == "team" else "leaderboard-volunteers"
        if params.get("export"):
            return exports.table_response(exports.stats_sheet(table, rows), name=table, fmt=params["export"])
        shape = TeamRankSerializer if by == "team" else VolunteerRankSerializer
        return Response({"by": by, "results": shape(rows, many=True).data})


@extend_schema(tags=["statistics"])
class StarsView(StatsView):
    """How many volunteers hold each star level (cumulative: the date range does not apply)."""

    @extend_schema(parameters=[StatsFilterSerializer], responses=stats_responses(StarStatsListSerializer))
    def get(self, request):
        return super().get(request)

    def answer(self, query, params):
        rows = stats.stats_stars(query)
        if params.get("export"):
            return exports.table_response(exports.stats_sheet("stars", rows), name="stars", fmt=params["export"])
        return Response({"results": rows})


@extend_schema(tags=["statistics"])
class PeopleView(StatsView):
    """Volunteers and their credited hours by category and by political status (hours are all
    time: the date range does not apply)."""

    @extend_schema(parameters=[StatsFilterSerializer], responses=stats_responses(PeopleStatsListSerializer))
    def get(self, request):
        return super().get(request)

    def answer(self, query, params):
        rows = stats.stats_people(query)
        if params.get("export"):
            return exports.table_response(exports.stats_sheet("people", rows), name="people", fmt=params["export"])
        return Response({"results": rows})


# --- Daily reports ----------------------------------------------------------------------------------


class DailyReportFilterSerializer(serializers.Serializer):
    date = serializers.DateField(required=False)
    organization = serializers.IntegerField(required=False, min_value=1)


class ReportFiguresSerializer(serializers.Serializer):
    volunteers = serializers.IntegerField(help_text="Registered volunteers (the reserve).")
    deployed = serializers.IntegerField()
    suspended = serializers.IntegerField()
    communities_covered = serializers.IntegerField()
    shifts = serializers.IntegerField()
    shifts_filled = serializers.IntegerField()
    shifts_unfilled = serializers.IntegerField()
    places = serializers.IntegerField()
    places_taken = serializers.IntegerField()
    active = serializers.IntegerField()
    minutes = serializers.IntegerField()
    hours = serializers.FloatField()
    completed = serializers.IntegerField()
    no_shows = serializers.IntegerField()
    nudges = serializers.IntegerField(help_text="Volunteers sent a check-in nudge that day.")


class ReportOrganizationSerializer(ReportFiguresSerializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    name_en = serializers.CharField()


class ReportDataSerializer(ReportFiguresSerializer):
    zero_report = serializers.BooleanField(help_text="Nothing happened that day (零报).")
    by_organization = ReportOrganizationSerializer(many=True, help_text="The direct sub-organizations.")


class OrganizationRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    code = serializers.CharField()
    name = serializers.CharField(source="display_name")


class DailyReportSerializer(serializers.ModelSerializer):
    organization = OrganizationRefSerializer(read_only=True)
    data = ReportDataSerializer(read_only=True)

    class Meta:
        model = DailyReport
        fields = ["id", "date", "organization", "data", "created_at"]


@extend_schema(tags=["reports"])
class DailyReportViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The league committee's daily reports (日报) for the organizations in your scope, newest first.

    One is written every day for every organization, also when nothing happened (零报).
    """

    serializer_class = DailyReportSerializer
    queryset = DailyReport.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        params = parse_query(DailyReportFilterSerializer, self.request)
        query = stats.stats_query(user=self.request.user, organization=params.get("organization"))
        return reports.daily_report_list(query=query, day=params.get("date"))

    @extend_schema(
        parameters=[DailyReportFilterSerializer], responses={200: DailyReportSerializer(many=True), **ERRORS}
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)
