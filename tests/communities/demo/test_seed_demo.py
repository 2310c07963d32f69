"""seed_demo: the 2022 figures exactly, every programme rule kept, built once and only on an empty database.

The demo is built once for the module (a few seconds) inside a transaction that is rolled back
at the end; each test runs in a savepoint within it. Tests that need an empty database empty it
inside a further savepoint and roll that back.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from io import StringIO
from itertools import pairwise

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.db.models import Count, F, Max, Q
from django.utils import timezone

from communities.demo import DEMO_LOGINS, DEMO_PASSWORD, data
from communities.demo.people import volunteer_numbers
from communities.models import Assignment, Community, Post, PostType, Shift
from communities.rules import hours
from communities.rules.eligibility import HOLDER, rule_parameters
from volunteers import crypto
from volunteers.idcard import MOBILE_RE, id_birth_date, id_gender, id_number_error, mask_id_number
from volunteers.login_codes import user_for_mobile
from volunteers.models import Organization, OrganizationStaff, Team, Volunteer

Status = Assignment.Status
PLACE_STATUSES = (Status.CONFIRMED, Status.COMPLETED, Status.NO_SHOW)

# The demo is built once per module and worker; under xdist, --dist loadgroup keeps these together.
pytestmark = [pytest.mark.django_db, pytest.mark.xdist_group("seed_demo")]


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        out = StringIO()
        seeded_at = timezone.now()
        call_command("seed_demo", stdout=out)
        # Check the deferred foreign keys once here: PostgreSQL would otherwise re-check the whole
        # demo at every test's teardown, since rolling back a savepoint re-queues those checks.
        connection.check_constraints()
        yield {"output": out.getvalue(), "seeded_at": seeded_at}
        transaction.set_rollback(True)


def table_counts() -> dict[str, int]:
    models = apps.get_app_config("volunteers").get_models(include_auto_created=True)
    models = [*models, *apps.get_app_config("communities").get_models(include_auto_created=True), get_user_model()]
    return {model._meta.db_table: model.objects.count() for model in models}


@contextmanager
def empty_database():
    """Every volunteer, community and user row gone, until the block ends."""
    user_model = get_user_model()
    models = [
        *apps.get_app_config("volunteers").get_models(include_auto_created=True),
        *apps.get_app_config("communities").get_models(include_auto_created=True),
        user_model,
        *(field.remote_field.through for field in user_model._meta.many_to_many),
    ]
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Foreign keys are deferred (Django declares them so), and every referencing table is emptied too.
            for model in models:
                cursor.execute(f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)}")  # noqa: S608
        yield
        transaction.set_rollback(True)


# --- The figures ----------------------------------------------------------------------------


def test_builds_the_2022_figures_exactly(seeded):
    assert Volunteer.objects.count() == 3297
    assert Community.objects.count() == 422
    deployed = Volunteer.objects.filter(status=Volunteer.Status.ACTIVE, deployed_community__isnull=False)
    assert deployed.count() == 1758
    assert Volunteer.objects.filter(deployed_community__isnull=False).count() == 1758
    assert Volunteer.objects.filter(status=Volunteer.Status.ACTIVE).count() == 1758
    assert not Volunteer.objects.filter(deployed_community__isnull=True).exclude(status__in=["reserve", "suspended"])
    assert 0 < Volunteer.objects.filter(status=Volunteer.Status.SUSPENDED).count() < 50
    # Spread over every community, about four each.
    per_community = Counter(deployed.values_list("deployed_community_id", flat=True))
    assert len(per_community) == 422
    assert set(per_community.values()) <= {4, 5}
    assert "Demo loaded" in seeded["output"]
    assert "volunteers 3,297/3,297" in seeded["output"]


def test_organizations_teams_and_places_look_like_suzhou(seeded):
    committee = Organization.objects.get(code="SZJR")
    assert (committee.name, committee.kind, committee.depth, committee.path) == (
        "苏州金融团工委",
        "committee",
        0,
        f"/{committee.pk:010d}/",
    )
    institutions = Organization.objects.filter(kind="institution")
    assert institutions.count() == len(data.INSTITUTIONS)
    assert institutions.filter(parent=committee, depth=1).count() == institutions.count()
    assert {1, 2, 3} >= set(institutions.annotate(n=Count("children")).values_list("n", flat=True))
    for org in Organization.objects.select_related("parent").exclude(parent=None):
        assert (org.path, org.depth) == (f"{org.parent.path}{org.pk:010d}/", org.parent.depth + 1)

    teams = Team.objects.annotate(size=Count("members"))
    sizes = list(teams.values_list("size", flat=True))
    assert all(15 <= size <= 35 for size in sizes)
    assert 23 <= sum(sizes) / len(sizes) <= 27
    assert not Volunteer.objects.filter(team__isnull=True).exists()
    for team in teams.select_related("leader"):
        assert team.leader.team_id == team.pk

    located = Community.objects.filter(latitude__isnull=False)
    assert 0.25 <= located.count() / 422 <= 0.42
    assert not located.exclude(
        latitude__range=data.LATITUDE_RANGE, longitude__range=data.LONGITUDE_RANGE, geofence_radius_m=300
    )
    assert all(name.endswith("社区") for name in Community.objects.values_list("name", flat=True))
    posts = Counter(Post.objects.values_list("community_id", flat=True))
    assert set(posts.values()) <= {2, 3}
    checkpoint = PostType.objects.get(code="checkpoint")
    assert (checkpoint.name, checkpoint.requires_insurance, checkpoint.min_age) == ("封控点执勤管理", True, 18)
    psych = PostType.objects.get(code="psych-support")
    assert list(psych.required_qualifications.values_list("code", flat=True)) == ["psych-counselling"]
    assert PostType.objects.get(code="publicity").min_age == 16


# --- Shifts and assignments -----------------------------------------------------------------


def test_about_33_000_assignments_over_two_weeks(seeded):
    assert 30_000 <= Assignment.objects.count() <= 36_000
    today = timezone.localdate()
    first, last = Shift.objects.order_by("starts_at").first(), Shift.objects.order_by("starts_at").last()
    assert timezone.localtime(first.starts_at).date() == today - timedelta(days=7)
    assert timezone.localtime(last.starts_at).date() == today + timedelta(days=7)
    assert not Shift.objects.exclude(community_id=F("post__community_id"))
    checkpoint = Shift.objects.filter(
        post__post_type__code="checkpoint", starts_at__lt=first.starts_at + timedelta(days=1)
    )
    local = [(timezone.localtime(s.starts_at), timezone.localtime(s.ends_at)) for s in checkpoint]
    assert {start.hour for start, _end in local} == {8, 13, 18, 22}
    assert all(end.date() > start.date() and end.hour == 2 for start, end in local if start.hour == 22)
    assert {s.capacity for s in checkpoint} == {2, 3, 4}
    sources = Counter(Assignment.objects.values_list("source", flat=True))
    assert set(sources) == {"dispatch", "self"}


def test_shift_counters_equal_their_assignments(seeded):
    shifts = Shift.objects.annotate(
        places=Count("assignments", filter=Q(assignments__status__in=PLACE_STATUSES)),
        waiting=Count("assignments", filter=Q(assignments__status=Status.WAITLISTED)),
        last_ticket=Max("assignments__waitlist_order", filter=Q(assignments__status=Status.WAITLISTED)),
    )
    assert not shifts.exclude(confirmed_count=F("places"))
    assert not shifts.exclude(waitlist_count=F("waiting"))
    assert not shifts.filter(waiting__gt=0).exclude(waitlist_seq=F("last_ticket"))
    assert not shifts.filter(waiting=0).exclude(waitlist_seq=0)
    waitlisted = shifts.filter(waiting__gt=0)
    assert waitlisted.count() >= 50
    assert not waitlisted.exclude(confirmed_count=F("capacity"))
    assert not waitlisted.filter(starts_at__lte=seeded["seeded_at"])
    tickets = defaultdict(list)
    for shift_id, order in Assignment.objects.filter(status=Status.WAITLISTED).values_list(
        "shift_id", "waitlist_order"
    ):
        tickets[shift_id].append(order)
    assert all(sorted(orders) == list(range(1, len(orders) + 1)) for orders in tickets.values())


def _minutes_per_day(start: datetime, end: datetime) -> dict[date, int]:
    result: dict[date, int] = defaultdict(int)
    cursor = timezone.localtime(start)
    while cursor < end:
        midnight = timezone.make_aware(datetime.combine(cursor.date() + timedelta(days=1), time.min))
        piece = min(end, midnight)
        result[cursor.date()] += int((piece - cursor).total_seconds() // 60)
        cursor = piece
    return result


def test_no_volunteer_overlaps_works_without_rest_or_too_long(seeded):
    rest = timedelta(hours=settings.RULES["MIN_REST_HOURS"])
    limit = settings.RULES["MAX_HOURS_PER_DAY"] * 60
    by_volunteer = defaultdict(list)
    rows = Assignment.objects.filter(status__in=(Status.CONFIRMED, Status.COMPLETED)).values_list(
        "volunteer_id", "shift__starts_at", "shift__ends_at"
    )
    for volunteer_id, start, end in rows:
        by_volunteer[volunteer_id].append((start, end))
    assert len(by_volunteer) > 1700
    for shifts in by_volunteer.values():
        shifts.sort()
        for (_start, previous_end), (start, _end) in pairwise(shifts):
            assert start >= previous_end + rest
        minutes = defaultdict(int)
        for start, end in shifts:
            for day, value in _minutes_per_day(start, end).items():
                minutes[day] += value
        assert max(minutes.values()) <= limit


def test_every_assignment_is_eligible_and_in_the_volunteers_own_community(seeded):
    deployed = dict(
        Volunteer.objects.filter(deployed_community__isnull=False).values_list("pk", "deployed_community_id")
    )
    assignments = Assignment.objects.exclude(status=Status.CANCELLED).values_list("volunteer_id", "shift__community_id")
    checked = 0
    for volunteer_id, community_id in assignments.iterator(chunk_size=5000):
        assert deployed[volunteer_id] == community_id
        checked += 1
    assert checked > 30_000
    # The rules themselves (communities_sign_up_refusal, docs/rules.md), asked of every place as
    # of its holder: eligibility on the shift's day, and for a confirmed or worked place the
    # schedule (overlap, rest, daily limit) against the volunteer's other places.
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT a.id, a.status, r.code, r.d_reason
                 FROM communities_assignment a,
                      communities_sign_up_refusal(a.shift_id, a.volunteer_id, %s, %s, %s, %s, %s, %s, %s) r
                WHERE a.status <> 'cancelled' AND r.code IS NOT NULL
                  AND (a.status <> 'waitlisted' OR r.code = 'not_eligible')""",
            [timezone.now(), *rule_parameters(), HOLDER],
        )
        assert cursor.fetchall() == []


def test_attendance_and_hours_follow_the_rules(seeded):
    seeded_at = seeded["seeded_at"]
    past = Assignment.objects.filter(shift__ends_at__lte=seeded_at).exclude(status=Status.CANCELLED)
    assert set(past.values_list("status", flat=True)) == {Status.COMPLETED, Status.NO_SHOW}
    no_shows = past.filter(status=Status.NO_SHOW)
    assert 0.01 <= no_shows.count() / past.count() <= 0.06
    assert not no_shows.exclude(checked_in_at=None)
    assert not no_shows.filter(no_show_at=None)

    completed = Assignment.objects.filter(status=Status.COMPLETED).select_related("shift")
    late = early = 0
    for a in completed:
        shift = a.shift
        assert a.checked_in_at <= a.checked_out_at
        assert a.credited_minutes == hours.credited_minutes(
            a.checked_in_at, a.checked_out_at, shift.starts_at, shift.ends_at
        )
        assert a.credited_minutes <= shift.duration_minutes
        assert (a.hours_status == "approved") == (a.verified_at is not None) == (a.verified_by_id is not None)
        late += a.checked_in_at > shift.starts_at + timedelta(minutes=15)
        early += a.checked_out_at < shift.ends_at - timedelta(minutes=15)
    assert late > 0 and early > 0
    approved = completed.filter(hours_status="approved").count()
    assert approved / completed.count() > 0.8
    assert not Assignment.objects.filter(shift__starts_at__gt=seeded_at).exclude(
        status__in=(Status.CONFIRMED, Status.WAITLISTED, Status.CANCELLED)
    )
    assert not Assignment.objects.filter(status=Status.CANCELLED, cancelled_at=None)


# --- People ---------------------------------------------------------------------------------


def test_people_have_valid_encrypted_ids_and_unique_numbers(seeded):
    sample = list(Volunteer.objects.order_by("pk")[::17])
    assert len(sample) > 150
    for volunteer in sample:
        id_number = volunteer.id_number
        assert id_number_error(id_number) is None
        assert id_number not in volunteer.id_number_encrypted
        assert volunteer.id_number_hash == crypto.blind_index(id_number)
        assert volunteer.id_number_masked == mask_id_number(id_number)
        assert (id_birth_date(id_number), id_gender(id_number)) == (volunteer.birth_date, volunteer.gender)
        assert id_number[:4] == "3205"
    numbers = list(Volunteer.objects.values_list("volunteer_number", flat=True))
    pattern = re.compile(rf"^{settings.VOLUNTEER_NUMBER_PREFIX}\d{{10}}$")
    assert all(pattern.match(n) for n in numbers) and len(set(numbers)) == 3297
    mobiles = list(Volunteer.objects.values_list("mobile", flat=True))
    assert all(MOBILE_RE.match(m) for m in mobiles) and len(set(mobiles)) == 3297
    assert set(Volunteer.objects.values_list("user__username", flat=True)) == set(mobiles)
    assert not Volunteer.objects.exclude(user__first_name=F("real_name"))

    today = timezone.localdate()
    minors = [v for v in Volunteer.objects.all() if v.age_on(today) < 18]
    assert minors and all(v.guardian_consent and v.age_on(today) >= 16 for v in minors)
    ages = [v.age_on(today) for v in Volunteer.objects.only("birth_date")]
    assert sum(22 <= age <= 40 for age in ages) / len(ages) > 0.8
    insured = Volunteer.objects.filter(insurance_valid_until__gte=today).count()
    assert 0.75 < insured / 3297 < 0.98


def test_demo_logins_work_and_play_their_roles(seeded):
    for _role, username, mobile, _what in DEMO_LOGINS:
        user = authenticate(username=username, password=DEMO_PASSWORD)
        assert user is not None, username
        if mobile:  # the same account logs in by texted code to this number
            assert user_for_mobile(mobile) == user, username
    user_model = get_user_model()
    assert user_model.objects.values("password").distinct().count() == 1
    assert user_model.objects.get(username="admin").is_superuser

    staff = OrganizationStaff.objects.get(user__username="tuanwei")
    assert staff.organization.code == "SZJR" and staff.organization.depth == 0

    volunteer = Volunteer.objects.select_related("team__leader").get(mobile="13800000001")
    leader = Volunteer.objects.get(mobile="13800000002")
    assert volunteer.status == leader.status == Volunteer.Status.ACTIVE
    assert volunteer.team.leader == leader and leader.team_id == volunteer.team_id
    assert leader.deployed_community_id is not None
    coordinated = Community.objects.filter(coordinators__username="coordinator")
    assert volunteer.deployed_community in coordinated and 3 <= coordinated.count() <= 10
    upcoming = Assignment.objects.filter(
        volunteer=volunteer, status=Status.CONFIRMED, shift__starts_at__gt=seeded["seeded_at"]
    )
    assert upcoming.count() >= 5
    # Every community has its own coordinator account as well.
    assert not Community.objects.annotate(n=Count("coordinators")).filter(n=0)
    assert user_model.objects.filter(username__startswith="coord-").count() == 422


# --- Running it again -----------------------------------------------------------------------


def test_running_again_changes_nothing(seeded):
    before = table_counts()
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "already loaded" in out.getvalue()
    assert table_counts() == before


@pytest.mark.parametrize("options", [{"scale": 2}, {"seed": 7}])
def test_a_different_demo_over_this_one_is_refused(seeded, options):
    before = table_counts()
    with pytest.raises(CommandError, match="another --seed or --scale"):
        call_command("seed_demo", **options)
    assert table_counts() == before


def test_same_seed_gives_the_same_volunteers(seeded):
    first = list(Volunteer.objects.order_by("user_id").values_list("volunteer_number", "mobile", "real_name"))
    assert [number for number, _m, _n in first] == volunteer_numbers(2022, 3297)
    with empty_database():
        call_command("seed_demo", "--seed", "2022", "--scale", "0.1", stdout=StringIO())
        again = list(Volunteer.objects.order_by("user_id").values_list("volunteer_number", "mobile", "real_name"))
        assert len(again) == 330
        assert again == first[:330]
    with empty_database():
        call_command("seed_demo", "--seed", "7", "--scale", "0.1", stdout=StringIO())
        other = set(Volunteer.objects.values_list("volunteer_number", flat=True))
        assert not other & {number for number, _m, _n in first}


def test_a_database_with_other_data_is_refused_and_left_alone():
    with empty_database():
        Organization.objects.create(name="某银行", code="OTHER", kind="institution")
        before = table_counts()
        with pytest.raises(CommandError, match="not the demo"):
            call_command("seed_demo", "--scale", "0.1")
        assert table_counts() == before
    with empty_database():
        get_user_model().objects.create_user(username="admin", password="x")
        before = table_counts()
        with pytest.raises(CommandError, match="already exist"):
            call_command("seed_demo", "--scale", "0.1")
        assert table_counts() == before


@pytest.mark.parametrize("scale", ["0", "-1", "101"])
def test_an_impossible_scale_is_refused(scale):
    with pytest.raises(CommandError, match="--scale"):
        call_command("seed_demo", "--scale", scale)
