"""Statistics API: exact figures on a small world, scope, filters, query counts, and the demo's totals agreeing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from rest_framework.authtoken.models import Token

from communities.models import Assignment, Shift
from communities.selectors import stats
from communities.services import tallies
from tests.factories import (
    CommunityFactory,
    DistrictFactory,
    OrganizationFactory,
    OrganizationStaffFactory,
    PostFactory,
    PostTypeFactory,
    ShiftFactory,
    StreetFactory,
    TeamFactory,
    UserFactory,
    VolunteerFactory,
)
from volunteers.models import Organization, Volunteer, VolunteerTally

pytestmark = pytest.mark.django_db


def at(day, hour, minute=0):
    return timezone.make_aware(datetime.combine(day, time(hour, minute)))


@dataclass
class World:
    root: Organization
    a: Organization
    a1: Organization
    b: Organization
    staff_root: object
    staff_a: object
    staff_b: object
    outsider: object
    district1: object
    district2: object
    c1: object
    c2: object
    pt1: object
    pt2: object
    team: object
    va1: Volunteer
    va2: Volunteer
    va3: Volunteer
    vb1: Volunteer
    vb2: Volunteer
    today: object
    yesterday: object


def place(shift, volunteer, status, *, minutes=None, approved=True, checked_in=None):
    return Assignment.objects.create(
        shift=shift,
        volunteer=volunteer,
        status=status,
        credited_minutes=minutes,
        hours_status=(
            Assignment.HoursStatus.NONE
            if minutes is None
            else Assignment.HoursStatus.APPROVED
            if approved
            else Assignment.HoursStatus.PENDING
        ),
        checked_in_at=checked_in,
        checked_out_at=(checked_in + timedelta(minutes=minutes)) if checked_in and minutes else None,
    )


@pytest.fixture
def world() -> World:
    """Committee R → institution A → branch A1, and institution B; two districts; five volunteers.

    Credited and approved: va1 240 min yesterday at C1 (duty 1), va2 120 min today at C2 (duty 2).
    Also: vb1 a no-show yesterday at C1, va1 a completed shift two days ago still awaiting approval
    (60 min, not counted). Today: a full shift at C1 (va1 checked in, vb1 not yet), the early
    shift at C2 (1 of 3 places), and a cancelled one at C2.
    """
    today = timezone.localdate()
    yesterday = today - timedelta(days=1)
    root = OrganizationFactory(kind=Organization.Kind.COMMITTEE, name="团工委", name_en="Committee")
    a = OrganizationFactory(parent=root, name="甲银行", name_en="Bank A")
    a1 = OrganizationFactory(parent=a, kind=Organization.Kind.BRANCH, name="甲银行分行", name_en="Bank A Branch")
    b = OrganizationFactory(parent=root, name="乙保险", name_en="Insurer B")
    staff_root = OrganizationStaffFactory(organization=root).user
    staff_a = OrganizationStaffFactory(organization=a).user
    staff_b = OrganizationStaffFactory(organization=b).user
    district1, district2 = DistrictFactory(code="D1"), DistrictFactory(code="D2")
    c1 = CommunityFactory(street=StreetFactory(district=district1), code="C1")
    c2 = CommunityFactory(street=StreetFactory(district=district2), code="C2")
    pt1, pt2 = PostTypeFactory(code="checkpoint"), PostTypeFactory(code="watch")
    team = TeamFactory(organization=a)
    va1 = VolunteerFactory(organization=a, team=team, deployed_community=c1)
    va2 = VolunteerFactory(organization=a1, deployed_community=c2)
    va3 = VolunteerFactory(organization=a, status=Volunteer.Status.RESERVE)
    vb1 = VolunteerFactory(organization=b, deployed_community=c1)
    vb2 = VolunteerFactory(organization=b, status=Volunteer.Status.SUSPENDED)

    p1, p2 = PostFactory(community=c1, post_type=pt1), PostFactory(community=c2, post_type=pt2)
    today_c1 = ShiftFactory(post=p1, starts_at=at(today, 8), ends_at=at(today, 12), capacity=2, confirmed_count=2)
    early_c2 = ShiftFactory(post=p2, starts_at=at(today, 6), ends_at=at(today, 8), capacity=3, confirmed_count=1)
    ShiftFactory(post=p2, starts_at=at(today, 9), ends_at=at(today, 11), capacity=4, status=Shift.Status.CANCELLED)
    yday_c1 = ShiftFactory(
        post=p1, starts_at=at(yesterday, 8), ends_at=at(yesterday, 12), capacity=2, confirmed_count=2
    )
    older_c1 = ShiftFactory(
        post=p1,
        starts_at=at(today - timedelta(days=2), 8),
        ends_at=at(today - timedelta(days=2), 9),
        capacity=1,
        confirmed_count=1,
    )
    place(yday_c1, va1, "completed", minutes=240, checked_in=at(yesterday, 8))
    place(yday_c1, vb1, "no_show")
    place(older_c1, va1, "completed", minutes=60, approved=False, checked_in=at(today - timedelta(days=2), 8))
    place(early_c2, va2, "completed", minutes=120, checked_in=at(today, 6))
    place(today_c1, va1, "confirmed", checked_in=at(today, 8, 5))
    place(today_c1, vb1, "confirmed")
    tallies.tallies_recount_all()
    return World(
        root,
        a,
        a1,
        b,
        staff_root,
        staff_a,
        staff_b,
        UserFactory(),
        district1,
        district2,
        c1,
        c2,
        pt1,
        pt2,
        team,
        va1,
        va2,
        va3,
        vb1,
        vb2,
        today,
        yesterday,
    )


@pytest.fixture
def api(api_client):
    def login(user):
        token, _created = Token.objects.get_or_create(user=user)
        api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return api_client

    return login


def week_minutes(world, by_day: dict) -> int:
    monday = stats.week_start(world.today)
    return sum(minutes for day, minutes in by_day.items() if day >= monday)


# --- Overview -----------------------------------------------------------------------------------


def test_overview_whole_tree(world, api):
    data = api(world.staff_root).get("/api/v1/stats/overview/").json()
    by_day = {world.yesterday: 240, world.today: 120}
    no_shows_this_week = 1 if world.yesterday >= stats.week_start(world.today) else 0
    assert {k: v for k, v in data.items() if k not in ("today", "week_start")} == {
        "date_from": None,
        "date_to": None,
        "volunteers": 5,
        "deployed": 3,
        "not_deployed": 2,
        "suspended": 1,
        "active_today": 2,
        "communities_covered": 2,
        "shifts_today": 2,
        "shifts_today_filled": 1,
        "shifts_today_unfilled": 1,
        "places_today": 5,
        "places_today_taken": 3,
        "fill_rate_today": 0.6,
        "minutes": 360,
        "hours": 6.0,
        "completed": 3,
        "no_shows": 1,
        "week_minutes": week_minutes(world, by_day),
        "week_hours": round(week_minutes(world, by_day) / 60, 1),
        "week_no_shows": no_shows_this_week,
    }
    assert data["today"] == world.today.isoformat()


def test_overview_scoped_to_the_staff_subtree(world, api):
    a = api(world.staff_a).get("/api/v1/stats/overview/").json()
    assert (a["volunteers"], a["deployed"], a["communities_covered"], a["active_today"]) == (3, 2, 2, 2)
    assert (a["shifts_today"], a["minutes"], a["completed"], a["no_shows"]) == (2, 360, 3, 0)
    b = api(world.staff_b).get("/api/v1/stats/overview/").json()
    # B covers C1 only: today's C1 shift is full.
    assert (b["volunteers"], b["deployed"], b["suspended"], b["communities_covered"]) == (2, 1, 1, 1)
    assert (b["shifts_today"], b["shifts_today_filled"], b["active_today"]) == (1, 1, 0)
    assert (b["minutes"], b["completed"], b["no_shows"]) == (0, 0, 1)


def test_overview_filters(world, api):
    client = api(world.staff_root)
    day = world.yesterday.isoformat()
    ranged = client.get(f"/api/v1/stats/overview/?date_from={day}&date_to={day}").json()
    assert (ranged["minutes"], ranged["completed"], ranged["no_shows"]) == (240, 1, 1)
    district = client.get("/api/v1/stats/overview/?district=D2").json()
    assert (district["volunteers"], district["deployed"], district["communities_covered"]) == (1, 1, 1)
    assert (district["minutes"], district["shifts_today"], district["active_today"]) == (120, 1, 1)
    by_id = client.get(f"/api/v1/stats/overview/?district={world.district2.pk}").json()
    assert by_id == district
    org = client.get(f"/api/v1/stats/overview/?organization={world.a1.pk}").json()
    assert (org["volunteers"], org["minutes"], org["communities_covered"], org["shifts_today"]) == (1, 120, 1, 1)


def test_refusals(world, api):
    assert api(world.outsider).get("/api/v1/stats/overview/").json()["code"] == "permission_denied"
    response = api(world.staff_a).get(f"/api/v1/stats/overview/?organization={world.b.pk}")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    response = api(world.staff_root).get("/api/v1/stats/overview/?district=NOPE")
    assert response.status_code == 404
    day = world.today.isoformat()
    response = api(world.staff_root).get(f"/api/v1/stats/overview/?date_from={day}&date_to={world.yesterday}")
    assert (response.status_code, response.json()["code"]) == (400, "invalid")
    response = api(world.staff_root).get("/api/v1/stats/overview/?date_from=yesterday")
    assert response.status_code == 400
    anonymous = api(world.outsider)
    anonymous.credentials()
    assert anonymous.get("/api/v1/stats/overview/").status_code == 401


def test_superuser_sees_everything(world, api):
    admin = UserFactory(is_superuser=True, is_staff=True)
    assert api(admin).get("/api/v1/stats/overview/").json()["volunteers"] == 5


# --- Tables -------------------------------------------------------------------------------------


def test_organization_tree_with_subtotals(world, api):
    data = api(world.staff_root).get("/api/v1/stats/organizations/").json()
    rows = {row["id"]: row for row in data["results"]}
    assert [row["id"] for row in data["results"]] == [world.root.pk, world.a.pk, world.a1.pk, world.b.pk]

    def figures(org):
        row = rows[org.pk]
        return (row["level"], row["volunteers"], row["deployed"], row["minutes"], row["completed"], row["no_shows"])

    assert figures(world.root) == (0, 5, 3, 360, 3, 1)
    assert figures(world.a) == (1, 3, 2, 360, 3, 0)
    assert figures(world.a1) == (2, 1, 1, 120, 1, 0)
    assert figures(world.b) == (1, 2, 1, 0, 0, 1)
    assert rows[world.a.pk]["average_hours"] == 2.0
    assert rows[world.a.pk]["parent"] == world.root.pk and rows[world.root.pk]["parent"] is None
    assert data["total"]["minutes"] == 360 and data["total"]["volunteers"] == 5

    scoped = api(world.staff_a).get("/api/v1/stats/organizations/").json()
    assert [(row["id"], row["level"], row["parent"]) for row in scoped["results"]] == [
        (world.a.pk, 0, None),
        (world.a1.pk, 1, world.a.pk),
    ]


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_community_rows_are_alike_read_by_id_or_read_whole(world, api, monkeypatch, language):
    from communities.models import Community, Street

    c1 = Community.objects.get(code="C1")
    Community.objects.filter(pk=c1.pk).update(name="和谐社区", name_en="Harmony")
    Community.objects.filter(code="C2").update(name="幸福社区", name_en="")
    Street.objects.filter(pk=c1.street_id).update(name="中山街道", name_en="Zhongshan Street")
    CommunityFactory(code="C3")  # in no one's scope: no row

    def rows(staff):
        page = api(staff).get("/api/v1/stats/communities/?page_size=100&order=code", HTTP_ACCEPT_LANGUAGE=language)
        return page.json()["results"]

    by_id = rows(world.staff_root)
    scoped = rows(world.staff_b)
    monkeypatch.setattr(stats, "MANY_COMMUNITIES", 0)  # a scope of many communities reads them all
    assert (rows(world.staff_root), rows(world.staff_b)) == (by_id, scoped)
    assert ([row["code"] for row in by_id], [row["code"] for row in scoped]) == (["C1", "C2"], ["C1"])
    names = {row["code"]: (row["name"], row["street"]) for row in by_id}
    english = language == "en"
    assert names["C1"] == (("Harmony", "Zhongshan Street") if english else ("和谐社区", "中山街道"))
    assert names["C2"][0] == "幸福社区"  # no English name: the Chinese one in either language


def test_a_community_whose_only_shift_was_cancelled_has_no_row(world, api):
    from communities.models import ShiftDayCount

    quiet = CommunityFactory(code="C9")
    shift = ShiftFactory(post=PostFactory(community=quiet))
    Shift.objects.filter(pk=shift.pk).update(status=Shift.Status.CANCELLED)
    assert ShiftDayCount.objects.filter(community=quiet).values_list("shifts", flat=True).get() == 0
    client = api(world.staff_root)
    codes = [row["code"] for row in client.get("/api/v1/stats/communities/?order=code").json()["results"]]
    assert codes == ["C1", "C2"]


def test_communities_post_types_daily(world, api):
    client = api(world.staff_root)
    communities = {row["code"]: row for row in client.get("/api/v1/stats/communities/").json()["results"]}
    c1, c2 = communities["C1"], communities["C2"]
    assert (c1["deployed"], c1["minutes"], c1["completed"], c1["no_shows"]) == (2, 240, 2, 1)
    assert (c1["shifts"], c1["shifts_filled"], c1["places"], c1["places_taken"], c1["fill_rate"]) == (3, 3, 5, 5, 1.0)
    assert (c2["deployed"], c2["minutes"], c2["shifts"], c2["places"], c2["places_taken"]) == (1, 120, 1, 3, 1)
    assert c2["fill_rate"] == 0.333

    post_types = {row["code"]: row for row in client.get("/api/v1/stats/post-types/").json()["results"]}
    assert (post_types["checkpoint"]["minutes"], post_types["watch"]["minutes"]) == (240, 120)
    assert (post_types["checkpoint"]["shifts"], post_types["watch"]["shifts"]) == (3, 1)

    daily = client.get("/api/v1/stats/daily/").json()["results"]
    two_days_ago = world.today - timedelta(days=2)
    assert [(row["date"], row["minutes"], row["completed"], row["no_shows"]) for row in daily] == [
        (two_days_ago.isoformat(), 0, 1, 0),
        (world.yesterday.isoformat(), 240, 1, 1),
        (world.today.isoformat(), 120, 1, 0),
    ]
    start = world.today - timedelta(days=9)
    weekly = client.get(f"/api/v1/stats/daily/?interval=week&date_from={start}&date_to={world.today}").json()
    assert sum(row["minutes"] for row in weekly["results"]) == 360
    assert all(
        row["date"] == stats.week_start(datetime.fromisoformat(row["date"]).date()).isoformat()
        for row in weekly["results"]
    )


def test_leaderboards_and_stars(world, api):
    client = api(world.staff_root)
    board = client.get("/api/v1/stats/leaderboard/").json()
    assert [(row["rank"], row["id"], row["minutes"]) for row in board["results"]] == [
        (1, world.va1.pk, 240),
        (2, world.va2.pk, 120),
    ]
    day = world.today.isoformat()
    today_only = client.get(f"/api/v1/stats/leaderboard/?date_from={day}&date_to={day}").json()
    assert [(row["id"], row["minutes"]) for row in today_only["results"]] == [(world.va2.pk, 120)]
    teams = client.get("/api/v1/stats/leaderboard/?by=team").json()
    assert [(row["id"], row["members"], row["minutes"]) for row in teams["results"]] == [(world.team.pk, 1, 240)]
    assert client.get("/api/v1/stats/leaderboard/?limit=1").json()["results"][0]["id"] == world.va1.pk
    assert client.get("/api/v1/stats/leaderboard/?limit=101").status_code == 400

    VolunteerTally.objects.filter(volunteer=world.va1).update(star_level=2)
    stars = client.get("/api/v1/stats/stars/").json()["results"]
    assert [(row["level"], row["min_hours"], row["volunteers"]) for row in stars] == [
        (0, 0, 4),
        (1, 100, 0),
        (2, 300, 1),
        (3, 600, 0),
        (4, 1000, 0),
        (5, 1500, 0),
    ]
    assert sum(row["volunteers"] for row in api(world.staff_b).get("/api/v1/stats/stars/").json()["results"]) == 2


@pytest.mark.parametrize(
    ("url", "queries"),
    [
        ("/api/v1/stats/overview/", 6),
        ("/api/v1/stats/organizations/", 5),
        ("/api/v1/stats/communities/", 6),
        ("/api/v1/stats/post-types/", 5),
        ("/api/v1/stats/daily/", 3),
        ("/api/v1/stats/leaderboard/", 4),
        ("/api/v1/stats/leaderboard/?by=team", 5),
        ("/api/v1/stats/stars/", 3),
    ],
)
def test_query_counts_are_pinned(world, api, django_assert_num_queries, url, queries):
    client = api(world.staff_a)
    with django_assert_num_queries(queries):
        assert client.get(url).status_code == 200


# --- The demo: every total agrees -----------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("seed_demo", stdout=StringIO())
        yield
        transaction.set_rollback(True)


def test_demo_totals_agree(demo, api):
    from django.contrib.auth import get_user_model

    client = api(get_user_model().objects.get(username="tuanwei"))
    credited = Assignment.objects.filter(hours_status=Assignment.HoursStatus.APPROVED).aggregate(
        m=Sum("credited_minutes")
    )["m"]
    assert credited > 0
    overview = client.get("/api/v1/stats/overview/").json()
    organizations = client.get("/api/v1/stats/organizations/").json()
    communities = client.get("/api/v1/stats/communities/?page_size=100").json()
    pages = [communities]
    while pages[-1]["next"]:
        pages.append(client.get(pages[-1]["next"]).json())
    community_rows = [row for page in pages for row in page["results"]]
    post_types = client.get("/api/v1/stats/post-types/").json()["results"]
    daily = client.get("/api/v1/stats/daily/").json()["results"]
    weekly = client.get("/api/v1/stats/daily/?interval=week").json()["results"]
    stars = client.get("/api/v1/stats/stars/").json()["results"]
    teams = client.get("/api/v1/stats/leaderboard/?by=team&limit=100").json()["results"]

    assert overview["minutes"] == credited
    assert organizations["total"]["minutes"] == credited
    assert sum(row["minutes"] for row in community_rows) == credited
    assert sum(row["minutes"] for row in post_types) == credited
    assert sum(row["minutes"] for row in daily) == credited
    assert sum(row["minutes"] for row in weekly) == credited
    assert VolunteerTally.objects.aggregate(m=Sum("total_minutes"))["m"] == credited
    assert sum(row["minutes"] for row in teams) <= credited

    for key in ("completed", "no_shows"):
        assert overview[key] == organizations["total"][key] == sum(row[key] for row in community_rows)
        assert overview[key] == sum(row[key] for row in post_types) == sum(row[key] for row in daily)
    assert overview["volunteers"] == organizations["total"]["volunteers"] == Volunteer.objects.count()
    assert overview["volunteers"] == sum(row["volunteers"] for row in stars)
    assert overview["deployed"] == organizations["total"]["deployed"] == sum(row["deployed"] for row in community_rows)
    assert overview["communities_covered"] == sum(1 for row in community_rows if row["deployed"])
    # Subtotals add up at every level of the tree.
    rows = organizations["results"]
    for row in rows:
        children = [child for child in rows if child["parent"] == row["id"]]
        if children:
            own = Volunteer.objects.filter(organization_id=row["id"]).count()
            assert row["volunteers"] == own + sum(child["volunteers"] for child in children)


def test_volunteers_and_hours_by_category_and_political_status():
    from tests.factories import VolunteerCategoryFactory

    organization = OrganizationFactory()
    staff = OrganizationStaffFactory(organization=organization).user
    party, youth = VolunteerCategoryFactory(code="party"), VolunteerCategoryFactory(code="youth")
    member = VolunteerFactory(organization=organization, political_status="party_member")
    member.categories.set([party, youth])
    leaguer = VolunteerFactory(organization=organization, political_status="league_member")
    leaguer.categories.set([youth])
    VolunteerFactory(political_status="party_member").categories.set([party])  # another organization
    VolunteerTally.objects.update_or_create(volunteer=member, defaults={"total_minutes": 600})
    VolunteerTally.objects.update_or_create(volunteer=leaguer, defaults={"total_minutes": 60_000})
    rows = {(row["group"], row["code"]): row for row in stats.stats_people(stats.stats_query(user=staff))}
    figures = {key: (row["volunteers"], row["hours"], row["hours_10k"]) for key, row in rows.items()}
    assert figures[("category", "party")] == (1, 10.0, 0.001)
    assert figures[("category", "youth")] == (2, 1010.0, 0.101)
    assert figures[("political_status", "party_member")] == (1, 10.0, 0.001)
    assert figures[("political_status", "league_member")] == (1, 1000.0, 0.1)
    assert figures[("political_status", "masses")] == (0, 0.0, 0.0)
