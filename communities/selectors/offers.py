"""What a volunteer can do with each shift of a list: sign up, join the waitlist, or why not.

The sign-up decides under locks, one shift at a time; this asks the same database function
(``communities_sign_up_refusal``, docs/rules.md) about a page of shifts without locks, so a list
offers a button only where the sign-up would take the volunteer (a place, or the waitlist when
full) and greys the rest with the reason. ``tests/communities/selectors/test_offers.py`` holds
the offer to what the sign-up then answers.

Two queries whatever the page's length: the refusals of every shift on the page (one call of the
function per shift, in one statement), and the names of the skills and qualification types the
refusals name, when any do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from communities.models import Shift
from communities.render import refusals as words
from communities.rules.eligibility import refusals
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


def _names(errors) -> dict:
    """Names (by code) of the skills and qualification types the refusals say are missing."""
    wanted: dict = {Skill: set(), QualificationType: set()}
    for error in errors:
        if error.code == "not_eligible" and error.details.get("reason") in ("skill", "qualification"):
            model = Skill if error.details["reason"] == "skill" else QualificationType
            wanted[model].update(error.details["missing"])
    return {
        model: {row.code: row.display_name for row in model.objects.filter(code__in=codes)}
        for model, codes in wanted.items()
        if codes
    }


def shift_offers(*, volunteer: Volunteer | None, shifts, now: datetime | None = None) -> list[Shift]:
    """``shifts`` (from ``shift_list`` for this volunteer: ``my_assignments`` prefetched) as a
    list, each with ``offer``; without a volunteer nothing is offered (``offer`` is None)."""
    shifts = list(shifts)
    if volunteer is None or not shifts:
        for shift in shifts:
            shift.offer = None
        return shifts
    now = now or timezone.now()
    open_ids = [shift.pk for shift in shifts if not shift.my_assignments]
    answers = refusals(shift_ids=open_ids, volunteer_id=volunteer.pk, now=now)
    refused = []
    for shift in shifts:
        if shift.my_assignments:
            shift.offer = Offer(SIGNED_UP)
            continue
        error = answers.get(shift.pk)
        if error is not None:
            shift.offer = Offer(UNAVAILABLE, error)
            refused.append((shift, error))
        elif shift.confirmed_count >= shift.capacity:
            shift.offer = Offer(WAITLIST)
        else:
            shift.offer = Offer(SIGN_UP)
    names = _names(error for _shift, error in refused)
    for shift, error in refused:
        shift.offer.reasons = words.explain_briefly(error, names=names)
    return shifts
