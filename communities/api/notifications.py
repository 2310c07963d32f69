"""REST endpoints for notifications: the caller's in-app inbox, failed messages for coordinators,
and the delivery receipts SMS providers push.

Thin: parse, call ``communities.notifications.outbox``, shape the answer.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from communities.models import Notification
from communities.notifications import outbox
from config.errors import ServiceError
from config.params import object_id
from config.sms import providers

ERROR_RESPONSES = {
    401: OpenApiResponse(description="Not authenticated."),
    403: OpenApiResponse(description="Not allowed (`permission_denied`)."),
    404: OpenApiResponse(description="Not found, or not yours (`not_found`)."),
}


class NotificationSerializer(serializers.ModelSerializer):
    is_read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "kind", "subject", "body", "urgent", "shift", "assignment", "created_at", "read_at", "is_read"]
        read_only_fields = fields

    def get_is_read(self, obj) -> bool:
        return obj.read_at is not None


class NotificationFilterSerializer(serializers.Serializer):
    unread = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text=_("true: only unread; false: only read.")
    )


class MarkedSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text=_("How many notifications were marked read."))


class FailedNotificationSerializer(serializers.ModelSerializer):
    recipient = serializers.SerializerMethodField()
    community = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = [
            "id",
            "key",
            "kind",
            "channel",
            "state",
            "recipient",
            "shift",
            "community",
            "assignment",
            "subject",
            "body",
            "attempts",
            "last_error",
            "created_at",
            "send_after",
        ]
        read_only_fields = fields

    def get_recipient(self, obj) -> dict:
        return {"id": obj.recipient_id, "name": outbox.failed_recipient_name(obj)}

    def get_community(self, obj) -> dict | None:
        """The shift's community, or the one a dispatch, recall or community request names."""
        community = obj.about_community
        return None if community is None else {"id": community.pk, "name": community.display_name}


@extend_schema(tags=["notifications"])
class NotificationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The caller's in-app inbox, newest first."""

    serializer_class = NotificationSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Notification.objects.none()
        unread = None
        if self.action == "list":
            query = NotificationFilterSerializer(data=self.request.query_params.dict())
            query.is_valid(raise_exception=True)
            unread = query.validated_data.get("unread")
        return outbox.inbox_list(user=self.request.user, unread=unread)

    @extend_schema(parameters=[NotificationFilterSerializer], summary="My notifications")
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=None, responses={200: NotificationSerializer, **ERROR_RESPONSES}, summary="Mark read")
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        row = outbox.notification_mark_read(user=request.user, notification_id=object_id(pk))
        return Response(NotificationSerializer(row).data)

    @extend_schema(request=None, responses={200: MarkedSerializer, 401: ERROR_RESPONSES[401]}, summary="Mark all read")
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        return Response({"marked": outbox.notifications_mark_all_read(user=request.user)})


@extend_schema(tags=["notifications"])
class FailedNotificationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Messages that could not be delivered, for coordinators (their communities) and staff."""

    serializer_class = FailedNotificationSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Notification.objects.none()
        return outbox.failed_list(user=self.request.user)

    @extend_schema(responses={200: FailedNotificationSerializer(many=True), **ERROR_RESPONSES})
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        outbox.failed_communities_attach(page)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        request=None,
        responses={
            200: FailedNotificationSerializer,
            409: OpenApiResponse(description="Not failed (`notification_not_failed`)."),
            **ERROR_RESPONSES,
        },
        summary="Send a failed notification again",
    )
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        row = outbox.notification_retry(user=request.user, notification_id=object_id(pk))
        outbox.failed_communities_attach([row])
        return Response(FailedNotificationSerializer(row).data)


# --- Delivery receipts from SMS providers -------------------------------------------------


class AliyunReceiptSerializer(serializers.Serializer):
    """One report of Aliyun's SmsReport HTTP batch push (documentation of the request body)."""

    phone_number = serializers.CharField()
    success = serializers.BooleanField()
    err_code = serializers.CharField(required=False)
    err_msg = serializers.CharField(required=False)
    biz_id = serializers.CharField(required=False)
    out_id = serializers.CharField(required=False)
    send_time = serializers.CharField(required=False)
    report_time = serializers.CharField(required=False)
    sms_size = serializers.CharField(required=False)


class AliyunReceiptAnswerSerializer(serializers.Serializer):
    code = serializers.IntegerField(help_text=_("0: received."))
    msg = serializers.CharField()


class TencentReceiptSerializer(serializers.Serializer):
    """One report of Tencent Cloud's delivery status callback (documentation of the request body)."""

    mobile = serializers.CharField()
    nationcode = serializers.CharField(required=False)
    report_status = serializers.CharField(help_text=_("SUCCESS or FAIL."))
    errmsg = serializers.CharField(required=False)
    description = serializers.CharField(required=False)
    sid = serializers.CharField(required=False)
    user_receive_time = serializers.CharField(required=False)
    ext = serializers.JSONField(required=False)


class TencentReceiptAnswerSerializer(serializers.Serializer):
    result = serializers.IntegerField(help_text=_("0: received."))
    errmsg = serializers.CharField()


class SmsReceiptView(APIView):
    """Delivery receipts pushed by an SMS provider; ``?token=`` is the shared secret in the URL.

    The provider calls anonymously; the token (``NOTIFICATIONS["SMS_<PROVIDER>"]["RECEIPT_TOKEN"]``,
    compared in constant time) is the authentication. A wrong or missing token is refused and
    changes nothing. Idempotent: a repeated receipt, or one for a message we do not know, is
    answered as received (providers push again on anything but 200).
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []
    provider = ""
    answer: dict = {}

    def post(self, request):
        outbox.sms_receipt_token_check(provider=self.provider, token=request.query_params.get("token", ""))
        try:
            receipts = providers.PROVIDERS[self.provider].parse_receipts(request.data)
        except ValueError as error:
            raise ServiceError("invalid", {"non_field_errors": [str(error)]}) from None
        outbox.delivery_receipts_record(receipts=receipts)
        return Response(self.answer)


_RECEIPT_PARAMETERS = [
    OpenApiParameter("token", str, OpenApiParameter.QUERY, required=True, description="The shared secret.")
]
_RECEIPT_ERRORS = {
    400: OpenApiResponse(description="The body is not a list of reports (`invalid`)."),
    403: OpenApiResponse(description="Wrong or missing token (`permission_denied`)."),
}


@extend_schema(
    tags=["sms"],
    summary="Aliyun SMS delivery receipts (SmsReport push)",
    auth=[],
    parameters=_RECEIPT_PARAMETERS,
    request=AliyunReceiptSerializer(many=True),
    responses={200: AliyunReceiptAnswerSerializer, **_RECEIPT_ERRORS},
)
class AliyunReceiptView(SmsReceiptView):
    provider = "aliyun"
    answer = {"code": 0, "msg": "接收成功"}


@extend_schema(
    tags=["sms"],
    summary="Tencent Cloud SMS delivery receipts (status callback)",
    auth=[],
    parameters=_RECEIPT_PARAMETERS,
    request=TencentReceiptSerializer(many=True),
    responses={200: TencentReceiptAnswerSerializer, **_RECEIPT_ERRORS},
)
class TencentReceiptView(SmsReceiptView):
    provider = "tencent"
    answer = {"result": 0, "errmsg": "OK"}
