"""Race tests: real threads, each with its own database connection, started together.

The shift and volunteer row locks decide; the counters, the check constraint and the partial
unique index must hold.
"""

import random
import threading

import pytest
from django.db import connection, connections
from django.db.models import Count, Q

from communities.models import Assignment, Shift
from communities.selectors.shifts import assignments_with_position
from communities.services import signup
from config.errors import ServiceError
from tests.factories import ShiftFactory, VolunteerFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def run_together(jobs):
    """Run callables in threads released at the same instant; return their results or errors."""
    barrier = threading.Barrier(len(jobs))
    results = [None] * len(jobs)

    def worker(index, job):
        try:
            barrier.wait()
            results[index] = job()
        except Exception as exc:  # collected and asserted on by the caller
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return results


def assert_invariants(shift):
    shift.refresh_from_db()
    counts = Assignment.objects.filter(shift=shift).aggregate(
        confirmed=Count("pk", filter=Q(status="confirmed")), waitlisted=Count("pk", filter=Q(status="waitlisted"))
    )
    assert shift.confirmed_count == counts["confirmed"] <= shift.capacity
    assert shift.waitlist_count == counts["waitlisted"]
    live = Assignment.objects.filter(shift=shift).exclude(status="cancelled")
    assert live.values("volunteer_id").distinct().count() == live.count()


def test_fifty_concurrent_signups_for_five_places():
    shift = ShiftFactory(capacity=5)
    volunteers = [VolunteerFactory() for _ in range(50)]
    results = run_together([lambda v=v: signup.shift_sign_up(shift_id=shift.pk, volunteer=v) for v in volunteers])
    errors = [r for r in results if isinstance(r, Exception)]
    assert errors == []
    assert sorted(r.status for r in results).count("confirmed") == 5
    assert_invariants(shift)
    assert (shift.confirmed_count, shift.waitlist_count) == (5, 45)
    positions = sorted(
        assignments_with_position(Assignment.objects.filter(shift=shift, status="waitlisted")).values_list(
            "waitlist_position", flat=True
        )
    )
    assert positions == list(range(1, 46))


def test_one_volunteer_racing_for_two_overlapping_shifts_gets_at_most_one():
    for _ in range(5):
        first = ShiftFactory(capacity=3)
        second = ShiftFactory(capacity=3, starts_at=first.starts_at, ends_at=first.ends_at, post=first.post)
        volunteer = VolunteerFactory()
        results = run_together(
            [
                lambda s=first, v=volunteer: signup.shift_sign_up(shift_id=s.pk, volunteer=v),
                lambda s=second, v=volunteer: signup.shift_sign_up(shift_id=s.pk, volunteer=v),
            ]
        )
        confirmed = Assignment.objects.filter(volunteer=volunteer, status="confirmed").count()
        assert confirmed == 1
        refusals = [r for r in results if isinstance(r, Exception)]
        assert len(refusals) == 1
        assert isinstance(refusals[0], ServiceError)
        assert refusals[0].code == "overlapping_shift"


def test_concurrent_cancels_and_signups_on_a_full_shift_keep_the_invariant():
    shift = ShiftFactory(capacity=4)
    holders = [VolunteerFactory() for _ in range(4)]
    held = [signup.shift_sign_up(shift_id=shift.pk, volunteer=v) for v in holders]
    newcomers = [VolunteerFactory() for _ in range(12)]
    stop = threading.Event()
    violations = []

    def watch():
        # Reads the counter and the rows in one statement, so one snapshot, while writers run.
        try:
            while not stop.is_set():
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT s.capacity, s.confirmed_count, "
                        "(SELECT COUNT(*) FROM communities_assignment a WHERE a.shift_id = s.id AND a.status = 'confirmed') "
                        "FROM communities_shift s WHERE s.id = %s",
                        [shift.pk],
                    )
                    capacity, counter, rows = cursor.fetchone()
                if not (counter == rows <= capacity):
                    violations.append((capacity, counter, rows))
        finally:
            connections.close_all()

    watcher = threading.Thread(target=watch)
    watcher.start()
    jobs = [lambda a=a: signup.assignment_cancel(assignment_id=a.pk) for a in held]
    jobs += [lambda v=v: signup.shift_sign_up(shift_id=shift.pk, volunteer=v) for v in newcomers]
    random.Random(7).shuffle(jobs)
    results = run_together(jobs)
    stop.set()
    watcher.join()
    assert [r for r in results if isinstance(r, Exception)] == []
    assert violations == []
    assert_invariants(shift)
    # Four places freed and twelve newcomers queued: all four places end up taken.
    assert shift.confirmed_count == 4
    assert shift.waitlist_count == 8
    assert Shift.objects.get(pk=shift.pk).waitlist_seq >= 8


def test_two_capacity_raises_on_shifts_sharing_a_waitlist_in_opposite_orders_both_succeed():
    """Promotion locks the waiting volunteers in ascending id order (communities.services.locks), so two
    promotions whose lines hold the same people in opposite orders queue instead of deadlocking:
    locked one by one in ticket order, one of them died with a deadlock (503 through the API)."""
    from datetime import timedelta

    from communities.services import coordination
    from tests.factories import UserFactory

    coordinator = UserFactory()
    for _round in range(3):
        first = ShiftFactory(capacity=1)
        second = ShiftFactory(
            capacity=1,
            post=first.post,
            starts_at=first.starts_at + timedelta(days=2),
            ends_at=first.ends_at + timedelta(days=2),
        )
        for shift in (first, second):
            signup.shift_sign_up(shift_id=shift.pk, volunteer=VolunteerFactory())
        waiting = [VolunteerFactory() for _ in range(20)]
        for volunteer in waiting:
            signup.shift_sign_up(shift_id=first.pk, volunteer=volunteer)
        for volunteer in reversed(waiting):
            signup.shift_sign_up(shift_id=second.pk, volunteer=volunteer)

        results = run_together(
            [
                lambda s=s: coordination.shift_update(actor=coordinator, shift_id=s.pk, capacity=21, reason="more")
                for s in (first, second)
            ]
        )
        assert [type(r).__name__ for r in results] == ["Shift", "Shift"]
        for shift in (first, second):
            assert_invariants(shift)
            assert (shift.confirmed_count, shift.waitlist_count) == (21, 0)


def test_sign_ups_racing_an_account_deletion_leave_the_deleted_volunteer_no_place():
    """Deletion suspends the volunteer under their lock before it releases their places, so a
    sign-up (the volunteer's own, or a coordinator's with an override) either lands before and is
    released, or comes after and is refused. Releasing first let sign-ups land in between."""
    from datetime import timedelta

    from django.utils import timezone

    from communities.services import privacy
    from tests.factories import UserFactory
    from volunteers.models import Volunteer

    for _round in range(2):
        volunteer = VolunteerFactory()
        first = ShiftFactory(capacity=3)
        shifts = [first] + [
            ShiftFactory(
                capacity=3,
                post=first.post,
                starts_at=first.starts_at + timedelta(days=day),
                ends_at=first.ends_at + timedelta(days=day),
            )
            for day in range(1, 24)
        ]
        for shift in shifts[:8]:  # places held already, to be released
            signup.shift_sign_up(shift_id=shift.pk, volunteer=volunteer)
        coordinator = UserFactory()

        def own(shift, volunteer=volunteer):
            return lambda: signup.shift_sign_up(shift_id=shift.pk, user=volunteer.user)

        def assigned(shift, volunteer=volunteer, coordinator=coordinator):
            return lambda: signup.shift_sign_up(
                shift_id=shift.pk,
                volunteer=volunteer,
                source=Assignment.Source.COORDINATOR,
                actor=coordinator,
                override_reason="needed",
            )

        jobs = [own(s) if i % 2 else assigned(s) for i, s in enumerate(shifts[8:])]
        jobs.insert(len(jobs) // 2, lambda v=volunteer: privacy.volunteer_anonymise(volunteer=v, actor=v.user))
        results = run_together(jobs)

        # A sign-up after the suspension is refused (the volunteer is no longer active); nothing else fails.
        unexpected = [r for r in results if isinstance(r, Exception) and getattr(r, "code", None) != "not_eligible"]
        assert unexpected == []
        assert Volunteer.objects.get(pk=volunteer.pk).anonymised_at is not None
        live = Assignment.objects.filter(
            volunteer=volunteer, status__in=("confirmed", "waitlisted"), shift__starts_at__gt=timezone.now()
        )
        assert list(live.values_list("shift_id", "status")) == []
        for shift in shifts:
            assert_invariants(shift)


# --- Check-in codes cannot be guessed by a burst of requests -----------------------------------


def _wrong_code_burst(assignments, count, now):
    """``count`` wrong codes at once for each of ``assignments``; the refusal codes, counted."""
    from datetime import datetime

    from communities.rules import checkin_codes
    from communities.services import attendance

    assert isinstance(now, datetime)
    step = int(now.timestamp() // 60)
    jobs = []
    for assignment in assignments:
        taken = {checkin_codes.code_for_step(assignment.shift.checkin_secret, s) for s in (step, step - 1)}
        wrong = next(code for code in ("000000", "111111", "222222") if code not in taken)
        jobs += [
            lambda a=assignment, code=wrong: attendance.assignment_check_in(
                assignment_id=a.pk, volunteer=a.volunteer, code=code, now=now
            )
        ] * count
    results = run_together(jobs)
    assert all(isinstance(result, ServiceError) for result in results), results
    counted: dict[str, int] = {}
    for result in results:
        counted[result.code] = counted.get(result.code, 0) + 1
    return counted


def test_a_burst_of_wrong_codes_gets_no_more_than_the_limit_checked():
    from datetime import timedelta

    from django.utils import timezone

    from communities.models import Assignment
    from communities.services import privacy
    from tests.factories import UserFactory
    from volunteers.models import Volunteer

    for _round in range(2):
        volunteer = VolunteerFactory()
        first = ShiftFactory(capacity=3)
        shifts = [first] + [
            ShiftFactory(
                capacity=3,
                post=first.post,
                starts_at=first.starts_at + timedelta(days=day),
                ends_at=first.ends_at + timedelta(days=day),
            )
            for day in range(1, 24)
        ]
        for shift in shifts[:8]:  # places held already, to be released
            signup.shift_sign_up(shift_id=shift.pk, volunteer=volunteer)
        coordinator = UserFactory()

        def own(shift, volunteer=volunteer):
            return lambda: signup.shift_sign_up(shift_id=shift.pk, user=volunteer.user)

        def assigned(shift, volunteer=volunteer, coordinator=coordinator):
            return lambda: signup.shift_sign_up(
                shift_id=shift.pk,
                volunteer=volunteer,
                source=Assignment.Source.COORDINATOR,
                actor=coordinator,
                override_reason="needed",
            )

        def delete(volunteer=volunteer):
            return privacy.volunteer_anonymise(volunteer=volunteer, actor=volunteer.user)

        jobs = [own(s) if i % 2 else assigned(s) for i, s in enumerate(shifts[8:])]
        jobs.insert(len(jobs) // 2, delete)
        results = run_together(jobs)

        unexpected = [
            r for r in results if isinstance(r, Exception) and getattr(r, "code", None) not in ("not_eligible",)
        ]
        assert unexpected == []
        assert Volunteer.objects.get(pk=volunteer.pk).anonymised_at is not None
        live = Assignment.objects.filter(
            volunteer=volunteer, status__in=("confirmed", "waitlisted"), shift__starts_at__gt=timezone.now()
        )
        assert list(live.values_list("shift_id", "status")) == []
        for shift in shifts:
            assert_invariants(shift)
    from communities.models import AuditEntry, CheckinCodeAttempts, Notification

    now = timezone.now()
    now -= timedelta(seconds=now.timestamp() % 60)  # the step's first second
    shift = ShiftFactory(starts_at=now - timedelta(minutes=5), ends_at=now + timedelta(hours=2))
    coordinator = VolunteerFactory().user
    shift.community.coordinators.add(coordinator)
    assignment = Assignment.objects.create(shift=shift, volunteer=VolunteerFactory(), status="confirmed")

    assert _wrong_code_burst([assignment], 30, now) == {"checkin_code_invalid": 5, "checkin_too_many_attempts": 25}
    assignment.refresh_from_db()
    assert CheckinCodeAttempts.objects.values_list("failures", "locked_at").get(assignment=assignment) == (5, None)

    next_step = now + timedelta(minutes=1)
    # The tenth wrong code locks; those queued behind it on the assignment's lock find it locked.
    assert _wrong_code_burst([assignment], 30, next_step) == {"checkin_code_invalid": 4, "checkin_locked": 26}
    assignment.refresh_from_db()
    assert CheckinCodeAttempts.objects.values_list("failures", "locked_at").get(assignment=assignment) == (
        10,
        next_step,
    )
    assert AuditEntry.objects.filter(assignment=assignment, action="checkin_locked").count() == 1
    assert Notification.objects.filter(assignment=assignment, kind="checkin_locked", channel="inapp").count() == 1

    later = now + timedelta(minutes=2)
    assert _wrong_code_burst([assignment], 10, later) == {"checkin_locked": 10}
    assert CheckinCodeAttempts.objects.get(assignment=assignment).failures == 10


def test_a_burst_over_several_assignments_of_one_volunteer_shares_the_step_limit():
    from datetime import timedelta

    from django.utils import timezone

    from communities.models import CheckinCodeAttempts

    now = timezone.now()
    now -= timedelta(seconds=now.timestamp() % 60)
    volunteer = VolunteerFactory()
    # Six assignments (made directly: the sign-up would refuse overlaps), each with its own row
    # lock, so only the volunteer's guard row stands between the guesses.
    shifts = [
        ShiftFactory(starts_at=now - timedelta(minutes=minutes), ends_at=now + timedelta(hours=1))
        for minutes in range(5, 11)
    ]
    assignments = [Assignment.objects.create(shift=shift, volunteer=volunteer, status="confirmed") for shift in shifts]
    assert _wrong_code_burst(assignments, 5, now) == {"checkin_code_invalid": 5, "checkin_too_many_attempts": 25}
    assert (
        sum(CheckinCodeAttempts.objects.filter(assignment__volunteer=volunteer).values_list("failures", flat=True)) == 5
    )


def test_recalls_racing_each_other_and_sign_ups_recall_each_volunteer_once_and_keep_the_invariant():
    from datetime import timedelta

    from django.utils import timezone

    from communities.models import Recall
    from communities.services import coordination
    from tests.factories import CommunityFactory, OrganizationFactory, OrganizationStaffFactory, PostFactory
    from volunteers.selectors import organization_subtree

    organization = OrganizationFactory()
    staff = OrganizationStaffFactory(organization=organization).user
    community = CommunityFactory()
    sent = [VolunteerFactory(organization=organization, status="reserve") for _ in range(4)]
    organizations = organization_subtree(staff)
    dispatch = coordination.dispatch_create(actor=staff, community=community, organizations=organizations, count=4)
    start = timezone.now() + timedelta(days=2)
    shift = ShiftFactory(post=PostFactory(community=community), starts_at=start, ends_at=start + timedelta(hours=4))
    shift.capacity = 3
    shift.save()
    for volunteer in sent[:3]:
        signup.shift_sign_up(shift_id=shift.pk, volunteer=volunteer)
    waiting = [VolunteerFactory() for _ in range(2)]
    for volunteer in waiting:
        signup.shift_sign_up(shift_id=shift.pk, volunteer=volunteer)
    newcomers = [VolunteerFactory() for _ in range(3)]

    def recall(**kwargs):
        return coordination.volunteers_recall(actor=staff, organizations=organizations, **kwargs)

    jobs = [lambda: recall(dispatch_id=dispatch.pk), lambda: recall(dispatch_id=dispatch.pk)]
    jobs += [lambda v=v: recall(volunteer_ids=[v.pk]) for v in sent]
    jobs += [lambda v=v: signup.shift_sign_up(shift_id=shift.pk, volunteer=v) for v in newcomers]
    random.Random(11).shuffle(jobs)
    results = run_together(jobs)

    refused = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(r, ServiceError) and r.code == "nothing_to_recall" for r in refused), refused
    assert sorted(Recall.objects.values_list("volunteer_id", flat=True)) == sorted(v.pk for v in sent)
    assert sum(len(r) for r in results if isinstance(r, list)) == 4
    assert_invariants(shift)
    # The three places the recalled held went down the waitlist, then to newcomers.
    assert shift.confirmed_count == 3
    assert not Assignment.objects.filter(shift=shift, volunteer__in=sent, status__in=("confirmed", "waitlisted"))


# --- A record edit racing a sign-up it would make ineligible ------------------------------------


def test_removing_insurance_racing_sign_ups_for_a_checkpoint_never_leaves_an_uninsured_holder():
    """The edit asks the rules before and after its writes under the volunteer's lock; a sign-up
    takes the same lock. Either the sign-up lands first and the edit is refused (the place listed),
    or the edit lands first and the sign-up is refused as not eligible: never an uninsured volunteer
    holding a place that needs insurance."""
    from datetime import timedelta

    from django.utils import timezone

    from communities.services import records
    from tests.factories import OrganizationFactory, OrganizationStaffFactory, PostFactory, PostTypeFactory
    from volunteers.models import Volunteer

    organization = OrganizationFactory()
    staff = OrganizationStaffFactory(organization=organization).user
    insured_until = timezone.localdate() + timedelta(days=60)
    starts = timezone.now() + timedelta(days=3)
    post = PostFactory(post_type=PostTypeFactory(requires_insurance=True))
    volunteers = [VolunteerFactory(organization=organization, insurance_valid_until=insured_until) for _ in range(6)]
    shifts = [
        ShiftFactory(post=post, starts_at=starts, ends_at=starts + timedelta(hours=4), capacity=1) for _ in volunteers
    ]
    jobs = []
    for volunteer, shift in zip(volunteers, shifts, strict=True):
        jobs.append(lambda v=volunteer, s=shift: signup.shift_sign_up(shift_id=s.pk, volunteer=v, user=v.user))
        jobs.append(
            lambda v=volunteer: records.volunteer_record_update(
                actor=staff, volunteer_id=v.pk, changes={"insurance_valid_until": None}
            )
        )
    results = run_together(jobs)

    for index, (volunteer, shift) in enumerate(zip(volunteers, shifts, strict=True)):
        signed, edited = results[2 * index], results[2 * index + 1]
        insured = Volunteer.objects.get(pk=volunteer.pk).insurance_valid_until
        holding = Assignment.objects.filter(shift=shift, volunteer=volunteer, status="confirmed").exists()
        if holding:
            assert isinstance(edited, ServiceError) and edited.code == "volunteer_has_upcoming_shifts", edited
            assert insured == insured_until
        else:
            assert isinstance(signed, ServiceError) and signed.code == "not_eligible", signed
            assert insured is None
        assert_invariants(shift)
