"""REST endpoints of the mobilisation loop: community requests, call-outs and the live board.

Thin: parse, call one service or selector, shape the answer. Who may do what is decided by the
services and selectors (``ServiceError("permission_denied")`` → 403, out of reach → 404).
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from communities.api.coordinator import parse, require_coordinator, require_staff
from communities.models import Broadcast, CommunityRequest
from communities.selectors import community_requests as request_selectors
from communities.selectors.broadcasts import broadcasts_sent_by, may_send_broadcasts
from communities.selectors.live import live_board
from communities.services import broadcasts, community_requests
from config.errors import ServiceError
from config.params import as_id
from volunteers.selectors import organization_subtree

MAX_ID = 2**63 - 1  # ids are 64-bit: a larger number is invalid input, not a database error

# --- Community requests --------------------------------------------------------------------


class CommunityRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField(source="display_name")
    district = serializers.CharField(source="street.district.display_name")


class CommunityRequestSerializer(serializers.ModelSerializer):
    community = CommunityRefSerializer()
    missing = serializers.IntegerField()
    post_types = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    skills = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)
    requested_by = serializers.CharField(source="requested_by.username", default=None, allow_null=True)

    class Meta:
        model = CommunityRequest
        fields = [
            "id",
            "community",
            "wanted",
            "dispatched",
            "missing",
            "post_types",
            "skills",
            "date_from",
            "date_to",
            "time_from",
            "time_to",
            "urgency",
            "note",
            "status",
            "decline_reason",
            "requested_by",
            "created_at",
            "closed_at",
        ]
        read_only_fields = fields


class CommunityRequestCreateSerializer(serializers.Serializer):
    community = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    wanted = serializers.IntegerField(min_value=1, max_value=100_000)
    post_types = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), required=False, default=list
    )
    skills = serializers.ListField(child=serializers.SlugField(), required=False, default=list)
    date_from = serializers.DateField()
    date_to = serializers.DateField()
    time_from = serializers.TimeField()
    time_to = serializers.TimeField()
    urgency = serializers.ChoiceField(choices=CommunityRequest.Urgency.choices, default=1)
    note = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")


class CommunityRequestFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=["open", "closed", "all", *CommunityRequest.Status.values], required=False, default="open"
    )
    district = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    urgency = serializers.ChoiceField(choices=CommunityRequest.Urgency.choices, required=False)


class FulfilSerializer(serializers.Serializer):
    team = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    count = serializers.IntegerField(required=False, min_value=1, max_value=100_000)
    categories = serializers.ListField(child=serializers.SlugField(), required=False, default=list)
    skills = serializers.ListField(child=serializers.SlugField(), required=False)
    note = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")

    def validate(self, attrs):
        if "team" in attrs and "count" in attrs:
            raise serializers.ValidationError(_("Give either a team or a number of volunteers, not both."))
        return attrs


class DeclineSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200)


class FulfilResultSerializer(serializers.Serializer):
    request = CommunityRequestSerializer()
    dispatch = serializers.IntegerField()
    dispatched = serializers.IntegerField()


@extend_schema(tags=["community requests"])
class CommunityRequestViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Coordinators ask for volunteers for their communities (点单); committee staff fulfil
    requests by dispatch, in part or whole, or decline them with a reason."""

    serializer_class = CommunityRequestSerializer
    queryset = CommunityRequest.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        filters = parse(CommunityRequestFilterSerializer, self.request.query_params)
        return request_selectors.community_request_list(user=self.request.user, **filters)

    @extend_schema(parameters=[CommunityRequestFilterSerializer])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=CommunityRequestCreateSerializer, responses={201: CommunityRequestSerializer})
    def create(self, request, *args, **kwargs):
        require_coordinator(request.user)
        data = parse(CommunityRequestCreateSerializer, request.data)
        created = community_requests.community_request_create(
            actor=request.user,
            community_id=data["community"],
            wanted=data["wanted"],
            post_type_ids=data["post_types"],
            skill_codes=data["skills"],
            date_from=data["date_from"],
            date_to=data["date_to"],
            time_from=data["time_from"],
            time_to=data["time_to"],
            urgency=data["urgency"],
            note=data["note"],
        )
        created = request_selectors.community_request_list(user=request.user, status="all").get(pk=created.pk)
        return Response(self.get_serializer(created).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=FulfilSerializer, responses={200: FulfilResultSerializer})
    @action(detail=True, methods=["post"])
    def fulfil(self, request, pk=None):
        require_staff(request.user)
        data = parse(FulfilSerializer, request.data)
        dispatch = community_requests.community_request_fulfil(
            actor=request.user,
            request_id=_request_id(pk),
            organizations=organization_subtree(request.user),
            team_id=data.get("team"),
            count=data.get("count"),
            categories=data["categories"],
            skills=data.get("skills"),
            note=data["note"],
        )
        updated = request_selectors.community_request_list(user=request.user, status="all").get(pk=dispatch.request_id)
        return Response(
            {
                "request": self.get_serializer(updated).data,
                "dispatch": dispatch.pk,
                "dispatched": dispatch.volunteers.count(),
            }
        )

    @extend_schema(request=DeclineSerializer, responses={200: CommunityRequestSerializer})
    @action(detail=True, methods=["post"])
    def decline(self, request, pk=None):
        require_staff(request.user)
        data = parse(DeclineSerializer, request.data)
        declined = community_requests.community_request_decline(
            actor=request.user, request_id=_request_id(pk), reason=data["reason"]
        )
        declined = request_selectors.community_request_list(user=request.user, status="all").get(pk=declined.pk)
        return Response(self.get_serializer(declined).data)


def _request_id(pk) -> int:
    request_id = as_id(pk)
    if request_id is None:
        raise ServiceError("not_found")
    return request_id


# --- Call-outs -----------------------------------------------------------------------------


class AudienceSerializer(serializers.Serializer):
    audience = serializers.ChoiceField(choices=Broadcast.Audience.choices)
    shift = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    team = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    community = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    organization = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    call = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    subject = serializers.CharField(required=False, allow_blank=True, max_length=60, default="")
    message = serializers.CharField(required=False, allow_blank=True, max_length=300, default="")
    by_sms = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        needed = {"shift": "shift", "team": "team", "community": "community", "reserve": "organization", "call": "call"}
        field = needed[attrs["audience"]]
        if field not in attrs:
            raise serializers.ValidationError({field: [_("This field is required for this audience.")]})
        return attrs


class BroadcastCreateSerializer(AudienceSerializer):
    subject = serializers.CharField(max_length=60)
    message = serializers.CharField(max_length=300)
    urgent = serializers.BooleanField(required=False, default=False)
    link_shift = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)


class PreviewSerializer(serializers.Serializer):
    people = serializers.IntegerField()
    texts = serializers.IntegerField()
    parts_per_text = serializers.IntegerField()
    estimated_cost = serializers.DecimalField(max_digits=12, decimal_places=2)
    sms_text = serializers.CharField(help_text="The SMS exactly as a phone shows it, before the provider's signature.")
    sms_characters = serializers.IntegerField(help_text="Characters billed, the signature included.")
    sms_cut = serializers.BooleanField(help_text="The subject and message are cut to fit the provider's limit.")


class BroadcastSerializer(serializers.ModelSerializer):
    sender = serializers.CharField(source="sender.username", default=None, allow_null=True)

    class Meta:
        model = Broadcast
        fields = [
            "id",
            "audience",
            "shift",
            "team",
            "community",
            "organization",
            "call",
            "link_shift",
            "subject",
            "message",
            "by_sms",
            "urgent",
            "recipients",
            "texts",
            "sender",
            "created_at",
            "fanned_out_at",
        ]
        read_only_fields = fields


def require_broadcaster(user) -> None:
    if not may_send_broadcasts(user):
        raise ServiceError("permission_denied")


def _target(user, data: dict) -> broadcasts.Target:
    return broadcasts.broadcast_target(
        actor=user,
        audience=data["audience"],
        shift_id=data.get("shift"),
        team_id=data.get("team"),
        community_id=data.get("community"),
        organization_id=data.get("organization"),
        call_id=data.get("call"),
    )


@extend_schema(tags=["call-outs"])
class BroadcastViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Call-outs: staff (their organizations) and coordinators (their communities) write to a
    shift's volunteers, a team, a community's deployed volunteers or an organization's reserve;
    each person gets it once in the inbox, and by SMS if chosen."""

    serializer_class = BroadcastSerializer
    queryset = Broadcast.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return broadcasts_sent_by(self.request.user)

    @extend_schema(request=BroadcastCreateSerializer, responses={201: BroadcastSerializer})
    def create(self, request, *args, **kwargs):
        require_broadcaster(request.user)
        data = parse(BroadcastCreateSerializer, request.data)
        sent = broadcasts.broadcast_create(
            actor=request.user,
            target=_target(request.user, data),
            subject=data["subject"],
            message=data["message"],
            by_sms=data["by_sms"],
            urgent=data["urgent"],
            link_shift_id=data.get("link_shift"),
        )
        return Response(self.get_serializer(sent).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=AudienceSerializer, responses={200: PreviewSerializer})
    @action(detail=False, methods=["post"])
    def preview(self, request):
        require_broadcaster(request.user)
        data = parse(AudienceSerializer, request.data)
        preview = broadcasts.broadcast_preview(
            target=_target(request.user, data), subject=data["subject"], message=data["message"], by_sms=data["by_sms"]
        )
        return Response(PreviewSerializer(preview).data)


# --- The live board ------------------------------------------------------------------------


class LiveTotalsSerializer(serializers.Serializer):
    on_duty = serializers.IntegerField()
    expected_now = serializers.IntegerField()
    checked_in_now = serializers.IntegerField()
    shifts_today = serializers.IntegerField()
    places_today = serializers.IntegerField()
    taken_today = serializers.IntegerField()
    checked_in_today = serializers.IntegerField()
    checked_out_today = serializers.IntegerField()
    no_shows_today = serializers.IntegerField()
    hours_today = serializers.FloatField()
    hours_total = serializers.FloatField()
    hours_total_10k = serializers.FloatField()
    texts_failed_today = serializers.IntegerField()
    open_requests = serializers.IntegerField()


class LiveDistrictSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    x = serializers.IntegerField()
    y = serializers.IntegerField()
    expected = serializers.IntegerField()
    checked_in = serializers.IntegerField()
    on_duty = serializers.IntegerField()


class LiveCommunitySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    district = serializers.IntegerField()
    expected = serializers.IntegerField()
    checked_in = serializers.IntegerField()
    on_duty = serializers.IntegerField()


class LiveLeaderSerializer(serializers.Serializer):
    name = serializers.CharField()
    team = serializers.CharField()
    mobile = serializers.CharField()


class LiveMissingSerializer(serializers.Serializer):
    shift = serializers.IntegerField()
    community = serializers.CharField()
    post = serializers.CharField()
    starts_at = serializers.DateTimeField()
    missing = serializers.IntegerField()
    expected = serializers.IntegerField()
    leaders = LiveLeaderSerializer(many=True)


class LiveRequestSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    community = serializers.CharField()
    district = serializers.CharField()
    wanted = serializers.IntegerField()
    missing = serializers.IntegerField()
    urgency = serializers.IntegerField()
    urgency_label = serializers.CharField()
    created_at = serializers.DateTimeField()


class LiveBoardSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    poll_seconds = serializers.IntegerField()
    totals = LiveTotalsSerializer()
    districts = LiveDistrictSerializer(many=True)
    communities = LiveCommunitySerializer(many=True)
    missing = LiveMissingSerializer(many=True)
    requests = LiveRequestSerializer(many=True)


@extend_schema(tags=["live"])
class LiveBoardView(APIView):
    """The live operations board's figures (committee staff): read from counters only; the page
    /committee/live/ asks for them every ``LIVE_BOARD_POLL_SECONDS``."""

    @extend_schema(responses={200: LiveBoardSerializer})
    def get(self, request):
        require_staff(request.user)
        return Response(LiveBoardSerializer(live_board(user=request.user)).data)
