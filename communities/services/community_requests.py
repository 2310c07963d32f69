"""Community requests (点单): a coordinator asks the league committee for volunteers; the
committee fulfils a request by dispatch, in part or whole, or declines it with a reason.

Each step tells the community's coordinators (inbox, and SMS or email as each chose) in the
transaction that takes it. A fulfilment locks the request row first, then dispatches (which
locks volunteers), so two staff fulfilling one request at once cannot send more than is missing.
"""

from __future__ import annotations

from datetime import date, datetime, time

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from communities.models import CommunityRequest, Dispatch, PostType
from communities.notifications import outbox
from communities.selectors.shifts import communities_managed_by
from communities.services import coordination, locks
from config.db import retry_on_conflict
from config.errors import ServiceError
from volunteers.models import Skill

Status = CommunityRequest.Status


def _invalid(field: str, message: str) -> ServiceError:
    return ServiceError("invalid", {field: [message]})


@retry_on_conflict
@transaction.atomic
def community_request_create(
    *,
    actor,
    community_id: int,
    wanted: int,
    date_from: date,
    date_to: date,
    time_from: time,
    time_to: time,
    post_type_ids: list[int] | None = None,
    skill_codes: list[str] | None = None,
    urgency: int = CommunityRequest.Urgency.NORMAL,
    note: str = "",
    now: datetime | None = None,
) -> CommunityRequest:
    """File a request for ``wanted`` volunteers for one of the actor's communities."""
    now = now or timezone.now()
    community = communities_managed_by(actor).filter(pk=community_id).first()
    if community is None:
        raise ServiceError("not_found", {"community": community_id})
    limit = settings.RULES["COMMUNITY_REQUEST_MAX_VOLUNTEERS"]
    if not 1 <= wanted <= limit:
        raise _invalid("wanted", _("Ask for between 1 and %(max)s volunteers.") % {"max": limit})
    if date_to < date_from:
        raise _invalid("date_to", _("The range ends before it starts."))
    if date_from < timezone.localdate(now):
        raise _invalid("date_from", _("The dates cannot lie in the past."))
    if urgency not in CommunityRequest.Urgency.values:
        raise _invalid("urgency", _("Choose an urgency from the list."))
    post_types = list(PostType.objects.filter(pk__in=set(post_type_ids or ())))
    if len(post_types) != len(set(post_type_ids or ())):
        raise _invalid("post_types", _("Choose post types from the list."))
    skills = list(Skill.objects.filter(code__in=set(skill_codes or ())))
    if len(skills) != len(set(skill_codes or ())):
        raise _invalid("skills", _("Choose skills from the list."))
    request = CommunityRequest.objects.create(
        community=community,
        requested_by=actor,
        wanted=wanted,
        date_from=date_from,
        date_to=date_to,
        time_from=time_from,
        time_to=time_to,
        urgency=urgency,
        note=(note or "").strip(),
        created_at=now,
    )
    request.post_types.set(post_types)
    request.skills.set(skills)
    outbox.community_request_event(outbox.REQUEST_FILED, request=request, now=now)
    return request


@retry_on_conflict
@transaction.atomic
def community_request_fulfil(
    *,
    actor,
    request_id: int,
    organizations,
    team_id: int | None = None,
    count: int | None = None,
    categories: list[str] | None = None,
    skills: list[str] | None = None,
    note: str = "",
    now: datetime | None = None,
) -> Dispatch:
    """Dispatch a team, or ``count`` reserve volunteers (at most what is missing), for the request.

    ``skills`` default to the request's. A dispatch that cannot be made refuses the whole step
    and changes nothing; a team larger than what is missing is sent whole.
    """
    now = now or timezone.now()
    request = locks.community_request(request_id)
    if request.status not in CommunityRequest.OPEN_STATUSES:
        raise ServiceError("request_closed", {"status": request.status})
    if count is not None and count > request.missing:
        raise ServiceError("more_than_missing", {"count": count, "missing": request.missing})
    if skills is None:
        skills = list(request.skills.values_list("code", flat=True))
    dispatch = coordination.dispatch_create(
        actor=actor,
        community=request.community,
        organizations=organizations,
        team_id=team_id,
        count=count,
        categories=categories,
        skills=skills,
        note=note,
        now=now,
    )
    sent = dispatch.volunteers.count()
    dispatch.request = request
    dispatch.save(update_fields=["request"])
    request.dispatched += sent
    request.decided_by = actor
    if request.dispatched >= request.wanted:
        request.status, request.closed_at = Status.FULFILLED, now
    else:
        request.status = Status.PARTIAL
    request.save(update_fields=["dispatched", "decided_by", "status", "closed_at"])
    outbox.community_request_event(
        outbox.REQUEST_FULFILLED if request.status == Status.FULFILLED else outbox.REQUEST_DISPATCHED,
        request=request,
        sent=sent,
        ref=f"d{dispatch.pk}",
        now=now,
    )
    return dispatch


@retry_on_conflict
@transaction.atomic
def community_request_decline(*, actor, request_id: int, reason: str, now: datetime | None = None) -> CommunityRequest:
    """Decline what is still missing of a request, saying why."""
    reason = (reason or "").strip()
    if not reason:
        raise ServiceError("reason_required")
    now = now or timezone.now()
    request = locks.community_request(request_id)
    if request.status not in CommunityRequest.OPEN_STATUSES:
        raise ServiceError("request_closed", {"status": request.status})
    request.status, request.decline_reason, request.decided_by, request.closed_at = (
        Status.DECLINED,
        reason[:200],
        actor,
        now,
    )
    request.save(update_fields=["status", "decline_reason", "decided_by", "closed_at"])
    outbox.community_request_event(outbox.REQUEST_DECLINED, request=request, now=now)
    return request
