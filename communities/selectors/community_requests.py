"""Community requests as each role may see them: committee staff all (the committee serves
every community), a coordinator those of their communities."""

from __future__ import annotations

from django.db.models import QuerySet

from communities.models import CommunityRequest
from communities.selectors.shifts import communities_managed_by
from config.errors import ServiceError
from volunteers.selectors import can_coordinate, is_committee_staff


def community_requests_visible_to(user) -> QuerySet[CommunityRequest]:
    if is_committee_staff(user):
        return CommunityRequest.objects.all()
    if can_coordinate(user):
        return CommunityRequest.objects.filter(community__in=communities_managed_by(user))
    raise ServiceError("permission_denied")


def community_request_list(
    *, user, status: str = "open", district: int | None = None, urgency: int | None = None
) -> QuerySet[CommunityRequest]:
    """Most urgent first, then oldest first; ``status`` is open (open or partly fulfilled),
    closed (fulfilled or declined), all, or one status."""
    rows = community_requests_visible_to(user)
    if status == "open":
        rows = rows.filter(status__in=CommunityRequest.OPEN_STATUSES)
    elif status == "closed":
        rows = rows.exclude(status__in=CommunityRequest.OPEN_STATUSES)
    elif status != "all":
        rows = rows.filter(status=status)
    if district is not None:
        rows = rows.filter(community__street__district_id=district)
    if urgency is not None:
        rows = rows.filter(urgency=urgency)
    return (
        rows.select_related("community__street__district", "requested_by")
        .prefetch_related("post_types", "skills")
        .order_by("-urgency", "created_at", "pk")
    )
