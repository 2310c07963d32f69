"""The live board's figures: from the rollups, scoped, with a pinned number of queries."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.utils import timezone

from communities.models import Assignment, CommunityRequest, Notification, Shift
from communities.selectors import live
from communities.services import attendance
from tests.factories import (
    CommunityFactory,
    DistrictFactory,
    OrganizationStaffFactory,
    PostFactory,
    ShiftFactory,
    StreetFactory,
    TeamFactory,
    UserFactory,
    VolunteerFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_layout():
    live._layout.update(at=0.0, districts=[])


@pytest.fixture
def world():
    district = DistrictFactory()
    community = CommunityFactory(street=StreetFactory(district=district), latitude=31.3, longitude=120.6)
    CommunityFactory(latitude=31.2, longitude=120.7)  # another district, on the map too
    coordinator = UserFactory()
    community.coordinators.add(coordinator)
    staff = OrganizationStaffFactory().user
    leader = VolunteerFactory(organization=staff.staff_roles.get().organization)
    team = TeamFactory(organization=leader.organization, leader=leader)
    start = timezone.now() - timedelta(minutes=15)
    shift = ShiftFactory(post=PostFactory(community=community), starts_at=start, ends_at=start + timedelta(hours=3))
    people = [VolunteerFactory(organization=leader.organization, team=team) for _ in range(3)]
    assignments = [Assignment.objects.create(shift=shift, volunteer=v, status="confirmed") for v in people]
    Shift.objects.filter(pk=shift.pk).update(confirmed_count=3)
    return {
        "district": district,
        "community": community,
        "coordinator": coordinator,
        "staff": staff,
        "leader": leader,
        "shift": shift,
        "assignments": assignments,
    }


def test_the_board_shows_who_is_expected_who_is_in_and_whom_to_call(world):
    board = live.live_board(user=world["staff"])
    assert (board["totals"]["expected_now"], board["totals"]["checked_in_now"], board["totals"]["on_duty"]) == (3, 0, 0)
    attendance.assignment_check_in_manual(
        assignment_id=world["assignments"][0].pk, actor=world["coordinator"], reason="到岗"
    )
    board = live.live_board(user=world["staff"])
    assert (board["totals"]["expected_now"], board["totals"]["checked_in_now"], board["totals"]["on_duty"]) == (3, 1, 1)
    assert board["totals"]["checked_in_today"] == 1
    district = next(row for row in board["districts"] if row["id"] == world["district"].pk)
    assert (district["expected"], district["checked_in"], district["on_duty"]) == (3, 1, 1)
    assert len(board["districts"]) == 2 and all(
        0 <= row["x"] <= 600 and 0 <= row["y"] <= 400 for row in board["districts"]
    )
    assert [(row["id"], row["expected"], row["checked_in"]) for row in board["communities"]] == [
        (world["community"].pk, 3, 1)
    ]
    (missing,) = board["missing"]
    assert (missing["shift"], missing["missing"], missing["expected"]) == (world["shift"].pk, 2, 3)
    assert [leader["name"] for leader in missing["leaders"]] == [world["leader"].real_name]


def test_shifts_not_ten_minutes_old_are_not_missing_yet(world):
    Shift.objects.filter(pk=world["shift"].pk).update(starts_at=timezone.now() - timedelta(minutes=5))
    assert live.live_board(user=world["staff"])["missing"] == []


def test_open_requests_and_failed_texts_are_counted(world):
    today = timezone.localdate()
    CommunityRequest.objects.create(
        community=world["community"], wanted=5, date_from=today, date_to=today, time_from=time(8), time_to=time(9)
    )
    CommunityRequest.objects.create(
        community=world["community"],
        wanted=5,
        date_from=today,
        date_to=today,
        time_from=time(8),
        time_to=time(9),
        status="declined",
    )
    Notification.objects.create(
        key="f1", kind="reminder", channel="sms", recipient=world["coordinator"], body="x", state="failed"
    )
    board = live.live_board(user=world["staff"])
    assert (board["totals"]["open_requests"], len(board["requests"]), board["totals"]["texts_failed_today"]) == (
        1,
        1,
        1,
    )


def test_the_board_reads_a_fixed_number_of_queries(world, django_assert_num_queries):
    live.district_layout()  # kept between polls
    for assignment in world["assignments"][:2]:
        attendance.assignment_check_in_manual(assignment_id=assignment.pk, actor=world["coordinator"], reason="x")
    # The city: shifts under way, names of the communities shown, the missing shifts, their
    # missing people's leaders, day counts, check-ins today, failed texts, open requests and
    # their count. The caller: staff roles and hours, staff roles and the leaders' numbers, teams.
    with django_assert_num_queries(14):
        board = live.live_board(user=world["staff"])
    assert board["missing"][0]["missing"] == 1
