"""What a volunteer can do with each shift of a list: sign up, join the waitlist, or why not.

The sign-up service decides under locks, one shift at a time; this reads the same rules for a
page of shifts without locks, so a list offers a button only where the sign-up would take the
volunteer (a place, or the waitlist when full) and greys the rest with the reason. The rules are
the sign-up's own functions, in the sign-up's order: the shift is open and not over, sign-up is
open, no live place held, eligibility (``communities.rules.eligibility.ineligibility``), then
overlap, rest and the daily limit (``signup._schedule_conflict``).
``tests/communities/selectors/test_offers.py`` holds the offer to what the sign-up then answers.

Four queries whatever the page's length: the volunteer's skills and qualifications, the post
types' requirements (``requirements_for``), and the volunteer's confirmed shifts around the page;
and one for each kind of requirement (skills, qualification types) the page's post types name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import prefetch_related_objects
from django.utils import timezone

from communities.models import Assignment, Shift
from communities.render import refusals
from communities.rules.eligibility import Requirements, ineligibility, requirements_for
from communities.services.signup import Busy, _schedule_conflict, _signup_window
from config.errors import ServiceError
from volunteers.models import QualificationType, Skill, Volunteer

SIGN_UP = "sign_up"
WAITLIST = "waitlist"
SIGNED_UP = "signed_up"
UNAVAILABLE = "unavailable"


@dataclass
class Offer:
    """``action``: what the list offers; for ``unavailable``, ``error`` is what the sign-up would
    answer and ``reasons`` says it in words."""

    action: str
    error: ServiceError | None = None
    reasons: list[str] = field(default_factory=list)

    @property
    def takeable(self) -> bool:
        return self.action in (SIGN_UP, WAITLIST)

    @property
    def code(self) -> str | None:
        return self.error.code if self.error is not None else None


def _refusal(
    volunteer: Volunteer, shift: Shift, requirements: Requirements, codes: dict, busy: list[Busy], now: datetime
) -> ServiceError | None:
    """The sign-up's answer for ``shift``, as ``signup._sign_up_in_python`` reaches it."""
    if shift.status == Shift.Status.CANCELLED:
        return ServiceError("shift_cancelled")
    if shift.ends_at <= now:
        return ServiceError("shift_over")
    opens, closes = _signup_window(shift)
    if (opens and now < opens) or now >= closes:
        return ServiceError(
            "signup_closed", {"opens_at": opens.isoformat() if opens else None, "closes_at": closes.isoformat()}
        )
    problem = ineligibility(volunteer, shift, shift.post.post_type, requirements, codes)
    if problem:
        return ServiceError("not_eligible", problem)
    window = _commitment_window()
    others = [
        other
        for other in busy
        if other.pk != shift.pk
        and other.starts_at < shift.ends_at + window
        and other.ends_at > shift.starts_at - window
    ]
    return _schedule_conflict(shift, others)


def _commitment_window() -> timedelta:
    # The reach of ``signup._commitments``: the rest period, and at least a day for the daily limit.
    return max(timedelta(hours=settings.RULES["MIN_REST_HOURS"]), timedelta(days=1))


def _busy(volunteer: Volunteer, shifts: list[Shift]) -> list[Busy]:
    """The volunteer's confirmed or worked shifts near any of ``shifts``, in time order."""
    window = _commitment_window()
    start = min(shift.starts_at for shift in shifts) - window
    end = max(shift.ends_at for shift in shifts) + window
    rows = (
        Assignment.objects.filter(
            volunteer_id=volunteer.pk,
            status__in=(Assignment.Status.CONFIRMED, Assignment.Status.COMPLETED),
            shift__starts_at__lt=end,
            shift__ends_at__gt=start,
        )
        .order_by("shift__starts_at", "shift_id")
        .values_list("shift_id", "shift__starts_at", "shift__ends_at")
    )
    return [Busy(*row) for row in rows]


def _named(requirements) -> tuple[dict, dict]:
    """The codes (by id) and names (by code) of every skill and qualification type the page's post
    types require, for the refusals' words: one query per kind, none when nothing is required."""
    codes: dict = {}
    names: dict = {}
    for model, ids in (
        (Skill, {pk for r in requirements for pk in r.skills}),
        (QualificationType, {pk for r in requirements for pk in r.qualifications}),
    ):
        if ids:
            rows = list(model.objects.filter(pk__in=ids))
            codes[model] = {row.pk: row.code for row in rows}
            names[model] = {row.code: row.display_name for row in rows}
    return codes, names


def shift_offers(*, volunteer: Volunteer | None, shifts, now: datetime | None = None) -> list[Shift]:
    """``shifts`` (from ``shift_list`` for this volunteer: ``my_assignments`` prefetched) as a
    list, each with ``offer``; without a volunteer nothing is offered (``offer`` is None)."""
    shifts = list(shifts)
    if volunteer is None or not shifts:
        for shift in shifts:
            shift.offer = None
        return shifts
    now = now or timezone.now()
    prefetch_related_objects([volunteer], "skills", "qualifications")
    requirements = requirements_for(shift.post.post_type_id for shift in shifts)
    codes, names = _named(requirements.values())
    busy = _busy(volunteer, shifts)
    refused: list[tuple[Shift, ServiceError]] = []
    for shift in shifts:
        if shift.my_assignments:
            shift.offer = Offer(SIGNED_UP)
            continue
        error = _refusal(volunteer, shift, requirements[shift.post.post_type_id], codes, busy, now)
        if error is not None:
            shift.offer = Offer(UNAVAILABLE, error)
            refused.append((shift, error))
        elif shift.confirmed_count >= shift.capacity:
            shift.offer = Offer(WAITLIST)
        else:
            shift.offer = Offer(SIGN_UP)
    for shift, error in refused:
        shift.offer.reasons = refusals.explain_briefly(error, names=names)
    return shifts
