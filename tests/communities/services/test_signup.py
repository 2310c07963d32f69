"""Every sign-up rule, on the accepted and the refused path (a refusal changes nothing)."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from communities.models import Assignment, Shift
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
    next_29_february,
    years_before,
)

pytestmark = pytest.mark.django_db


def state(shift):
    shift.refresh_from_db()
    rows = sorted(Assignment.objects.filter(shift=shift).values_list("volunteer_id", "status", "waitlist_order"))
    return (shift.confirmed_count, shift.waitlist_count, shift.waitlist_seq, shift.capacity, rows)


def refused(code, shift, **kwargs):
    before = state(shift)
    with pytest.raises(ServiceError) as caught:
        signup.shift_sign_up(shift_id=shift.pk, **kwargs)
    assert caught.value.code == code
    assert state(shift) == before
    return caught.value


def at(day_offset, hour, hours=4):
    day = timezone.localdate() + timedelta(days=day_offset)
    start = timezone.make_aware(timezone.datetime(day.year, day.month, day.day, hour))
    return {"starts_at": start, "ends_at": start + timedelta(hours=hours)}


def test_full_shift_gives_fifo_waitlist_tickets():
    shift = ShiftFactory(capacity=2)
    results = [signup.shift_sign_up(shift_id=shift.pk, volunteer=VolunteerFactory()) for _ in range(5)]
    assert [a.status for a in results] == ["confirmed"] * 2 + ["waitlisted"] * 3
    assert [a.waitlist_order for a in results] == [None, None, 1, 2, 3]
    shift.refresh_from_db()
    assert (shift.confirmed_count, shift.waitlist_count) == (2, 3)


def test_already_signed_up():
    shift = ShiftFactory()
    volunteer = VolunteerFactory()
    signup.shift_sign_up(shift_id=shift.pk, volunteer=volunteer)
    refused("already_signed_up", shift, volunteer=volunteer)


def test_signup_again_after_cancelling_is_allowed():
    shift = ShiftFactory()
    volunteer = VolunteerFactory()
    first = signup.shift_sign_up(shift_id=shift.pk, volunteer=volunteer)
    signup.assignment_cancel(assignment_id=first.pk)
    again = signup.shift_sign_up(shift_id=shift.pk, volunteer=volunteer)
    assert again.status == "confirmed"
    assert Assignment.objects.filter(shift=shift, volunteer=volunteer).count() == 2


def test_cancelled_shift():
    refused("shift_cancelled", ShiftFactory(status=Shift.Status.CANCELLED), volunteer=VolunteerFactory())


def test_signup_window():
    now = timezone.now()
    not_yet = ShiftFactory(signup_opens_at=now + timedelta(hours=1))
    error = refused("signup_closed", not_yet, volunteer=VolunteerFactory())
    assert error.details["opens_at"] == not_yet.signup_opens_at.isoformat()
    closed = ShiftFactory(signup_closes_at=now - timedelta(minutes=1))
    refused("signup_closed", closed, volunteer=VolunteerFactory())
    started = ShiftFactory(starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(hours=3))
    refused("signup_closed", started, volunteer=VolunteerFactory())
    ended = ShiftFactory(starts_at=now - timedelta(hours=5), ends_at=now - timedelta(hours=1))
    refused("shift_over", ended, volunteer=VolunteerFactory())


@pytest.mark.parametrize(
    ("volunteer_kwargs", "reason"),
    [
        ({"status": "reserve"}, "status"),
        ({"status": "suspended"}, "status"),
        ({"insurance_valid_until": None}, "insurance"),
        ({"birth_date": date(2010, 1, 1), "guardian_consent": True}, "age"),
    ],
)
def test_not_eligible(volunteer_kwargs, reason):
    post_type = PostTypeFactory(requires_insurance=True, min_age=18)
    shift = ShiftFactory(post=PostFactory(post_type=post_type))
    error = refused("not_eligible", shift, volunteer=VolunteerFactory(**volunteer_kwargs))
    assert error.details["reason"] == reason


def test_insurance_must_cover_the_shift_date():
    post_type = PostTypeFactory(requires_insurance=True)
    shift = ShiftFactory(post=PostFactory(post_type=post_type), **at(3, 8))
    expires_before = VolunteerFactory(insurance_valid_until=timezone.localdate() + timedelta(days=2))
    refused("not_eligible", shift, volunteer=expires_before)
    covers = VolunteerFactory(insurance_valid_until=timezone.localdate() + timedelta(days=3))
    assert signup.shift_sign_up(shift_id=shift.pk, volunteer=covers).status == "confirmed"


@pytest.mark.parametrize("on", ["tomorrow", "29 February"])
def test_minor_needs_guardian_consent(on):
    day = timezone.localdate() + timedelta(days=1) if on == "tomorrow" else next_29_february()
    post_type = PostTypeFactory(min_age=16)
    start = timezone.make_aware(timezone.datetime(day.year, day.month, day.day, 8))
    shift = ShiftFactory(post=PostFactory(post_type=post_type), starts_at=start, ends_at=start + timedelta(hours=4))
    sixteen = years_before(day, 17)  # seventeen on the shift's day: old enough, still a minor
    error = refused("not_eligible", shift, volunteer=VolunteerFactory(birth_date=sixteen, guardian_consent=False))
    assert error.details == {"reason": "guardian_consent"}
    ok = VolunteerFactory(birth_date=sixteen, guardian_consent=True)
    assert signup.shift_sign_up(shift_id=shift.pk, volunteer=ok).status == "confirmed"


def test_required_skill_and_unexpired_qualification():
    post_type = PostTypeFactory()
    skill = SkillFactory(code="counselling")
    qualification = QualificationTypeFactory(code="psych")
    post_type.required_skills.add(skill)
    post_type.required_qualifications.add(qualification)
    shift = ShiftFactory(post=PostFactory(post_type=post_type), **at(5, 9))

    no_skill = VolunteerFactory()
    assert refused("not_eligible", shift, volunteer=no_skill).details == {"reason": "skill", "missing": ["counselling"]}

    expired = VolunteerFactory()
    expired.skills.add(skill)
    QualificationFactory(
        volunteer=expired, qualification_type=qualification, valid_until=timezone.localdate() + timedelta(days=4)
    )
    assert refused("not_eligible", shift, volunteer=expired).details == {
        "reason": "qualification",
        "missing": ["psych"],
    }

    qualified = VolunteerFactory()
    qualified.skills.add(skill)
    QualificationFactory(volunteer=qualified, qualification_type=qualification)
    assert signup.shift_sign_up(shift_id=shift.pk, volunteer=qualified).status == "confirmed"


def test_coordinator_override_needs_a_reason_and_is_recorded(django_user_model):
    coordinator = django_user_model.objects.create(username="coord")
    post_type = PostTypeFactory(requires_insurance=True)
    shift = ShiftFactory(post=PostFactory(post_type=post_type))
    volunteer = VolunteerFactory(insurance_valid_until=None)
    refused("not_eligible", shift, volunteer=volunteer, source="coordinator", actor=coordinator, override_reason="  ")
    assignment = signup.shift_sign_up(
        shift_id=shift.pk, volunteer=volunteer, source="coordinator", actor=coordinator, override_reason="保险已补办"
    )
    assignment.refresh_from_db()
    assert (assignment.status, assignment.override_reason, assignment.assigned_by) == (
        "confirmed",
        "保险已补办",
        coordinator,
    )


def test_overlap_rest_and_daily_limit():
    volunteer = VolunteerFactory()
    morning = ShiftFactory(**at(2, 8))  # 08:00-12:00
    signup.shift_sign_up(shift_id=morning.pk, volunteer=volunteer)

    overlapping = ShiftFactory(**at(2, 10))
    error = refused("overlapping_shift", overlapping, volunteer=volunteer)
    assert error.details["shift"] == morning.pk

    too_soon = ShiftFactory(**at(2, 14))  # only 2 h after the morning shift
    assert refused("rest_period", too_soon, volunteer=volunteer).details["shift"] == morning.pk

    rested = ShiftFactory(**at(2, 20, hours=3))  # 8 h after 12:00
    assert signup.shift_sign_up(shift_id=rested.pk, volunteer=volunteer).status == "confirmed"


def test_daily_limit_counts_minutes_per_calendar_day(settings):
    settings.RULES = {**settings.RULES, "MIN_REST_HOURS": 0}
    volunteer = VolunteerFactory()
    signup.shift_sign_up(shift_id=ShiftFactory(**at(2, 6, hours=6)).pk, volunteer=volunteer)  # 06-12
    long_evening = ShiftFactory(**at(2, 13, hours=5))  # 13-18: 11 h that day
    error = refused("daily_limit", long_evening, volunteer=volunteer)
    assert error.details["minutes"] == 660
    # A night shift 20:00-04:00 puts 4 h on this day and 4 h on the next: 10 h, allowed.
    night = ShiftFactory(**at(2, 20, hours=8))
    assert signup.shift_sign_up(shift_id=night.pk, volunteer=volunteer).status == "confirmed"


def test_cancel_cutoff_and_coordinator_bypass():
    now = timezone.now()
    shift = ShiftFactory(starts_at=now + timedelta(hours=1), ends_at=now + timedelta(hours=5))
    assignment = AssignmentFactory(shift=shift)
    Shift.objects.filter(pk=shift.pk).update(confirmed_count=1)
    before = state(shift)
    with pytest.raises(ServiceError) as caught:
        signup.assignment_cancel(assignment_id=assignment.pk)
    assert caught.value.code == "cancel_cutoff_passed"
    assert state(shift) == before
    signup.assignment_cancel(assignment_id=assignment.pk, enforce_cutoff=False)
    assert state(shift)[0] == 0


def test_cancel_twice_is_refused():
    shift = ShiftFactory()
    assignment = signup.shift_sign_up(shift_id=shift.pk, volunteer=VolunteerFactory())
    signup.assignment_cancel(assignment_id=assignment.pk)
    before = state(shift)
    with pytest.raises(ServiceError) as caught:
        signup.assignment_cancel(assignment_id=assignment.pk)
    assert caught.value.code == "not_cancellable"
    assert state(shift) == before


def test_promotion_skips_ineligible_and_conflicting_but_keeps_their_ticket():
    shift = ShiftFactory(capacity=1, **at(3, 8))
    holder = VolunteerFactory()
    lapsed, busy, next_in_line = VolunteerFactory(), VolunteerFactory(), VolunteerFactory()
    holding = signup.shift_sign_up(shift_id=shift.pk, volunteer=holder)
    for volunteer in (lapsed, busy, next_in_line):
        signup.shift_sign_up(shift_id=shift.pk, volunteer=volunteer)
    lapsed.status = "suspended"
    lapsed.save()
    signup.shift_sign_up(shift_id=ShiftFactory(**at(3, 9)).pk, volunteer=busy)

    signup.assignment_cancel(assignment_id=holding.pk)
    statuses = dict(Assignment.objects.filter(shift=shift).values_list("volunteer_id", "status"))
    assert statuses == {
        holder.pk: "cancelled",
        lapsed.pk: "waitlisted",
        busy.pk: "waitlisted",
        next_in_line.pk: "confirmed",
    }
    shift.refresh_from_db()
    assert (shift.confirmed_count, shift.waitlist_count) == (1, 2)


def test_waitlisted_cancel_keeps_order_of_the_rest():
    shift = ShiftFactory(capacity=1)
    signup.shift_sign_up(shift_id=shift.pk, volunteer=VolunteerFactory())
    waiting = [signup.shift_sign_up(shift_id=shift.pk, volunteer=VolunteerFactory()) for _ in range(3)]
    signup.assignment_cancel(assignment_id=waiting[0].pk)
    from communities.selectors.shifts import assignments_with_position

    positions = dict(
        assignments_with_position(Assignment.objects.filter(shift=shift, status="waitlisted")).values_list(
            "pk", "waitlist_position"
        )
    )
    assert positions == {waiting[1].pk: 1, waiting[2].pk: 2}


def test_capacity_lowered_below_confirmed_is_refused_and_raised_promotes():
    shift = ShiftFactory(capacity=2)
    volunteers = [VolunteerFactory() for _ in range(3)]
    for volunteer in volunteers:
        signup.shift_sign_up(shift_id=shift.pk, volunteer=volunteer)
    before = state(shift)
    with pytest.raises(ServiceError) as caught:
        signup.shift_capacity_set(shift_id=shift.pk, capacity=1)
    assert caught.value.code == "capacity_below_confirmed"
    assert state(shift) == before
    signup.shift_capacity_set(shift_id=shift.pk, capacity=3)
    assert state(shift)[:2] == (3, 0)


@pytest.mark.parametrize("source", ["self", "coordinator"])
def test_a_place_freed_while_people_wait_goes_down_the_line_before_a_newcomer(source):
    """A volunteer passed over for a clash is offered the next free place once the clash is gone:
    the newcomer's sign-up runs the promotion first and queues behind (both sign-up forms)."""
    from tests.factories import UserFactory

    shift = ShiftFactory(capacity=1, **at(3, 8))
    holder, busy, newcomer = VolunteerFactory(), VolunteerFactory(), VolunteerFactory()
    holding = signup.shift_sign_up(shift_id=shift.pk, volunteer=holder)
    ticket = signup.shift_sign_up(shift_id=shift.pk, volunteer=busy)
    clash = signup.shift_sign_up(shift_id=ShiftFactory(**at(3, 9)).pk, volunteer=busy)
    signup.assignment_cancel(assignment_id=holding.pk)
    assert state(shift)[:2] == (0, 1)  # passed over: the place stays free, the ticket kept
    signup.assignment_cancel(assignment_id=clash.pk)  # the clash is gone

    if source == "self":
        joined = signup.shift_sign_up(shift_id=shift.pk, user=newcomer.user)
    else:
        joined = signup.shift_sign_up(
            shift_id=shift.pk, volunteer=newcomer, source=source, actor=UserFactory(), override_reason=""
        )

    assert (joined.status, joined.waitlist_order, getattr(joined, "waitlist_position", None)) == ("waitlisted", 2, 1)
    assert state(shift) == (
        1,
        1,
        2,
        1,
        sorted([(holder.pk, "cancelled", None), (busy.pk, "confirmed", None), (newcomer.pk, "waitlisted", 2)]),
    )
    assert Assignment.objects.get(pk=ticket.pk).status == "confirmed"


def test_a_suspended_volunteer_is_never_placed_even_with_an_override():
    """Deleting an account suspends it first; no coordinator override or promotion places it."""
    from tests.factories import UserFactory

    suspended = VolunteerFactory(status="suspended")
    shift = ShiftFactory(capacity=1)
    refused(
        "not_eligible",
        shift,
        volunteer=suspended,
        source="coordinator",
        actor=UserFactory(),
        override_reason="short of people",
    )

    holder, waiting = VolunteerFactory(), VolunteerFactory()
    holding = signup.shift_sign_up(shift_id=shift.pk, volunteer=holder)
    ticket = signup.shift_sign_up(
        shift_id=shift.pk, volunteer=waiting, source="coordinator", actor=UserFactory(), override_reason="known to us"
    )
    waiting.status = "suspended"
    waiting.save()
    signup.assignment_cancel(assignment_id=holding.pk)
    assert Assignment.objects.get(pk=ticket.pk).status == "waitlisted"
    assert state(shift)[:2] == (0, 1)


def test_a_reserve_volunteer_may_still_be_placed_with_an_override():
    from tests.factories import UserFactory

    shift = ShiftFactory(capacity=1)
    assignment = signup.shift_sign_up(
        shift_id=shift.pk,
        volunteer=VolunteerFactory(status="reserve"),
        source="coordinator",
        actor=UserFactory(),
        override_reason="called in",
    )
    assert (assignment.status, assignment.override_reason) == ("confirmed", "called in")
