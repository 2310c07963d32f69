"""REST endpoints for notifications: the caller's in-app inbox, and failed messages for coordinators.

Thin: parse, call ``communities.notifications``, shape the answer.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from config.params import object_id

from . import notifications
from .models import Notification

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
        return {"id": obj.recipient_id, "name": notifications.failed_recipient_name(obj)}

    def get_community(self, obj) -> dict | None:
        if obj.shift is None:
            return None
        return {"id": obj.shift.community_id, "name": obj.shift.community.display_name}


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
        return notifications.inbox_list(user=self.request.user, unread=unread)

    @extend_schema(parameters=[NotificationFilterSerializer], summary="My notifications")
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=None, responses={200: NotificationSerializer, **ERROR_RESPONSES}, summary="Mark read")
    @action(detail=True, methods=["post"])
    def read(self, request, pk=None):
        row = notifications.notification_mark_read(user=request.user, notification_id=object_id(pk))
        return Response(NotificationSerializer(row).data)

    @extend_schema(request=None, responses={200: MarkedSerializer, 401: ERROR_RESPONSES[401]}, summary="Mark all read")
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request):
        return Response({"marked": notifications.notifications_mark_all_read(user=request.user)})


@extend_schema(tags=["notifications"])
class FailedNotificationViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Messages that could not be delivered, for coordinators (their communities) and staff."""

    serializer_class = FailedNotificationSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Notification.objects.none()
        return notifications.failed_list(user=self.request.user)

    @extend_schema(responses={200: FailedNotificationSerializer(many=True), **ERROR_RESPONSES})
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

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
        row = notifications.notification_retry(user=request.user, notification_id=object_id(pk))
        return Response(FailedNotificationSerializer(row).data)


router = SimpleRouter()
router.register("notifications/failed", FailedNotificationViewSet, basename="notification-failed")
router.register("notifications", NotificationViewSet, basename="notification")

urlpatterns = router.urls
