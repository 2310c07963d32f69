"""Call-outs as their senders see them."""

from __future__ import annotations

from django.db.models import QuerySet

from communities.models import Broadcast
from config.errors import ServiceError
from volunteers.selectors import can_coordinate, is_committee_staff


def may_send_broadcasts(user) -> bool:
    return can_coordinate(user) or is_committee_staff(user)


def broadcasts_sent_by(user) -> QuerySet[Broadcast]:
    """The caller's own call-outs, newest first (a superuser sees every one)."""
    if not may_send_broadcasts(user):
        raise ServiceError("permission_denied")
    rows = Broadcast.objects.all() if user.is_superuser else Broadcast.objects.filter(sender=user)
    return rows.select_related("sender").order_by("-created_at", "-pk")
