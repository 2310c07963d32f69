"""Database constraints of the communities models, as PostgreSQL enforces them.

Every refusal is an ``IntegrityError`` raised by the database itself (no model validation runs),
caught inside ``transaction.atomic()`` so the test can go on and prove nothing was written.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from communities.models import Assignment, Community, Shift
from tests.factories import AssignmentFactory, CommunityFactory, ShiftFactory, VolunteerFactory

pytestmark = pytest.mark.django_db


@contextmanager
def refused(expected: str):
    """Expect the block to raise IntegrityError naming the given constraint."""
    with pytest.raises(IntegrityError) as excinfo, transaction.atomic():
        yield
    assert expected in str(excinfo.value)


def _check(name: str, table: str) -> str:
    return f'new row for relation "{table}" violates check constraint "{name}"'


# --- Shift ------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [timedelta(0), timedelta(minutes=-1), timedelta(hours=-8)])
def test_shift_that_does_not_end_after_it_starts_is_refused(length):
    existing = ShiftFactory()
    before = Shift.objects.count()

    with refused(_check("shift_ends_after_start", "communities_shift")):
        ShiftFactory(post=existing.post, starts_at=existing.starts_at, ends_at=existing.starts_at + length)

    assert Shift.objects.count() == before == 1


def test_shift_one_minute_long_is_accepted():
    starts_at = timezone.now() + timedelta(days=1)
    shift = ShiftFactory(starts_at=starts_at, ends_at=starts_at + timedelta(minutes=1))
    shift.refresh_from_db()
    assert shift.duration_minutes == 1


def test_shift_ending_before_start_is_refused_on_update():
    shift = ShiftFactory()
    starts_at, ends_at = shift.starts_at, shift.ends_at

    with refused(_check("shift_ends_after_start", "communities_shift")):
        Shift.objects.filter(pk=shift.pk).update(ends_at=F("starts_at"))

    shift.refresh_from_db()
    assert (shift.starts_at, shift.ends_at) == (starts_at, ends_at)


def test_shift_longer_than_24_hours_is_refused_and_exactly_24_is_accepted():
    existing = ShiftFactory()
    start = existing.starts_at + timedelta(days=2)
    with refused(_check("shift_at_most_24_hours", "communities_shift")):
        ShiftFactory(post=existing.post, starts_at=start, ends_at=start + timedelta(hours=24, minutes=1))
    with refused(_check("shift_at_most_24_hours", "communities_shift")):
        Shift.objects.filter(pk=existing.pk).update(ends_at=F("starts_at") + timedelta(days=2))
    day_long = ShiftFactory(post=existing.post, starts_at=start, ends_at=start + timedelta(hours=24))
    assert day_long.duration_minutes == 24 * 60
    assert Shift.objects.count() == 2


def test_shift_with_capacity_zero_is_refused():
    before = Shift.objects.count()

    with refused(_check("shift_capacity_at_least_one", "communities_shift")):
        ShiftFactory(capacity=0)

    assert Shift.objects.count() == before == 0


def test_shift_with_capacity_one_is_accepted():
    shift = ShiftFactory(capacity=1)
    shift.refresh_from_db()
    assert shift.capacity == 1
    assert shift.confirmed_count == 0
    assert shift.waitlist_count == 0


def test_confirmed_count_above_capacity_is_refused():
    shift = ShiftFactory(capacity=3)

    with refused(_check("shift_confirmed_within_capacity", "communities_shift")):
        Shift.objects.filter(pk=shift.pk).update(confirmed_count=F("capacity") + 1)

    shift.refresh_from_db()
    assert shift.confirmed_count == 0
    assert shift.capacity == 3


def test_confirmed_count_equal_to_capacity_is_accepted():
    shift = ShiftFactory(capacity=3)

    assert Shift.objects.filter(pk=shift.pk).update(confirmed_count=F("capacity")) == 1

    shift.refresh_from_db()
    assert shift.confirmed_count == 3
    assert shift.has_space is False


def test_lowering_capacity_below_confirmed_count_is_refused():
    shift = ShiftFactory(capacity=3)
    Shift.objects.filter(pk=shift.pk).update(confirmed_count=3)

    with refused(_check("shift_confirmed_within_capacity", "communities_shift")):
        Shift.objects.filter(pk=shift.pk).update(capacity=2)

    shift.refresh_from_db()
    assert (shift.capacity, shift.confirmed_count) == (3, 3)


def test_negative_confirmed_count_is_refused():
    shift = ShiftFactory()

    # The PositiveIntegerField's own column check fires on both databases.
    with refused('violates check constraint "communities_shift_confirmed_count_check"'):
        Shift.objects.filter(pk=shift.pk).update(confirmed_count=F("confirmed_count") - 1)

    shift.refresh_from_db()
    assert shift.confirmed_count == 0


def test_negative_waitlist_count_is_refused():
    shift = ShiftFactory()

    with refused('violates check constraint "communities_shift_waitlist_count_check"'):
        Shift.objects.filter(pk=shift.pk).update(waitlist_count=F("waitlist_count") - 1)

    shift.refresh_from_db()
    assert shift.waitlist_count == 0


# --- Assignment: one live assignment per volunteer and shift -------------------------------

_ONE_LIVE = 'duplicate key value violates unique constraint "one_live_assignment_per_volunteer_and_shift"'


@pytest.mark.parametrize(
    "existing_status",
    [
        Assignment.Status.CONFIRMED,
        Assignment.Status.WAITLISTED,
        Assignment.Status.NO_SHOW,
        Assignment.Status.COMPLETED,
    ],
)
def test_second_live_assignment_for_same_volunteer_and_shift_is_refused(existing_status):
    shift = ShiftFactory()
    volunteer = VolunteerFactory()
    order = 1 if existing_status == Assignment.Status.WAITLISTED else None
    AssignmentFactory(shift=shift, volunteer=volunteer, status=existing_status, waitlist_order=order)
    before = Assignment.objects.count()

    with refused(_ONE_LIVE):
        AssignmentFactory(shift=shift, volunteer=volunteer, status=Assignment.Status.CONFIRMED)

    assert Assignment.objects.count() == before == 1
    assert list(Assignment.objects.values_list("status", flat=True)) == [existing_status]


def test_waitlisted_assignment_next_to_a_confirmed_one_is_refused():
    shift = ShiftFactory()
    volunteer = VolunteerFactory()
    AssignmentFactory(shift=shift, volunteer=volunteer, status=Assignment.Status.CONFIRMED)

    with refused(_ONE_LIVE):
        AssignmentFactory(shift=shift, volunteer=volunteer, status=Assignment.Status.WAITLISTED, waitlist_order=1)

    assert Assignment.objects.count() == 1


def test_cancelled_assignments_do_not_block_a_new_live_one():
    shift = ShiftFactory()
    volunteer = VolunteerFactory()
    AssignmentFactory(shift=shift, volunteer=volunteer, status=Assignment.Status.CANCELLED)
    AssignmentFactory(shift=shift, volunteer=volunteer, status=Assignment.Status.CANCELLED)
    live = AssignmentFactory(shift=shift, volunteer=volunteer, status=Assignment.Status.CONFIRMED)

    assert Assignment.objects.filter(shift=shift, volunteer=volunteer).count() == 3
    assert list(Assignment.objects.filter(shift=shift, volunteer=volunteer).exclude(status="cancelled")) == [live]

    # A live one exists again: one more is refused.
    with refused(_ONE_LIVE):
        AssignmentFactory(shift=shift, volunteer=volunteer, status=Assignment.Status.CONFIRMED)
    assert Assignment.objects.filter(shift=shift, volunteer=volunteer).count() == 3


def test_reviving_a_cancelled_assignment_next_to_a_live_one_is_refused():
    shift = ShiftFactory()
    volunteer = VolunteerFactory()
    cancelled = AssignmentFactory(shift=shift, volunteer=volunteer, status=Assignment.Status.CANCELLED)
    AssignmentFactory(shift=shift, volunteer=volunteer, status=Assignment.Status.CONFIRMED)

    with refused(_ONE_LIVE):
        Assignment.objects.filter(pk=cancelled.pk).update(status=Assignment.Status.CONFIRMED)

    cancelled.refresh_from_db()
    assert cancelled.status == Assignment.Status.CANCELLED


def test_same_volunteer_may_hold_live_assignments_on_different_shifts():
    volunteer = VolunteerFactory()
    first = AssignmentFactory(volunteer=volunteer)
    second = AssignmentFactory(volunteer=volunteer)
    assert first.shift_id != second.shift_id
    assert Assignment.objects.filter(volunteer=volunteer, status="confirmed").count() == 2


def test_different_volunteers_may_hold_live_assignments_on_one_shift():
    shift = ShiftFactory()
    AssignmentFactory(shift=shift)
    AssignmentFactory(shift=shift)
    assert Assignment.objects.filter(shift=shift, status="confirmed").count() == 2


# --- Assignment: waitlist tickets -------------------------------------------------------------


def test_two_waitlisted_assignments_with_same_ticket_on_one_shift_are_refused():
    shift = ShiftFactory()
    AssignmentFactory(shift=shift, status=Assignment.Status.WAITLISTED, waitlist_order=7)
    before = Assignment.objects.count()

    with refused('duplicate key value violates unique constraint "one_waitlist_ticket_per_shift"'):
        AssignmentFactory(shift=shift, status=Assignment.Status.WAITLISTED, waitlist_order=7)

    assert Assignment.objects.count() == before == 1


def test_same_ticket_is_allowed_on_another_shift_and_once_no_longer_waitlisted():
    shift = ShiftFactory()
    promoted = AssignmentFactory(shift=shift, status=Assignment.Status.WAITLISTED, waitlist_order=1)
    AssignmentFactory(status=Assignment.Status.WAITLISTED, waitlist_order=1)  # another shift
    # A promoted assignment keeps its old ticket number but no longer holds the ticket.
    Assignment.objects.filter(pk=promoted.pk).update(status=Assignment.Status.CONFIRMED)
    AssignmentFactory(shift=shift, status=Assignment.Status.WAITLISTED, waitlist_order=1)

    assert Assignment.objects.filter(waitlist_order=1).count() == 3
    assert Assignment.objects.filter(shift=shift, status="waitlisted", waitlist_order=1).count() == 1


def test_waitlisted_assignment_without_ticket_is_refused():
    shift = ShiftFactory()

    with refused(_check("waitlisted_has_ticket", "communities_assignment")):
        AssignmentFactory(shift=shift, status=Assignment.Status.WAITLISTED, waitlist_order=None)

    assert Assignment.objects.count() == 0


def test_assignment_moved_to_waitlist_without_ticket_is_refused():
    assignment = AssignmentFactory(status=Assignment.Status.CONFIRMED)

    with refused(_check("waitlisted_has_ticket", "communities_assignment")):
        Assignment.objects.filter(pk=assignment.pk).update(status=Assignment.Status.WAITLISTED)

    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.CONFIRMED
    assert assignment.waitlist_order is None


def test_confirmed_assignment_without_ticket_is_accepted():
    assignment = AssignmentFactory(status=Assignment.Status.CONFIRMED, waitlist_order=None)
    assignment.refresh_from_db()
    assert assignment.waitlist_order is None


# --- Assignment: check-in and check-out ---------------------------------------------------------


def test_checkout_before_checkin_is_refused():
    checked_in_at = timezone.now()

    with refused(_check("checkout_after_checkin", "communities_assignment")):
        AssignmentFactory(checked_in_at=checked_in_at, checked_out_at=checked_in_at - timedelta(seconds=1))

    assert Assignment.objects.count() == 0


def test_checkout_without_checkin_is_refused():
    with refused(_check("checkout_after_checkin", "communities_assignment")):
        AssignmentFactory(checked_in_at=None, checked_out_at=timezone.now())

    assert Assignment.objects.count() == 0


def test_checkout_before_checkin_is_refused_on_update():
    checked_in_at = timezone.now()
    assignment = AssignmentFactory(checked_in_at=checked_in_at)

    with refused(_check("checkout_after_checkin", "communities_assignment")):
        Assignment.objects.filter(pk=assignment.pk).update(checked_out_at=checked_in_at - timedelta(minutes=5))

    assignment.refresh_from_db()
    assert assignment.checked_in_at == checked_in_at
    assert assignment.checked_out_at is None


@pytest.mark.parametrize("stay", [timedelta(0), timedelta(hours=3, minutes=59)])
def test_checkout_at_or_after_checkin_is_accepted(stay):
    checked_in_at = timezone.now()
    assignment = AssignmentFactory(checked_in_at=checked_in_at, checked_out_at=checked_in_at + stay)
    assignment.refresh_from_db()
    assert assignment.checked_out_at - assignment.checked_in_at == stay


# --- Community coordinates ------------------------------------------------------------------------


@pytest.mark.parametrize("latitude", [Decimal("90.000001"), Decimal("91"), Decimal("-90.000001"), Decimal("-180")])
def test_community_latitude_out_of_range_is_refused(latitude):
    with refused(_check("community_latitude_range", "communities_community")):
        CommunityFactory(latitude=latitude, longitude=Decimal("120.585316"))

    assert Community.objects.count() == 0


@pytest.mark.parametrize("longitude", [Decimal("180.000001"), Decimal("-181")])
def test_community_longitude_out_of_range_is_refused(longitude):
    with refused(_check("community_longitude_range", "communities_community")):
        CommunityFactory(latitude=Decimal("31.298886"), longitude=longitude)

    assert Community.objects.count() == 0


def test_community_latitude_moved_out_of_range_is_refused_on_update():
    community = CommunityFactory(latitude=Decimal("31.298886"), longitude=Decimal("120.585316"))

    with refused(_check("community_latitude_range", "communities_community")):
        Community.objects.filter(pk=community.pk).update(latitude=Decimal("95"))

    community.refresh_from_db()
    assert community.latitude == Decimal("31.298886")


@pytest.mark.parametrize(
    ("latitude", "longitude"),
    [
        (Decimal("90"), Decimal("180")),
        (Decimal("-90"), Decimal("-180")),
        (Decimal("31.298886"), Decimal("120.585316")),
        (None, None),
    ],
)
def test_community_coordinates_in_range_or_absent_are_accepted(latitude, longitude):
    community = CommunityFactory(latitude=latitude, longitude=longitude)
    community.refresh_from_db()
    assert (community.latitude, community.longitude) == (latitude, longitude)
