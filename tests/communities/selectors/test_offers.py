"""A list offers a sign-up only where the sign-up would take the volunteer, and says why not
elsewhere; the page's reads stay a fixed number of queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from communities.models import Assignment, Shift
from communities.selectors import shifts as shift_selectors
from communities.selectors.offers import shift_offers
from communities.services import signup
from config.errors import ServiceError
from tests.factories import (
    AssignmentFactory,
    PostFactory,
    PostTypeFactory,
    QualificationFactory,
    QualificationTypeFactory,
    ShiftFactory,
    SkillFactory,
    VolunteerFactory,
)

pytestmark = pytest.mark.django_db


def _at(days: int, hour: int):
    day = timezone.localdate() + timedelta(days=days)
    return timezone.make_aware(timezone.datetime(day.year, day.month, day.day, hour))


def _offered(volunteer, shifts):
    listed = shift_selectors.shift_list(volunteer=volunteer).filter(pk__in=[s.pk for s in shifts])
    return {shift.pk: shift.offer for shift in shift_offers(volunteer=volunteer, shifts=listed)}


class _Undo(Exception):
    pass


def _sign_up_answer(volunteer, shift) -> str:
    """What the sign-up answers, undone: ``confirmed``, ``waitlisted`` or the refusal's code."""
    try:
        with transaction.atomic():
            assignment = signup.shift_sign_up(shift_id=shift.pk, volunteer=volunteer)
            answer = assignment.status
            raise _Undo
    except _Undo:
        return answer
    except ServiceError as error:
        return error.code


@pytest.fixture
def world():
    volunteer = VolunteerFactory()
    first_aid = SkillFactory(name="急救", name_en="First aid")
    counselling = QualificationTypeFactory(name="心理咨询师证", name_en="Counsellor licence")
    needs_skill = PostTypeFactory()
    needs_skill.required_skills.add(first_aid)
    needs_licence = PostTypeFactory()
    needs_licence.required_qualifications.add(counselling)
    needs_insurance = PostTypeFactory(requires_insurance=True)
    for_adults_over_60 = PostTypeFactory(min_age=60)
    held = ShiftFactory(starts_at=_at(1, 8), ends_at=_at(1, 12))
    AssignmentFactory(shift=held, volunteer=volunteer, status=Assignment.Status.CONFIRMED)
    Shift.objects.filter(pk=held.pk).update(confirmed_count=1)
    full = ShiftFactory(starts_at=_at(4, 8), ends_at=_at(4, 12), capacity=1)
    AssignmentFactory(shift=full)
    Shift.objects.filter(pk=full.pk).update(confirmed_count=1)
    shifts = {
        "open": ShiftFactory(starts_at=_at(3, 8), ends_at=_at(3, 12)),
        "full": full,
        "held": held,
        "overlap": ShiftFactory(starts_at=_at(1, 10), ends_at=_at(1, 14)),
        "rest": ShiftFactory(starts_at=_at(1, 14), ends_at=_at(1, 16)),
        "skill": ShiftFactory(post=PostFactory(post_type=needs_skill), starts_at=_at(5, 8), ends_at=_at(5, 10)),
        "licence": ShiftFactory(post=PostFactory(post_type=needs_licence), starts_at=_at(6, 8), ends_at=_at(6, 10)),
        "insurance": ShiftFactory(
            post=PostFactory(post_type=needs_insurance), starts_at=_at(400, 8), ends_at=_at(400, 10)
        ),
        "age": ShiftFactory(post=PostFactory(post_type=for_adults_over_60), starts_at=_at(7, 8), ends_at=_at(7, 9)),
        "not_yet_open": ShiftFactory(starts_at=_at(8, 8), ends_at=_at(8, 10), signup_opens_at=_at(2, 0)),
        "closed": ShiftFactory(starts_at=_at(9, 8), ends_at=_at(9, 10), signup_closes_at=timezone.now()),
        "cancelled": ShiftFactory(starts_at=_at(10, 8), ends_at=_at(10, 10), status=Shift.Status.CANCELLED),
    }
    return volunteer, shifts, {"skill": first_aid, "licence": counselling}


def test_the_offer_is_what_the_sign_up_answers(world):
    volunteer, shifts, _needs = world
    offers = _offered(volunteer, shifts.values())
    seen = {}
    for name, shift in shifts.items():
        offer = offers[shift.pk]
        if name == "held":
            assert offer.action == "signed_up"
            continue
        answer = _sign_up_answer(volunteer, shift)
        expected = {"confirmed": "sign_up", "waitlisted": "waitlist"}.get(answer, "unavailable")
        assert (name, offer.action) == (name, expected)
        if offer.action == "unavailable":
            assert (name, offer.code) == (name, answer)
        seen[name] = offer.code or offer.action
    assert seen == {
        "open": "sign_up",
        "full": "waitlist",
        "overlap": "overlapping_shift",
        "rest": "rest_period",
        "skill": "not_eligible",
        "licence": "not_eligible",
        "insurance": "not_eligible",
        "age": "not_eligible",
        "not_yet_open": "signup_closed",
        "closed": "signup_closed",
        "cancelled": "shift_cancelled",
    }


def test_the_offer_follows_the_volunteer_once_they_qualify(world):
    volunteer, shifts, needs = world
    volunteer.skills.add(needs["skill"])
    QualificationFactory(volunteer=volunteer, qualification_type=needs["licence"])
    offers = _offered(volunteer, [shifts["skill"], shifts["licence"]])
    assert [offers[shifts[name].pk].action for name in ("skill", "licence")] == ["sign_up", "sign_up"]
    assert _sign_up_answer(volunteer, shifts["skill"]) == "confirmed"


def test_a_refusal_is_said_in_words(world):
    volunteer, shifts, _needs = world
    offers = _offered(volunteer, shifts.values())
    assert offers[shifts["skill"].pk].reasons == ["该岗位需要您尚未登记的技能：急救。"]
    assert offers[shifts["age"].pk].reasons == ["该岗位要求志愿者年满 60 周岁。"]
    assert offers[shifts["overlap"].pk].reasons == ["您在同一时间已有确认的班次。"]


def test_without_a_volunteer_nothing_is_offered():
    shift = ShiftFactory()
    [listed] = shift_offers(volunteer=None, shifts=shift_selectors.shift_list(volunteer=None))
    assert (listed.pk, listed.offer) == (shift.pk, None)


@pytest.mark.parametrize("count", [1, 12])
def test_offers_take_a_fixed_number_of_queries(world, django_assert_num_queries, count):
    volunteer, shifts, _needs = world
    for index in range(count):
        ShiftFactory(post=PostFactory(post_type=shifts["skill"].post.post_type), starts_at=_at(20 + index, 8))
    listed = list(shift_selectors.shift_list(volunteer=volunteer))
    # the refusals of the whole page (one statement); the names of the missing skills and
    # qualification types the refusals name
    with django_assert_num_queries(3):
        shift_offers(volunteer=volunteer, shifts=listed)
