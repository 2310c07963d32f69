"""The check-in rollup the live board reads: moved by every attendance change in its own
transaction, and repaired from the assignments when something bypassed it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from communities.models import Assignment, Shift, ShiftAttendance
from communities.rules import checkin_codes
from communities.services import attendance, live
from config.errors import ServiceError
from tests.factories import CommunityFactory, PostFactory, ShiftFactory, UserFactory, VolunteerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def coordinator():
    return UserFactory()


@pytest.fixture
def shift(coordinator):
    community = CommunityFactory()
    community.coordinators.add(coordinator)
    start = timezone.now() - timedelta(minutes=20)
    return ShiftFactory(post=PostFactory(community=community), starts_at=start, ends_at=start + timedelta(hours=3))


def confirmed(shift, n):
    made = [Assignment.objects.create(shift=shift, volunteer=VolunteerFactory(), status="confirmed") for _ in range(n)]
    Shift.objects.filter(pk=shift.pk).update(confirmed_count=n)
    return made


def counts(shift):
    row = ShiftAttendance.objects.filter(shift=shift).first()
    return (row.checked_in, row.checked_out, row.no_shows) if row else None


def code_now(shift, now):
    return checkin_codes.code_for_step(shift.checkin_secret, int(now.timestamp() // 60))


def test_every_attendance_change_moves_the_rollup_in_its_transaction(shift, coordinator):
    first, second, third = confirmed(shift, 3)
    now = timezone.now()
    assert counts(shift) is None
    attendance.assignment_check_in(
        assignment_id=first.pk, volunteer=first.volunteer, code=code_now(shift, now), now=now
    )
    assert counts(shift) == (1, 0, 0)
    row = ShiftAttendance.objects.get(shift=shift)
    assert (row.community_id, row.date, row.starts_at, row.ends_at) == (
        shift.community_id,
        timezone.localdate(shift.starts_at),
        shift.starts_at,
        shift.ends_at,
    )
    attendance.assignment_mark_no_show(assignment_id=second.pk, actor=coordinator, reason="病假", early=True)
    assert counts(shift) == (1, 0, 1)
    attendance.assignment_check_in_manual(assignment_id=second.pk, actor=coordinator, reason="到岗")
    assert counts(shift) == (2, 0, 0)
    attendance.assignment_check_out(assignment_id=first.pk, volunteer=first.volunteer)
    assert counts(shift) == (2, 1, 0)
    attendance.assignment_reopen(assignment_id=first.pk, actor=coordinator, reason="误操作")
    assert counts(shift) == (2, 0, 0)
    attendance.assignment_check_out_manual(assignment_id=second.pk, actor=coordinator, reason="忘记签退")
    assert counts(shift) == (2, 1, 0)
    attendance.assignment_mark_no_show(assignment_id=third.pk, actor=coordinator, reason="未到", early=True)
    attendance.assignment_clear_no_show(assignment_id=third.pk, actor=coordinator, reason="误标")
    assert counts(shift) == (2, 1, 0)


def test_a_refused_check_in_leaves_the_rollup_alone(shift):
    (first,) = confirmed(shift, 1)
    with pytest.raises(ServiceError):
        attendance.assignment_check_in(assignment_id=first.pk, volunteer=first.volunteer, code="000000x")
    assert counts(shift) is None


def test_the_repair_recounts_drifted_rows_from_the_assignments(shift):
    first, second = confirmed(shift, 2)
    now = timezone.now()
    Assignment.objects.filter(pk=first.pk).update(checked_in_at=now)
    Assignment.objects.filter(pk=second.pk).update(status="no_show", no_show_at=now)
    assert live.shift_attendance_repair() == 1
    assert counts(shift) == (1, 0, 1)
    ShiftAttendance.objects.filter(shift=shift).update(checked_in=9)
    assert live.shift_attendance_repair() == 1
    assert counts(shift) == (1, 0, 1)
    assert live.shift_attendance_repair() == 0


def test_a_checked_in_place_cancelled_leaves_the_count_with_it(shift, coordinator):
    """A coordinator who releases a place (or a volunteer's places, on deletion) while its holder
    is at the post: the live board stops counting them, as the recount would."""
    from communities.services.signup import assignment_cancel

    first, second = confirmed(shift, 2)
    for place in (first, second):
        attendance.assignment_check_in_manual(assignment_id=place.pk, actor=coordinator, reason="到岗")
    assert counts(shift) == (2, 0, 0)
    assignment_cancel(assignment_id=first.pk, enforce_cutoff=False)
    assert counts(shift) == (1, 0, 0)
    assert live.shift_attendance_repair() == 0


def test_a_shift_cancelled_while_people_are_at_the_post_leaves_the_count_right(shift, coordinator):
    from communities.services.coordination import shift_cancel

    first, _second = confirmed(shift, 2)
    attendance.assignment_check_in_manual(assignment_id=first.pk, actor=coordinator, reason="到岗")
    assert counts(shift) == (1, 0, 0)
    shift_cancel(actor=coordinator, shift_id=shift.pk, reason="暴雨")
    # Under way: the one at the post is checked out (credited), the other released.
    assert counts(shift) == (1, 1, 0)
    assert live.shift_attendance_repair() == 0
