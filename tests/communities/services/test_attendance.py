"""Attendance that cannot be guessed or credited early: code attempts, location as a flag,
check-out and no-shows against the shift's start, and a coordinator's reopen."""

from datetime import timedelta

import pytest
from django.utils import timezone

from communities.models import Assignment, AuditEntry, CheckinCodeAttempts, Notification, Shift
from communities.rules import checkin_codes
from communities.services import attendance
from config.errors import ServiceError
from tests.factories import CommunityFactory, PostFactory, ShiftFactory, UserFactory, VolunteerFactory
from volunteers.models import VolunteerTally

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def run_commit_hooks(monkeypatch):
    """Inside a test's wrapping transaction nothing commits, so run after-commit work at once."""
    from django.db import transaction

    monkeypatch.setattr(transaction, "on_commit", lambda func, using=None, robust=False: func())


@pytest.fixture
def coordinator():
    return UserFactory(username="coord")


@pytest.fixture
def post(coordinator):
    community = CommunityFactory()
    community.coordinators.add(coordinator)
    return PostFactory(community=community)


def shift_from(post, start, hours=2):
    return ShiftFactory(post=post, starts_at=start, ends_at=start + timedelta(hours=hours))


def confirmed(shift, volunteer=None):
    volunteer = volunteer or VolunteerFactory()
    assignment = Assignment.objects.create(shift=shift, volunteer=volunteer, status="confirmed")
    Shift.objects.filter(pk=shift.pk).update(confirmed_count=shift.confirmed_count + 1)
    shift.confirmed_count += 1
    return assignment


def right_code(shift, now):
    return checkin_codes.code_for_step(shift.checkin_secret, int(now.timestamp() // 60))


def wrong_code(shift, now):
    """A code that is neither this step's nor the previous one's."""
    step = int(now.timestamp() // 60)
    taken = {checkin_codes.code_for_step(shift.checkin_secret, s) for s in (step, step - 1)}
    return next(code for code in ("000000", "111111", "222222") if code not in taken)


def step_start(moment):
    """The first second of ``moment``'s code step, so that +60 s is exactly the next step."""
    return moment - timedelta(seconds=moment.timestamp() % 60)


def failures(assignment):
    return CheckinCodeAttempts.objects.filter(assignment=assignment).values_list("failures", flat=True).first() or 0


def locked_at(assignment):
    return CheckinCodeAttempts.objects.filter(assignment=assignment).values_list("locked_at", flat=True).first()


def try_code(assignment, code, now):
    try:
        attendance.assignment_check_in(assignment_id=assignment.pk, volunteer=assignment.volunteer, code=code, now=now)
    except ServiceError as error:
        return error.code, error.details
    return "checked_in", {}


# --- Wrong codes are limited -----------------------------------------------------------------


def test_five_wrong_codes_per_step_then_even_the_right_one_waits_for_the_next_step(post):
    now = step_start(timezone.now()) + timedelta(seconds=10)
    shift = shift_from(post, now - timedelta(minutes=5))
    assignment = confirmed(shift)
    answers = [try_code(assignment, wrong_code(shift, now), now) for _ in range(5)]
    assert answers == [("checkin_code_invalid", {"attempts_left": left}) for left in (4, 3, 2, 1, 0)]
    assert try_code(assignment, wrong_code(shift, now), now) == (
        "checkin_too_many_attempts",
        {"retry_after_seconds": 50},
    )
    assert try_code(assignment, right_code(shift, now), now) == (
        "checkin_too_many_attempts",
        {"retry_after_seconds": 50},
    )
    assignment.refresh_from_db()
    assert (assignment.checked_in_at, failures(assignment)) == (None, 5)
    assert not AuditEntry.objects.exists()

    later = now + timedelta(seconds=60)
    assert try_code(assignment, right_code(shift, later), later) == ("checked_in", {})
    assignment.refresh_from_db()
    assert (assignment.checked_in_at, failures(assignment)) == (later, 5)


def test_the_step_limit_is_per_volunteer_across_assignments(post):
    now = step_start(timezone.now()) + timedelta(seconds=5)
    volunteer = VolunteerFactory()
    first = confirmed(shift_from(post, now - timedelta(minutes=5)), volunteer)
    second = confirmed(shift_from(PostFactory(community=post.community), now + timedelta(minutes=10)), volunteer)
    for _ in range(3):
        assert try_code(first, wrong_code(first.shift, now), now)[0] == "checkin_code_invalid"
    for _ in range(2):
        assert try_code(second, wrong_code(second.shift, now), now)[0] == "checkin_code_invalid"
    assert try_code(first, right_code(first.shift, now), now)[0] == "checkin_too_many_attempts"
    assert try_code(second, right_code(second.shift, now), now)[0] == "checkin_too_many_attempts"
    # Someone else's attempts are their own.
    other = confirmed(first.shift)
    assert try_code(other, right_code(first.shift, now), now) == ("checked_in", {})


def test_ten_wrong_codes_lock_the_assignments_code_check_in_and_tell_the_coordinators(post, coordinator):
    english = VolunteerFactory(message_language="en")
    post.community.coordinators.add(english.user)
    now = step_start(timezone.now()) + timedelta(seconds=1)
    shift = shift_from(post, now - timedelta(minutes=5))
    assignment = confirmed(shift)
    answers = []
    for step in range(2):
        moment = now + timedelta(minutes=step)
        answers += [try_code(assignment, wrong_code(shift, moment), moment)[0] for _ in range(5)]
    assert answers == ["checkin_code_invalid"] * 9 + ["checkin_locked"]
    locked_moment = now + timedelta(minutes=1)
    later = now + timedelta(minutes=2)
    assert try_code(assignment, right_code(shift, later), later) == ("checkin_locked", {})
    assignment.refresh_from_db()
    assert (assignment.checked_in_at, failures(assignment), locked_at(assignment)) == (
        None,
        10,
        locked_moment,
    )
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.assignment_id, entry.actor, entry.after["checkin_code_failures"]) == (
        "checkin_locked",
        assignment.pk,
        None,
        10,
    )
    rows = Notification.objects.filter(kind="checkin_locked", channel="inapp").order_by("recipient_id")
    assert [row.recipient_id for row in rows] == [coordinator.pk, english.user_id]
    chinese, in_english = rows
    volunteer = assignment.volunteer
    assert volunteer.real_name in chinese.body and "手动签到" in chinese.body
    assert in_english.body.startswith(f"Check-in by code is locked for {volunteer.real_name}")
    assert "check them in by hand" in in_english.body
    assert all(row.urgent for row in Notification.objects.filter(kind="checkin_locked"))

    # The coordinator checks the volunteer in by hand.
    attendance.assignment_check_in_manual(
        assignment_id=assignment.pk, actor=coordinator, reason="到岗核实", now=later, at=later
    )
    assignment.refresh_from_db()
    assert (assignment.checked_in_at, assignment.checkin_method) == (later, "manual")


def test_refusals_before_the_code_is_read_do_not_count(post):
    now = step_start(timezone.now()) + timedelta(seconds=1)
    shift = shift_from(post, now + timedelta(hours=2))  # check-in not open yet
    assignment = confirmed(shift)
    for _ in range(8):
        assert try_code(assignment, wrong_code(shift, now), now)[0] == "checkin_not_open"
    assignment.refresh_from_db()
    assert failures(assignment) == 0


# --- Location is a flag, never a verdict -----------------------------------------------------


def test_a_check_in_far_from_the_post_is_accepted_and_flagged_for_the_coordinator(post):
    community = post.community
    community.latitude, community.longitude, community.geofence_radius_m = 31.3000, 120.6000, 300
    community.save()
    now = timezone.now()
    shift = shift_from(post, now - timedelta(minutes=5))
    far, near, unknown = confirmed(shift), confirmed(shift), confirmed(shift)
    done = attendance.assignment_check_in(
        assignment_id=far.pk,
        volunteer=far.volunteer,
        code=right_code(shift, now),
        latitude=31.31,
        longitude=120.6,
        now=now,
    )
    assert (done.checked_in_at, done.checkin_flagged, done.checkin_distance_m) == (now, True, 1112)
    assert AuditEntry.objects.get(assignment=far).after["outside_geofence"] is True
    done = attendance.assignment_check_in(
        assignment_id=near.pk,
        volunteer=near.volunteer,
        code=right_code(shift, now),
        latitude=31.3010,
        longitude=120.6,
        now=now,
    )
    assert (done.checkin_flagged, done.checkin_distance_m) == (False, 111)
    assert AuditEntry.objects.get(assignment=near).after["outside_geofence"] is False
    done = attendance.assignment_check_in(
        assignment_id=unknown.pk, volunteer=unknown.volunteer, code=right_code(shift, now), now=now
    )
    assert (done.checkin_flagged, done.checkin_distance_m) == (True, None)


# --- No hours before the start ---------------------------------------------------------------


def checked_in_early(post, coordinator, now, starts_in=timedelta(minutes=7)):
    shift = shift_from(post, now + starts_in)
    assignment = confirmed(shift)
    attendance.assignment_check_in(
        assignment_id=assignment.pk, volunteer=assignment.volunteer, code=right_code(shift, now), now=now
    )
    return assignment


def test_check_out_before_the_start_is_refused(post, coordinator):
    now = timezone.now()
    assignment = checked_in_early(post, coordinator, now)
    before = Assignment.objects.values().get(pk=assignment.pk)
    with pytest.raises(ServiceError) as caught:
        attendance.assignment_check_out(assignment_id=assignment.pk, volunteer=assignment.volunteer, now=now)
    assert (caught.value.code, caught.value.details) == (
        "shift_not_started",
        {"starts_at": assignment.shift.starts_at.isoformat()},
    )
    with pytest.raises(ServiceError) as caught:
        attendance.assignment_check_out_manual(assignment_id=assignment.pk, actor=coordinator, reason="走了", now=now)
    assert caught.value.code == "shift_not_started"
    assert Assignment.objects.values().get(pk=assignment.pk) == before
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["check_in"]
    # From the start on, check-out works.
    start = assignment.shift.starts_at
    attendance.assignment_check_out(assignment_id=assignment.pk, volunteer=assignment.volunteer, now=start)
    assignment.refresh_from_db()
    assert (assignment.status, assignment.checked_out_at, assignment.credited_minutes) == ("completed", start, 0)


def test_a_coordinator_cannot_record_attendance_in_the_future(post, coordinator):
    now = timezone.now()
    shift = shift_from(post, now - timedelta(hours=1))
    assignment = confirmed(shift)
    with pytest.raises(ServiceError) as caught:
        attendance.assignment_check_in_manual(
            assignment_id=assignment.pk, actor=coordinator, reason="预登记", at=now + timedelta(minutes=5), now=now
        )
    assert (caught.value.code, caught.value.details) == ("invalid", {"at": ["时间不能晚于现在。"]})
    attendance.assignment_check_in_manual(
        assignment_id=assignment.pk, actor=coordinator, reason="补登记", at=shift.starts_at, now=now
    )
    with pytest.raises(ServiceError) as caught:
        attendance.assignment_check_out_manual(
            assignment_id=assignment.pk, actor=coordinator, reason="预签退", at=shift.ends_at, now=now
        )
    assert (caught.value.code, caught.value.details) == ("invalid", {"at": ["时间不能晚于现在。"]})
    assignment.refresh_from_db()
    assert (assignment.status, assignment.checked_out_at, assignment.credited_minutes) == ("confirmed", None, None)
    # A back-entry of a past time, with a reason, stays possible.
    attendance.assignment_check_out_manual(
        assignment_id=assignment.pk, actor=coordinator, reason="补登记", at=now - timedelta(minutes=1), now=now
    )
    assignment.refresh_from_db()
    assert (assignment.status, assignment.credited_minutes) == ("completed", 60)


def test_hours_of_a_shift_that_has_not_started_cannot_be_approved_or_adjusted(post, coordinator):
    now = timezone.now()
    shift = shift_from(post, now + timedelta(hours=1))
    assignment = confirmed(shift)
    # Written before the rule, as an old record might be.
    Assignment.objects.filter(pk=assignment.pk).update(
        status="completed", checked_in_at=now, checked_out_at=now, credited_minutes=0, hours_status="pending"
    )
    for call in (
        lambda: attendance.hours_approve(assignment_id=assignment.pk, actor=coordinator, now=now),
        lambda: attendance.hours_adjust(
            assignment_id=assignment.pk, actor=coordinator, credited_minutes=120, reason="预先", now=now
        ),
    ):
        with pytest.raises(ServiceError) as caught:
            call()
        assert caught.value.code == "shift_not_started"
    assignment.refresh_from_db()
    assert (assignment.credited_minutes, assignment.hours_status) == (0, "pending")
    assert not AuditEntry.objects.exists()


# --- No-shows: the sweep's grace, unless the coordinator says why ----------------------------


def test_a_manual_no_show_waits_for_the_grace_unless_marked_early_on_purpose(post, coordinator):
    now = timezone.now()
    shift = shift_from(post, now - timedelta(seconds=11))
    assignment = confirmed(shift)
    with pytest.raises(ServiceError) as caught:
        attendance.assignment_mark_no_show(assignment_id=assignment.pk, actor=coordinator, reason="没来", now=now)
    assert (caught.value.code, caught.value.details) == (
        "no_show_too_early",
        {"allowed_at": (shift.starts_at + timedelta(minutes=30)).isoformat()},
    )
    assignment.refresh_from_db()
    assert (assignment.status, assignment.no_show_at) == ("confirmed", None)
    assert not AuditEntry.objects.exists()
    # The volunteer can still check in.
    done = attendance.assignment_check_in(
        assignment_id=assignment.pk, volunteer=assignment.volunteer, code=right_code(shift, now), now=now
    )
    assert done.checked_in_at == now

    other = confirmed(shift)
    attendance.assignment_mark_no_show(
        assignment_id=other.pk, actor=coordinator, reason="本人来电说生病不来", early=True, now=now
    )
    other.refresh_from_db()
    assert (other.status, other.no_show_at) == ("no_show", now)

    third = confirmed(shift)
    after_grace = shift.starts_at + timedelta(minutes=30)
    attendance.assignment_mark_no_show(assignment_id=third.pk, actor=coordinator, reason="未到", now=after_grace)
    third.refresh_from_db()
    assert third.status == "no_show"


# --- Reopening a mistaken check-out or no-show -----------------------------------------------


def test_a_coordinator_reopens_a_mistaken_check_out_with_a_reason(post, coordinator):
    now = timezone.now()
    shift = shift_from(post, now - timedelta(hours=1))
    assignment = confirmed(shift)
    attendance.assignment_check_in(
        assignment_id=assignment.pk,
        volunteer=assignment.volunteer,
        code=right_code(shift, shift.starts_at),
        now=shift.starts_at,
    )
    attendance.assignment_check_out(assignment_id=assignment.pk, volunteer=assignment.volunteer, now=now)
    attendance.hours_approve(assignment_id=assignment.pk, actor=coordinator, now=now)
    assert VolunteerTally.objects.get(volunteer=assignment.volunteer).total_minutes == 60

    with pytest.raises(ServiceError) as caught:
        attendance.assignment_reopen(assignment_id=assignment.pk, actor=coordinator, reason=" ")
    assert caught.value.code == "reason_required"
    attendance.assignment_reopen(assignment_id=assignment.pk, actor=coordinator, reason="误点签退")
    assignment.refresh_from_db()
    assert (
        assignment.status,
        assignment.checked_in_at,
        assignment.checked_out_at,
        assignment.checkout_method,
        assignment.credited_minutes,
        assignment.hours_status,
        assignment.verified_by,
        assignment.verified_at,
    ) == ("confirmed", shift.starts_at, None, "", None, "none", None, None)
    entry = AuditEntry.objects.filter(assignment=assignment).order_by("-id").first()
    assert (entry.action, entry.actor, entry.reason, entry.before["status"], entry.after["status"]) == (
        "reopened",
        coordinator,
        "误点签退",
        "completed",
        "confirmed",
    )
    assert VolunteerTally.objects.get(volunteer=assignment.volunteer).total_minutes == 0
    # The volunteer checks out again later.
    attendance.assignment_check_out(assignment_id=assignment.pk, volunteer=assignment.volunteer, now=shift.ends_at)
    assignment.refresh_from_db()
    assert (assignment.status, assignment.credited_minutes) == ("completed", 120)


def test_reopening_a_no_show_lets_the_volunteer_check_in(post, coordinator):
    now = timezone.now()
    shift = shift_from(post, now - timedelta(minutes=40))
    assignment = confirmed(shift)
    assert attendance.no_show_sweep(now=now) == 1
    attendance.assignment_reopen(assignment_id=assignment.pk, actor=coordinator, reason="迟到已到岗")
    assignment.refresh_from_db()
    assert (assignment.status, assignment.no_show_at) == ("confirmed", None)
    assert AuditEntry.objects.filter(assignment=assignment).order_by("-id").first().action == "no_show_cleared"
    done = attendance.assignment_check_in(
        assignment_id=assignment.pk, volunteer=assignment.volunteer, code=right_code(shift, now), now=now
    )
    assert done.checked_in_at == now


def test_only_a_check_out_or_a_no_show_can_be_reopened(post, coordinator):
    now = timezone.now()
    shift = shift_from(post, now - timedelta(minutes=40))
    assignment = confirmed(shift)
    with pytest.raises(ServiceError) as caught:
        attendance.assignment_reopen(assignment_id=assignment.pk, actor=coordinator, reason="误操作")
    assert (caught.value.code, caught.value.details) == ("not_checkable", {"status": "confirmed"})
    assert not AuditEntry.objects.exists()


def test_a_shift_with_attendance_recorded_cannot_be_moved(post, coordinator):
    from communities.services import coordination

    now = timezone.now()
    shift = shift_from(post, now - timedelta(hours=1))
    assignment = confirmed(shift)
    attendance.assignment_check_in(
        assignment_id=assignment.pk,
        volunteer=assignment.volunteer,
        code=right_code(shift, shift.starts_at),
        now=shift.starts_at,
    )
    attendance.assignment_check_out(assignment_id=assignment.pk, volunteer=assignment.volunteer, now=now)
    before = Shift.objects.values("starts_at", "ends_at", "updated_at").get(pk=shift.pk)
    # Moved to start after the hours already credited for it.
    with pytest.raises(ServiceError) as caught:
        coordination.shift_update(
            actor=coordinator,
            shift_id=shift.pk,
            starts_at=now + timedelta(hours=1),
            ends_at=now + timedelta(hours=3),
            reason="改期",
        )
    assert (caught.value.code, caught.value.details) == ("shift_has_attendance", {"assignments": 1})
    assert Shift.objects.values("starts_at", "ends_at", "updated_at").get(pk=shift.pk) == before
    # Capacity and notes still change.
    coordination.shift_update(actor=coordinator, shift_id=shift.pk, capacity=5, notes="带水", reason="加人")
    shift.refresh_from_db()
    assert (shift.capacity, shift.notes, shift.starts_at) == (5, "带水", before["starts_at"])
