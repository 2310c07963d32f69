"""The one form of the rules (``communities_refusal``, communities/sql/) answers alike however it
is asked (communities/rules/eligibility.py): one volunteer against one shift (``refusal``, what the
sign-up, an assignment and a promotion ask), as a filter on shifts (``eligible_shifts_q``, the
"eligible for me" list) and as a filter on volunteers (``candidates_q``, a coordinator's
candidates). Generated cases put every rule at its edges: ages around each post type's minimum and the minor age, birthdays and shifts on
29 February, insurance and qualifications expiring the day before, on, or after the shift's day.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from communities.models import Assignment, Shift
from communities.rules.eligibility import candidates_q, eligible_shifts_q, refusal
from tests.factories import (
    AssignmentFactory,
    PostFactory,
    PostTypeFactory,
    QualificationFactory,
    QualificationTypeFactory,
    ShiftFactory,
    SkillFactory,
    VolunteerFactory,
    next_29_february,
    years_before,
)
from volunteers.models import Volunteer

pytestmark = pytest.mark.django_db


def _per_pair(volunteers, shifts, now) -> set:
    return {
        (v.pk, s.pk) for v in volunteers for s in shifts if refusal(shift_id=s.pk, volunteer_id=v.pk, now=now) is None
    }


def _as_shift_filter(volunteers, shifts, now) -> set:
    ids = [s.pk for s in shifts]
    return {
        (v.pk, pk)
        for v in volunteers
        for pk in Shift.objects.filter(eligible_shifts_q(v, now), pk__in=ids).values_list("pk", flat=True)
    }


def _as_volunteer_filter(volunteers, shifts, now) -> set:
    ids = [v.pk for v in volunteers]
    return {
        (pk, s.pk)
        for s in shifts
        for pk in Volunteer.objects.filter(candidates_q(s, now), pk__in=ids).values_list("pk", flat=True)
    }


def _shift_days(draw: random.Random):
    leap = next_29_february()
    soon = timezone.localdate() + timedelta(days=draw.randint(1, 20))
    return [leap, leap + timedelta(days=1), leap - timedelta(days=1), soon]


def _generate(draw: random.Random):
    skills = [SkillFactory(), SkillFactory()]
    kinds = [QualificationTypeFactory(), QualificationTypeFactory()]
    shifts = []
    for day in _shift_days(draw):
        for _ in range(3):
            post_type = PostTypeFactory(min_age=draw.choice([14, 16, 18]), requires_insurance=draw.random() < 0.5)
            post_type.required_skills.set(draw.sample(skills, draw.randint(0, 2)))
            post_type.required_qualifications.set(draw.sample(kinds, draw.randint(0, 1)))
            start = timezone.make_aware(datetime(day.year, day.month, day.day, draw.choice([0, 8, 23])))
            shifts.append(
                ShiftFactory(post=PostFactory(post_type=post_type), starts_at=start, ends_at=start + timedelta(hours=1))
            )
    anchor = draw.choice([s.starts_at for s in shifts])
    anchor_day = timezone.localtime(anchor).date()
    volunteers = []
    for _ in range(14):
        born = years_before(anchor_day, draw.choice([13, 14, 15, 16, 17, 18, 19, 40]))
        if draw.random() < 0.3:
            born = years_before(next_29_february(), draw.choice([4 * n for n in range(4, 6)]))  # born on 29 February
        born += timedelta(days=draw.choice([-1, 0, 0, 1]))
        volunteer = VolunteerFactory(
            status=draw.choice([Volunteer.Status.ACTIVE] * 4 + [Volunteer.Status.RESERVE, Volunteer.Status.SUSPENDED]),
            birth_date=born,
            guardian_consent=draw.random() < 0.5,
            insurance_valid_until=draw.choice(
                [None, anchor_day - timedelta(days=1), anchor_day, anchor_day + timedelta(days=1)]
            ),
        )
        volunteer.skills.set(draw.sample(skills, draw.randint(0, 2)))
        for kind in draw.sample(kinds, draw.randint(0, 2)):
            QualificationFactory(
                volunteer=volunteer,
                qualification_type=kind,
                valid_until=draw.choice([None, anchor_day - timedelta(days=1), anchor_day, anchor_day + timedelta(1)]),
            )
        volunteers.append(volunteer)
    return shifts, volunteers


@pytest.mark.parametrize("seed", range(6))
def test_asked_three_ways_alike_on_generated_cases(seed):
    shifts, volunteers = _generate(random.Random(seed))
    shifts = list(Shift.objects.filter(pk__in=[s.pk for s in shifts]).select_related("post__post_type"))
    volunteers = list(
        Volunteer.objects.filter(pk__in=[v.pk for v in volunteers]).prefetch_related("skills", "qualifications")
    )

    now = timezone.now()
    per_pair = _per_pair(volunteers, shifts, now)
    as_shift_filter = _as_shift_filter(volunteers, shifts, now)
    as_volunteer_filter = _as_volunteer_filter(volunteers, shifts, now)
    assert as_shift_filter == per_pair
    assert as_volunteer_filter == per_pair
    # The draw reached both answers, and more than one reason for a refusal.
    answers = [refusal(shift_id=s.pk, volunteer_id=v.pk, now=now) for v in volunteers for s in shifts]
    reasons = {error.details["reason"] for error in answers if error is not None and error.code == "not_eligible"}
    assert per_pair and len(reasons) >= 3, reasons


def test_asked_three_ways_alike_on_every_age_edge_around_29_february():
    """Birthdays a day either side of each minimum age, for shifts on 28 and 29 February and
    1 March, and people born on 29 February: where the calendar has no such day, the rules
    move the birthday the same way however they are asked."""
    leap = next_29_february()
    # Two years on, a common year: those born on 29 February 14 and 18 years before turn 14 or 18.
    common = leap.replace(year=leap.year + 2, day=28)
    days = [leap - timedelta(days=1), leap, leap + timedelta(days=1), common, common + timedelta(days=1)]
    shifts = []
    for day in days:
        for min_age in (14, 16, 18):
            start = timezone.make_aware(datetime(day.year, day.month, day.day, 8))
            post = PostFactory(post_type=PostTypeFactory(min_age=min_age, requires_insurance=False))
            shifts.append(ShiftFactory(post=post, starts_at=start, ends_at=start + timedelta(hours=1)))
    births = {
        years_before(day, age) + timedelta(days=offset) for day in days for age in (14, 16, 18) for offset in (-1, 0, 1)
    }
    births |= {years_before(leap, years) for years in (4, 8, 12, 16, 20)}  # born on 29 February
    volunteers = [
        VolunteerFactory(status=Volunteer.Status.ACTIVE, birth_date=born, guardian_consent=consent)
        for born in sorted(births)
        for consent in (True, False)
    ]
    shifts = list(Shift.objects.filter(pk__in=[s.pk for s in shifts]).select_related("post__post_type"))

    now = timezone.now()
    per_pair = _per_pair(volunteers, shifts, now)
    as_shift_filter = _as_shift_filter(volunteers, shifts, now)
    as_volunteer_filter = _as_volunteer_filter(volunteers, shifts, now)
    assert as_shift_filter == per_pair
    assert as_volunteer_filter == per_pair
    assert 0 < len(per_pair) < len(volunteers) * len(shifts)


def test_shifts_alike_but_for_a_held_place_or_the_sign_up_window_are_answered_apart():
    """The shift filter asks the rule once per group of shifts alike in everything the rule reads
    of them: a held place, a sign-up window (set, unset, closed, not yet open) or another post
    type puts a shift in its own group, and each shift gets its own answer."""
    volunteer = VolunteerFactory(status=Volunteer.Status.ACTIVE)
    post_type = PostTypeFactory(min_age=16, requires_insurance=False)
    start = timezone.make_aware(datetime.combine(timezone.localdate() + timedelta(days=3), datetime.min.time()))
    start += timedelta(hours=8)
    now = timezone.now()

    def shift(post_type=post_type, **fields):
        post = PostFactory(post_type=post_type)
        return ShiftFactory(post=post, starts_at=start, ends_at=start + timedelta(hours=2), **fields)

    held, free = shift(), shift()
    AssignmentFactory(shift=held, volunteer=volunteer, status=Assignment.Status.WAITLISTED, waitlist_order=1)
    closed = shift(signup_closes_at=now - timedelta(minutes=1))
    closing = shift(signup_closes_at=now + timedelta(minutes=1))
    not_yet = shift(signup_opens_at=now + timedelta(minutes=1))
    opened = shift(signup_opens_at=now - timedelta(minutes=1))
    skilled = shift(post_type=PostTypeFactory(min_age=16, requires_insurance=False))
    skilled.post.post_type.required_skills.set([SkillFactory()])
    shifts = [held, free, closed, closing, not_yet, opened, skilled]

    listed = set(
        Shift.objects.filter(eligible_shifts_q(volunteer, now), pk__in=[s.pk for s in shifts]).values_list(
            "pk", flat=True
        )
    )
    assert listed == {s.pk for s in shifts if refusal(shift_id=s.pk, volunteer_id=volunteer.pk, now=now) is None}
    assert listed == {free.pk, closing.pk, opened.pk}
    # Only the shifts asked among.
    among = Shift.objects.filter(pk__in=[free.pk, closed.pk])
    assert set(Shift.objects.filter(eligible_shifts_q(volunteer, now, among=among)).values_list("pk", flat=True)) == {
        free.pk
    }
    assert not Shift.objects.filter(eligible_shifts_q(volunteer, now, among=Shift.objects.none())).exists()


def test_candidates_read_everyones_busy_time_as_each_ones_sign_up_does():
    """A coordinator's candidates join everyone's busy time near the shift in one pass
    (communities_busy_of); each volunteer is answered as the one-pair question answers them:
    overlap, rest period before and after, a cancelled or waitlisted place that does not count,
    shifts far enough away."""
    shift = ShiftFactory(starts_at=_at(3, 8), ends_at=_at(3, 12))
    post_type = shift.post.post_type
    post_type.min_age, post_type.requires_insurance = 16, False
    post_type.save()
    cases = {
        "free": [],
        "overlap": [(_at(3, 11), _at(3, 13), Assignment.Status.CONFIRMED)],
        "rest": [(_at(3, 14), _at(3, 16), Assignment.Status.CONFIRMED)],
        "worked before": [(_at(2, 22), _at(3, 1), Assignment.Status.COMPLETED)],
        "cancelled": [(_at(3, 9), _at(3, 10), Assignment.Status.CANCELLED)],
        "waitlisted": [(_at(3, 9), _at(3, 10), Assignment.Status.WAITLISTED)],
        "far": [(_at(5, 8), _at(5, 12), Assignment.Status.CONFIRMED), (_at(1, 8), _at(1, 12), "confirmed")],
    }
    volunteers = {}
    for name, places in cases.items():
        volunteer = VolunteerFactory(status=Volunteer.Status.ACTIVE)
        for starts, ends, status in places:
            other = ShiftFactory(starts_at=starts, ends_at=ends)
            AssignmentFactory(
                shift=other,
                volunteer=volunteer,
                status=status,
                waitlist_order=1 if status == Assignment.Status.WAITLISTED else None,
            )
        volunteers[name] = volunteer
    now = timezone.now()
    asked = [v.pk for v in volunteers.values()]
    candidates = set(Volunteer.objects.filter(candidates_q(shift, now), pk__in=asked).values_list("pk", flat=True))
    answers = {name: refusal(shift_id=shift.pk, volunteer_id=v.pk, now=now) for name, v in volunteers.items()}
    assert candidates == {volunteers[name].pk for name, error in answers.items() if error is None}
    refused = {name: error.code for name, error in answers.items() if error is not None}
    assert refused == {"overlap": "overlapping_shift", "rest": "rest_period", "worked before": "rest_period"}


def _at(days: int, hour: int):
    day = timezone.localdate() + timedelta(days=days)
    return timezone.make_aware(datetime(day.year, day.month, day.day)) + timedelta(hours=hour)
