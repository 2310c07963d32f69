"""Call-outs: a message staff (within their organizations) or a coordinator (for their
communities) write to a group of volunteers, with a preview of who and what it costs.

Creating one writes the ``Broadcast`` row; its messages are written by ``broadcast_fan_out``,
run by a worker after commit and, should that never come, by the minute sweep. Each person's
rows are keyed ``b<call-out>:broadcast:<channel>:u<user>`` and inserted ON CONFLICT DO NOTHING,
so a fan-out run twice, or by two workers at once, gives each person one message per channel;
the outbox then sends each row once (docs/notifications.md).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from communities.models import Assignment, Broadcast, Community, Shift
from communities.notifications import outbox
from communities.selectors.shifts import communities_managed_by
from config.celery import task_named
from config.errors import ServiceError
from volunteers.models import CallApplication, Organization, RecruitmentCall, Team, Volunteer
from volunteers.selectors import is_committee_staff

logger = logging.getLogger(__name__)
Audience = Broadcast.Audience
FAN_OUT_CHUNK = 2000
# A call-out not written out by its task this long after it was sent is written by the sweep.
FAN_OUT_GRACE = timedelta(minutes=1)


@dataclass(frozen=True)
class Target:
    """Whom a call-out goes to, as the sender may reach them."""

    audience: str
    shift: Shift | None = None
    team: Team | None = None
    community: Community | None = None
    organization: Organization | None = None
    call: RecruitmentCall | None = None
    scope_paths: tuple[str, ...] = ()  # empty: everyone in the audience


def _staff_paths(user) -> tuple[str, ...]:
    return tuple(sorted(user.staff_roles.values_list("organization__path", flat=True)))


def _paths_q(paths: tuple[str, ...], prefix: str = "organization__") -> Q:
    match = Q()
    for path in paths:
        match |= Q(**{f"{prefix}path__startswith": path})
    return match


def broadcast_target(
    *,
    actor,
    audience: str,
    shift_id: int | None = None,
    team_id: int | None = None,
    community_id: int | None = None,
    organization_id: int | None = None,
    call_id: int | None = None,
) -> Target:
    """Check that ``actor`` may write to the audience and resolve it.

    A coordinator reaches a shift of their communities or the volunteers deployed to one of them,
    everyone there. Staff reach a team or an organization's reserve inside their organizations,
    and a shift's or community's volunteers of their organizations only. Roles that reach no one
    are refused (403); a target outside the sender's reach is not found (404).
    """
    staff = actor.is_authenticated and not actor.is_superuser and is_committee_staff(actor)
    coordinates = actor.is_authenticated and (actor.is_superuser or actor.coordinated_communities.exists())
    if not (staff or coordinates):
        raise ServiceError("permission_denied")
    paths = () if actor.is_superuser else _staff_paths(actor)

    def where(community_id_: int) -> tuple[str, ...] | None:
        """Everyone for the community's coordinator, staff's organizations for staff, else None."""
        if communities_managed_by(actor).filter(pk=community_id_).exists():
            return ()
        return paths if staff else None

    if audience == Audience.SHIFT:
        shift = Shift.objects.select_related("community", "post").filter(pk=shift_id).first()
        scope = where(shift.community_id) if shift is not None else None
        if scope is None:
            raise ServiceError("not_found", {"shift": shift_id})
        return Target(audience, shift=shift, scope_paths=scope)
    if audience == Audience.COMMUNITY:
        community = Community.objects.filter(pk=community_id).first()
        scope = where(community.pk) if community is not None else None
        if scope is None:
            raise ServiceError("not_found", {"community": community_id})
        return Target(audience, community=community, scope_paths=scope)
    if audience not in (Audience.TEAM, Audience.RESERVE, Audience.CALL):
        raise ServiceError("invalid", {"audience": [_("Choose an audience from the list.")]})
    if not (staff or actor.is_superuser):
        raise ServiceError("permission_denied")
    reach = Q() if actor.is_superuser else _paths_q(paths)
    if audience == Audience.TEAM:
        team = Team.objects.filter(reach, pk=team_id).first()
        if team is None:
            raise ServiceError("not_found", {"team": team_id})
        return Target(audience, team=team)
    if audience == Audience.CALL:
        call = RecruitmentCall.objects.filter(reach, pk=call_id).first()
        if call is None:
            raise ServiceError("not_found", {"call": call_id})
        return Target(audience, call=call)
    organization = Organization.objects.filter(_paths_q(paths, "") if paths else Q(), pk=organization_id).first()
    if organization is None:
        raise ServiceError("not_found", {"organization": organization_id})
    return Target(audience, organization=organization)


def broadcast_people(target: Target) -> QuerySet[Volunteer]:
    """The volunteers a call-out reaches: reachable (not suspended, data not deleted), in scope."""
    people = Volunteer.objects.filter(anonymised_at__isnull=True).exclude(status=Volunteer.Status.SUSPENDED)
    if target.audience == Audience.SHIFT:
        people = people.filter(
            assignments__shift=target.shift,
            assignments__status__in=(Assignment.Status.CONFIRMED, Assignment.Status.WAITLISTED),
        )
    elif target.audience == Audience.TEAM:
        people = people.filter(team=target.team)
    elif target.audience == Audience.COMMUNITY:
        people = people.filter(deployed_community=target.community)
    elif target.audience == Audience.CALL:
        # Those who answered and are known as volunteers (an existing one, or approved); the
        # rejected were told already, and people not yet registered have no inbox.
        people = people.filter(
            pk__in=CallApplication.objects.filter(call=target.call, volunteer__isnull=False)
            .exclude(status=CallApplication.Status.REJECTED)
            .values("volunteer_id")
        )
    else:
        people = people.filter(organization__path__startswith=target.organization.path, status=Volunteer.Status.RESERVE)
    if target.scope_paths:
        people = people.filter(_paths_q(target.scope_paths))
    return people.order_by("pk")


def sms_parts(characters: int) -> int:
    """Texts a message of ``characters`` is billed as: one up to 70, else parts of 67."""
    return 1 if characters <= 70 else math.ceil(characters / 67)


def _billed_characters(text: str) -> int:
    """What a text counts as on the bill: itself and the signature the provider adds (【签名】)."""
    sign_name = settings.NOTIFICATIONS["SMS_SIGN_NAME"]
    return len(text) + (len(sign_name) + 2 if sign_name else 0)


def _next_broadcast_id() -> int:
    """The number a call-out written now gets, unless another is sent first: its short link in
    the preview has the length it will have."""
    last = Broadcast.objects.order_by("-pk").values_list("pk", flat=True).first()
    return (last or 0) + 1


def _check_message(*, subject: str, message: str, urgent: bool, actor) -> tuple[str, str]:
    subject, message = (subject or "").strip(), (message or "").strip()
    errors = {}
    if not subject:
        errors["subject"] = [_("Write a subject.")]
    if not message:
        errors["message"] = [_("Write a message.")]
    if len(message) > Broadcast._meta.get_field("message").max_length:
        errors["message"] = [_("The message is too long.")]
    if urgent and not (actor.is_superuser or is_committee_staff(actor)):
        errors["urgent"] = [_("Only league committee staff can send a message during quiet hours.")]
    if errors:
        raise ServiceError("invalid", errors)
    return subject, message


def broadcast_preview(*, target: Target, subject: str = "", message: str, by_sms: bool) -> dict:
    """How many people, how many texts (billed parts), what they would cost, and the SMS itself
    (``outbox.broadcast_sms``: exactly what a phone shows, and whether it is cut)."""
    counts = broadcast_people(target).aggregate(
        people=Count("pk"),
        sms=Count("pk", filter=Q(notify_by_sms=True) & ~Q(mobile="")),
    )
    sms = outbox.broadcast_sms(subject=subject or "", message=message or "", broadcast_id=_next_broadcast_id())
    parts = sms_parts(_billed_characters(sms.text))
    texts = counts["sms"] if by_sms else 0
    price = settings.NOTIFICATIONS["SMS_PRICE_YUAN"]
    return {
        "people": counts["people"],
        "texts": texts,
        "parts_per_text": parts,
        "estimated_cost": (Decimal(texts * parts) * price).quantize(Decimal("0.01")),
        "sms_text": sms.text,
        "sms_characters": _billed_characters(sms.text),
        "sms_cut": sms.cut,
    }


@transaction.atomic
def broadcast_create(
    *,
    actor,
    target: Target,
    subject: str,
    message: str,
    by_sms: bool = False,
    urgent: bool = False,
    link_shift_id: int | None = None,
    now: datetime | None = None,
) -> Broadcast:
    """Record a call-out; its messages are written after commit (``broadcast_fan_out``)."""
    now = now or timezone.now()
    subject, message = _check_message(subject=subject, message=message, urgent=urgent, actor=actor)
    link_shift = None
    if link_shift_id is not None:
        link_shift = Shift.objects.filter(pk=link_shift_id, status=Shift.Status.OPEN, ends_at__gt=now).first()
        if link_shift is None:
            raise ServiceError("invalid", {"link_shift": [_("Link an open shift that has not ended.")]})
    preview = broadcast_preview(target=target, subject=subject, message=message, by_sms=by_sms)
    if not preview["people"]:
        raise ServiceError("audience_empty")
    broadcast = Broadcast.objects.create(
        sender=actor,
        audience=target.audience,
        shift=target.shift,
        team=target.team,
        community=target.community,
        organization=target.organization,
        call=target.call,
        scope_paths=list(target.scope_paths),
        link_shift=link_shift,
        subject=subject,
        message=message,
        by_sms=by_sms,
        urgent=urgent,
        recipients=preview["people"],
        texts=preview["texts"] * preview["parts_per_text"],
        created_at=now,
    )
    sms = outbox.broadcast_sms(subject=subject, message=message, broadcast_id=broadcast.pk)
    if sms.text != preview["sms_text"]:  # another call-out took the number the preview showed
        broadcast.texts = preview["texts"] * sms_parts(_billed_characters(sms.text))
        broadcast.save(update_fields=["texts"])
    broadcast_id = broadcast.pk
    transaction.on_commit(lambda: _enqueue_fan_out(broadcast_id))
    return broadcast


def _enqueue_fan_out(broadcast_id: int) -> None:
    try:
        task_named("communities.tasks.broadcast_fan_out").apply_async(
            kwargs={"broadcast_id": broadcast_id}, queue=settings.NOTIFICATIONS["QUEUE"]
        )
    except Exception:  # broker unreachable: the minute sweep writes it out
        logger.warning("call-out %s not queued; left to the sweep", broadcast_id)


def _target_of(broadcast: Broadcast) -> Target:
    return Target(
        broadcast.audience,
        shift=broadcast.shift,
        team=broadcast.team,
        community=broadcast.community,
        organization=broadcast.organization,
        call=broadcast.call,
        scope_paths=tuple(broadcast.scope_paths),
    )


def broadcast_fan_out(*, broadcast_id: int, now: datetime | None = None) -> int:
    """Write the call-out's rows for everyone in its audience; return how many rows were made.

    Safe to run twice and at once: rows are keyed per person and channel, and inserted in key
    order with ON CONFLICT DO NOTHING. Each chunk commits on its own (its rows are sent after
    that commit); ``fanned_out_at`` is set when every chunk is in.
    """
    now = now or timezone.now()
    broadcast = (
        Broadcast.objects.select_related("shift", "team", "community", "organization", "call")
        .filter(pk=broadcast_id)
        .first()
    )
    if broadcast is None or broadcast.fanned_out_at is not None:
        return 0
    people = list(
        broadcast_people(_target_of(broadcast)).values_list(
            "user_id", "notify_by_sms", "notify_by_email", "mobile", "anonymised_at", "user__email"
        )
    )
    written = 0
    for start in range(0, len(people), FAN_OUT_CHUNK):
        with transaction.atomic():
            rows = outbox.broadcast_rows(broadcast, people[start : start + FAN_OUT_CHUNK], now=now)
            outbox.broadcast_insert(rows, now=now)
            written += len(rows)
    Broadcast.objects.filter(pk=broadcast.pk, fanned_out_at__isnull=True).update(fanned_out_at=now)
    return written


def broadcast_pending_sweep(*, now: datetime | None = None) -> int:
    """Write out call-outs whose task never ran (the broker was away); return how many."""
    now = now or timezone.now()
    due = list(
        Broadcast.objects.filter(fanned_out_at__isnull=True, created_at__lte=now - FAN_OUT_GRACE)
        .order_by("pk")
        .values_list("pk", flat=True)[:100]
    )
    for broadcast_id in due:
        broadcast_fan_out(broadcast_id=broadcast_id, now=now)
    return len(due)
