"""The statistics' rollups: ``OrganizationDayTally`` (kept by the tallies' recount), ``VolunteerCount``
and ``ShiftDayCount`` (kept by database triggers).

After any sequence of changes, through the services or straight through the ORM as the admin and
the imports write, each holds exactly what a count of the base tables gives; the overview and the
organization tree read from them give the figures the base tables give; the nightly recount finds
nothing to fix, and fixes what was broken on purpose.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from unittest import mock

import pytest
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from communities.models import (
    Assignment,
    DailyTally,
    OrganizationDayTally,
    Shift,
    ShiftDayCount,
    VolunteerCount,
)
from communities.selectors import stats
from communities.services import attendance, coordination, privacy, signup, tallies
from config.errors import ServiceError
from tests.communities.services.test_concurrency import run_together
from tests.factories import (
    CommunityFactory,
    DistrictFactory,
    OrganizationFactory,
    PostFactory,
    PostTypeFactory,
    ShiftFactory,
    StreetFactory,
    TeamFactory,
    UserFactory,
    VolunteerFactory,
)
from volunteers import services as volunteer_services
from volunteers.idcard import make_id_number
from volunteers.models import Organization, Volunteer

pytestmark = pytest.mark.django_db


def at(day, hour, minute=0):
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


# --- What the rollups must hold, counted from the base tables in plain Python -------------------


def counted() -> dict:
    volunteers: dict = defaultdict(int)
    for organization_id, status, community_id in Volunteer.objects.values_list(
        "organization_id", "status", "deployed_community_id"
    ):
        volunteers[(organization_id, status, community_id or 0)] += 1
    shifts: dict = defaultdict(lambda: [0, 0, 0, 0])
    for shift in Shift.objects.filter(status=Shift.Status.OPEN):
        row = shifts[(timezone.localtime(shift.starts_at).date(), shift.community_id)]
        row[0] += 1
        row[1] += shift.confirmed_count >= shift.capacity
        row[2] += shift.capacity
        row[3] += shift.confirmed_count
    days: dict = defaultdict(lambda: [0, 0, 0])
    for cell in DailyTally.objects.all():
        row = days[(cell.date, cell.organization_id)]
        row[0] += cell.minutes
        row[1] += cell.completed
        row[2] += cell.no_shows
    return {
        "volunteers": dict(volunteers),
        "shifts": {key: tuple(values) for key, values in shifts.items()},
        "organization_days": {key: tuple(values) for key, values in days.items() if any(values)},
    }


def kept() -> dict:
    return {
        "volunteers": {
            (o, s, c): n
            for o, s, c, n in VolunteerCount.objects.values_list(
                "organization_id", "status", "community_key", "volunteers"
            )
            if n
        },
        "shifts": {
            (d, c): tuple(values)
            for d, c, *values in ShiftDayCount.objects.values_list(
                "date", "community_id", "shifts", "filled", "places", "taken"
            )
            if any(values)
        },
        "organization_days": {
            (d, o): tuple(values)
            for d, o, *values in OrganizationDayTally.objects.values_list(
                "date", "organization_id", "minutes", "completed", "no_shows"
            )
            if any(values)
        },
    }


def from_base_tables(q: stats.StatsQuery, today) -> dict:
    """The overview's and the tree's figures read the long way, from volunteers, shifts and cells."""
    volunteers = stats.scope_volunteers(q)
    people = volunteers.aggregate(
        volunteers=Count("pk"),
        deployed=Count("pk", filter=Q(deployed_community__isnull=False)),
        suspended=Count("pk", filter=Q(status=Volunteer.Status.SUSPENDED)),
        communities=Count("deployed_community_id", distinct=True),
    )
    start, end = stats.day_bounds(today)
    places = (
        stats.scope_shifts(q)
        .filter(starts_at__gte=start, starts_at__lt=end)
        .aggregate(
            shifts=Count("pk"),
            filled=Count("pk", filter=Q(confirmed_count__gte=F("capacity"))),
            places=Sum("capacity"),
            taken=Sum("confirmed_count"),
        )
    )
    monday = stats.week_start(today)
    cells = stats.scope_tallies(q)
    week = stats.scope_tallies(q, dated=False).filter(date__gte=monday, date__lte=today)
    totals = cells.aggregate(m=Sum("minutes"), c=Sum("completed"), n=Sum("no_shows"))
    this_week = week.aggregate(m=Sum("minutes"), n=Sum("no_shows"))
    by_organization = {
        row["organization_id"]: (row["n"], row["d"])
        for row in volunteers.order_by()
        .values("organization_id")
        .annotate(n=Count("pk"), d=Count("pk", filter=Q(deployed_community__isnull=False)))
    }
    minutes_by_organization = {
        row["organization_id"]: (row["m"], row["c"], row["n"])
        for row in cells.order_by()
        .values("organization_id")
        .annotate(m=Sum("minutes"), c=Sum("completed"), n=Sum("no_shows"))
        if any((row["m"], row["c"], row["n"]))
    }
    return {
        "people": (people["volunteers"], people["deployed"], people["suspended"], people["communities"]),
        "places": (places["shifts"], places["filled"], places["places"] or 0, places["taken"] or 0),
        "tallied": (totals["m"] or 0, totals["c"] or 0, totals["n"] or 0, this_week["m"] or 0, this_week["n"] or 0),
        "organizations": (by_organization, minutes_by_organization),
    }


def from_selectors(q: stats.StatsQuery, today) -> dict:
    o = stats.stats_overview(q, today=today)
    rows = stats.stats_organizations(q)
    ids = {row["id"] for row in rows}
    # The tree sums subtrees; take each organization's own share back out of it.
    own_people, own_minutes = {}, {}
    for row in rows:
        children = [child for child in rows if child["parent"] == row["id"]]
        people = (
            row["volunteers"] - sum(c["volunteers"] for c in children),
            row["deployed"] - sum(c["deployed"] for c in children),
        )
        figures = tuple(row[k] - sum(c[k] for c in children) for k in ("minutes", "completed", "no_shows"))
        if any(people):
            own_people[row["id"]] = people
        if any(figures):
            own_minutes[row["id"]] = figures
    assert ids >= set(own_people)
    return {
        "people": (o["volunteers"], o["deployed"], o["suspended"], o["communities_covered"]),
        "places": (o["shifts_today"], o["shifts_today_filled"], o["places_today"], o["places_today_taken"]),
        "tallied": (o["minutes"], o["completed"], o["no_shows"], o["week_minutes"], o["week_no_shows"]),
        "organizations": (own_people, own_minutes),
    }


# --- A small city and a random day in it ---------------------------------------------------------


def test_rollups_equal_a_full_count_after_random_changes(django_capture_on_commit_callbacks):
    rng = random.Random(7)
    today = timezone.localdate()
    coordinator = UserFactory(username="coord", is_superuser=True, is_staff=True)
    root = OrganizationFactory(kind=Organization.Kind.COMMITTEE)
    a = OrganizationFactory(parent=root)
    a1 = OrganizationFactory(parent=a, kind=Organization.Kind.BRANCH)
    b = OrganizationFactory(parent=root)
    organizations = [a, a1, b]
    districts = [DistrictFactory(code="D1"), DistrictFactory(code="D2")]
    communities = [CommunityFactory(street=StreetFactory(district=districts[i % 2])) for i in range(3)]
    post_types = [PostTypeFactory(), PostTypeFactory()]
    posts = [PostFactory(community=c, post_type=t) for c in communities for t in post_types]
    teams = [TeamFactory(organization=a), TeamFactory(organization=b)]
    volunteers = [
        VolunteerFactory(
            organization=organizations[i % 3],
            team=teams[i % 2] if i % 3 != 1 and i % 4 else None,
            status=Volunteer.Status.RESERVE if i % 5 == 0 else Volunteer.Status.ACTIVE,
            deployed_community=None if i % 5 == 0 else communities[i % 3],
        )
        for i in range(14)
    ]
    # Shifts from two days ago to two days ahead, some close to midnight on either side.
    shifts = []
    for offset in range(-2, 3):
        day = today + timedelta(days=offset)
        for post in posts:
            for hour, minute in rng.sample([(0, 15), (7, 0), (12, 0), (18, 0), (23, 45)], 2):
                start = at(day, hour, minute)
                shifts.append(
                    ShiftFactory(
                        post=post, starts_at=start, ends_at=start + timedelta(hours=2), capacity=rng.randint(1, 3)
                    )
                )
    registered = [0]

    def live(*statuses):
        return list(Assignment.objects.filter(status__in=statuses).select_related("shift"))

    def sign_up():
        shift, volunteer = rng.choice(shifts), rng.choice(volunteers)
        shift.refresh_from_db()
        signup.shift_sign_up(shift_id=shift.pk, volunteer=volunteer, now=shift.starts_at - timedelta(days=3))

    def cancel():
        candidates = live("confirmed", "waitlisted")
        if candidates:
            assignment = rng.choice(candidates)
            signup.assignment_cancel(
                assignment_id=assignment.pk, enforce_cutoff=False, now=assignment.shift.starts_at - timedelta(days=3)
            )

    def attend():
        candidates = [a for a in live("confirmed") if a.shift.starts_at < timezone.now()]
        if not candidates:
            return
        assignment = rng.choice(candidates)
        if rng.random() < 0.25:
            attendance.assignment_mark_no_show(
                assignment_id=assignment.pk, actor=coordinator, reason="r", now=assignment.shift.ends_at
            )
            return
        start = assignment.shift.starts_at
        attendance.assignment_check_in_manual(assignment_id=assignment.pk, actor=coordinator, reason="r", at=start)
        attendance.assignment_check_out_manual(
            assignment_id=assignment.pk,
            actor=coordinator,
            reason="r",
            at=start + timedelta(minutes=rng.randint(30, 120)),
        )
        if rng.random() < 0.7:
            attendance.hours_approve(assignment_id=assignment.pk, actor=coordinator)
        if rng.random() < 0.2:
            attendance.hours_adjust(
                assignment_id=assignment.pk, actor=coordinator, credited_minutes=rng.randint(0, 120), reason="r"
            )

    def capacity():
        shift = rng.choice(shifts)
        signup.shift_capacity_set(
            shift_id=shift.pk, capacity=rng.randint(1, 4), now=shift.starts_at - timedelta(days=3)
        )

    def move_shift():
        # Not a shift already worked: moving one leaves its cells on the old day until the
        # nightly recount (the cells' rule, which this test is not about).
        worked = Assignment.objects.filter(status__in=("completed", "no_show")).values("shift_id")
        candidates = sorted(Shift.objects.exclude(pk__in=worked).values_list("pk", flat=True))
        shift = Shift.objects.get(pk=rng.choice(candidates))
        start = shift.starts_at + timedelta(hours=rng.choice([-20, -3, 2, 25]))
        coordination.shift_update(
            actor=coordinator,
            shift_id=shift.pk,
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            reason="r",
            now=start - timedelta(days=3),
        )

    def cancel_shift():
        shift = rng.choice(shifts)
        coordination.shift_cancel(
            actor=coordinator, shift_id=shift.pk, reason="r", now=shift.starts_at - timedelta(days=3)
        )

    def new_shift():
        start = at(today + timedelta(days=rng.randint(-1, 1)), rng.randint(0, 23))
        shifts.append(ShiftFactory(post=rng.choice(posts), starts_at=start, ends_at=start + timedelta(hours=3)))

    def delete_shift():
        empty = [s for s in shifts if not s.assignments.exists()]
        if empty:
            shift = rng.choice(empty)
            shifts.remove(shift)
            shift.delete()

    def bulk_capacity():
        Shift.objects.filter(community=rng.choice(communities)).update(capacity=F("capacity") + 1)

    def dispatch():
        coordination.dispatch_create(
            actor=coordinator, community=rng.choice(communities), organizations=Organization.objects.all(), count=1
        )

    def admin_edit():
        volunteer = Volunteer.objects.get(pk=rng.choice(volunteers).pk)
        choice = rng.random()
        if choice < 0.35:
            volunteer.status, volunteer.deployed_community = Volunteer.Status.RESERVE, None
        elif choice < 0.7:
            volunteer.status = Volunteer.Status.SUSPENDED
        else:
            volunteer.status, volunteer.deployed_community = Volunteer.Status.ACTIVE, rng.choice(communities)
        volunteer.save()

    def move_organization():
        # Only volunteers without shifts: the cells of a volunteer who moves keep their old
        # organization until the nightly recount (a property of the cells, not of the rollups).
        idle = sorted(
            Volunteer.objects.filter(pk__in=[v.pk for v in volunteers], assignments__isnull=True).values_list(
                "pk", flat=True
            )
        )
        if not idle:
            return
        volunteer = Volunteer.objects.get(pk=rng.choice(idle))
        if rng.random() < 0.5:
            Volunteer.objects.filter(pk=volunteer.pk).update(organization=rng.choice(organizations))
        else:
            volunteer.organization, volunteer.team = rng.choice(organizations), None
            volunteer.save()

    def register():
        registered[0] += 1
        volunteers.append(
            volunteer_services.volunteer_create(
                real_name=f"新人{registered[0]}",
                mobile=f"1370000{registered[0]:04d}",
                id_number=make_id_number("110101", date(1990, 1, 1), 900 + registered[0]),
                organization=rng.choice(organizations),
            )
        )

    def anonymise():
        volunteer = rng.choice(volunteers)
        privacy.volunteer_anonymise(volunteer=volunteer, actor=coordinator)

    def delete_volunteer():
        idle = [v for v in volunteers if not v.assignments.exists() and not v.dispatches.exists()]
        if idle:
            volunteer = rng.choice(idle)
            volunteers.remove(volunteer)
            volunteer.user.delete()

    steps = [
        (sign_up, 30),
        (cancel, 8),
        (attend, 20),
        (capacity, 4),
        (move_shift, 4),
        (cancel_shift, 2),
        (new_shift, 3),
        (delete_shift, 2),
        (bulk_capacity, 2),
        (dispatch, 3),
        (admin_edit, 5),
        (move_organization, 2),
        (register, 3),
        (anonymise, 1),
        (delete_volunteer, 2),
    ]
    actions, weights = zip(*steps, strict=True)
    done = defaultdict(int)
    for _ in range(250):
        action = rng.choices(actions, weights)[0]
        # Each action as a committed transaction: its after-commit work (the tally recounts) runs
        # once it is over, and a refused action's is dropped with its rollback.
        with django_capture_on_commit_callbacks(execute=True):
            try:
                action()
                done[action.__name__] += 1
            except ServiceError:
                pass
        assert kept() == counted(), f"after {action.__name__}"
    assert all(done[action.__name__] for action in actions), dict(done)
    assert kept()["organization_days"], "no credited time: the sequence proves nothing about the rollup"

    queries = [
        stats.StatsQuery(),
        stats.StatsQuery(paths=(a.path,)),
        stats.StatsQuery(paths=(b.path,)),
        stats.StatsQuery(district_id=districts[0].pk),
        stats.StatsQuery(date_from=today - timedelta(days=1), date_to=today),
        stats.StatsQuery(paths=(a.path,), date_from=today, district_id=districts[1].pk),
    ]
    for q in queries:
        assert from_selectors(q, today) == from_base_tables(q, today), q

    before = kept()
    assert tallies.tallies_recount_all() == {"volunteers_fixed": 0, "cells_fixed": 0}
    assert kept() == before


def test_recount_repairs_broken_rollups_and_counts():
    today = timezone.localdate()
    volunteer = VolunteerFactory(deployed_community=CommunityFactory())
    shift = ShiftFactory(starts_at=at(today, 9), ends_at=at(today, 11), capacity=2)
    Assignment.objects.create(
        shift=shift, volunteer=volunteer, status="completed", credited_minutes=120, hours_status="approved"
    )
    Shift.objects.filter(pk=shift.pk).update(confirmed_count=1)
    tallies.tallies_recount_all()
    right = kept()
    assert right["shifts"] == {(today, shift.community_id): (1, 0, 2, 1)}
    assert right["organization_days"] == {(today, volunteer.organization_id): (120, 1, 0)}

    OrganizationDayTally.objects.update(minutes=7)
    VolunteerCount.objects.all().delete()
    ShiftDayCount.objects.update(taken=5)
    ShiftDayCount.objects.create(date=today, community=CommunityFactory(), shifts=3)
    assert tallies.tallies_recount_all() == {
        "volunteers_fixed": 0,
        "cells_fixed": 0,
        "organization_days_fixed": 1,
        "volunteer_counts_fixed": 1,
        "shift_counts_fixed": 2,
    }
    assert kept() == right == counted()
    assert tallies.tallies_recount_all() == {"volunteers_fixed": 0, "cells_fixed": 0}


def test_recount_repairs_more_keys_than_one_batch():
    post = PostFactory()
    first = timezone.localdate()
    for offset in range(tallies.REPAIR_BATCH * 2 + 50):
        start = at(first + timedelta(days=offset), 9)
        ShiftFactory(post=post, starts_at=start, ends_at=start + timedelta(hours=2))
    right = kept()
    ShiftDayCount.objects.all().delete()
    assert tallies.tallies_recount_all() == {
        "volunteers_fixed": 0,
        "cells_fixed": 0,
        "shift_counts_fixed": tallies.REPAIR_BATCH * 2 + 50,
    }
    assert kept() == right == counted()


def test_a_day_is_the_local_day():
    """A shift at 00:15 local time counts on its own day, though in UTC it started the day before."""
    today = timezone.localdate()
    early = ShiftFactory(starts_at=at(today, 0, 15), ends_at=at(today, 2))
    late = ShiftFactory(post=early.post, starts_at=at(today, 23, 45), ends_at=at(today + timedelta(days=1), 1))
    assert kept()["shifts"] == {(today, early.community_id): (2, 0, 10, 0)}
    Shift.objects.filter(pk=late.pk).update(starts_at=at(today + timedelta(days=1), 0, 5))
    assert kept()["shifts"] == {
        (today, early.community_id): (1, 0, 5, 0),
        (today + timedelta(days=1), early.community_id): (1, 0, 5, 0),
    }


# --- Concurrent writers --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_concurrent_recounts_of_one_organization_and_day_lose_nothing():
    """Eight recounts of eight cells of one organization and day at once: each sums the cells only
    once it holds the rollup's row, so the last one to commit has seen all the others."""
    today = timezone.localdate()
    organization = OrganizationFactory()
    pending = []
    for minutes in range(30, 270, 30):
        shift = ShiftFactory(starts_at=at(today, 6), ends_at=at(today, 11))  # its own community: its own cell
        volunteer = VolunteerFactory(organization=organization)
        pending.append(
            Assignment.objects.create(
                shift=shift,
                volunteer=volunteer,
                status="completed",
                credited_minutes=minutes,
                hours_status="approved",
                tally_pending=True,
            ).pk
        )
    results = run_together([lambda pk=pk: tallies.tally_assignment(pk) for pk in pending])
    assert results == [True] * len(pending)
    assert DailyTally.objects.filter(organization=organization).count() == len(pending)
    row = OrganizationDayTally.objects.get(date=today, organization=organization)
    assert (row.minutes, row.completed, row.no_shows) == (sum(range(30, 270, 30)), len(pending), 0)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_concurrent_signups_and_cancels_keep_the_day_count_exact():
    """Sign-ups and cancellations on four shifts of one community and day, all at once."""
    today = timezone.localdate() + timedelta(days=2)
    post = PostFactory()
    shifts = [
        ShiftFactory(post=post, starts_at=at(today, 8 + 2 * i), ends_at=at(today, 9 + 2 * i), capacity=3)
        for i in range(4)
    ]
    volunteers = [VolunteerFactory() for _ in range(16)]
    placed = [signup.shift_sign_up(shift_id=shifts[i % 4].pk, volunteer=volunteers[i]) for i in range(4)]
    jobs = [
        lambda s=shifts[i % 4], v=volunteers[i]: signup.shift_sign_up(shift_id=s.pk, volunteer=v) for i in range(4, 16)
    ] + [lambda a=a: signup.assignment_cancel(assignment_id=a.pk) for a in placed]
    results = run_together(jobs)
    assert [r for r in results if isinstance(r, Exception)] == []
    expected = counted()["shifts"]
    assert kept()["shifts"] == expected
    assert expected[(today, post.community_id)][0] == 4


def test_every_counter_trigger_is_in_place_after_all_migrations():
    """The counts depend on them: a migration that dropped one would go unnoticed otherwise."""
    from django.db import connection

    expected = {
        f"{name}_{event}"
        for name in ("stats_shift_day_count", "stats_volunteer_count")
        for event in ("insert", "update", "delete")
    }
    with connection.cursor() as cursor:
        cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
        found = {row[0] for row in cursor.fetchall()}
    assert expected <= found


@pytest.mark.parametrize(
    "clock",
    [
        # The walk above reads the clock (only shifts already started are attended; the rollup
        # of check-ins covers the last 36 hours), so it also runs at fixed moments. At 18:54 in
        # Shanghai it cancelled a place whose holder was checked in and left the live board one
        # too many until the places cancelled at the post were taken off the count.
        datetime(2026, 12, 7, 10, 54, 30, tzinfo=UTC),
        datetime(2026, 12, 7, 15, 50, tzinfo=UTC),  # ten to midnight in Shanghai
        datetime(2026, 12, 7, 0, 5, tzinfo=UTC),
    ],
    ids=["18:54", "23:50", "08:05"],
)
def test_rollups_equal_a_full_count_after_random_changes_at_a_fixed_clock(django_capture_on_commit_callbacks, clock):
    with mock.patch("django.utils.timezone.now", return_value=clock):
        test_rollups_equal_a_full_count_after_random_changes(django_capture_on_commit_callbacks)
