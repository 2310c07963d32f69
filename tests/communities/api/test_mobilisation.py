"""The mobilisation API: community requests, call-outs and the live board, with pinned query
counts for the lists."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from communities.models import Broadcast, CommunityRequest
from tests.factories import (
    CommunityFactory,
    OrganizationFactory,
    OrganizationStaffFactory,
    PostTypeFactory,
    SkillFactory,
    TeamFactory,
    UserFactory,
    VolunteerFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    organization = OrganizationFactory()
    community = CommunityFactory()
    coordinator = UserFactory()
    community.coordinators.add(coordinator)
    staff = OrganizationStaffFactory(organization=organization).user
    team = TeamFactory(organization=organization)
    for _ in range(4):
        VolunteerFactory(organization=organization, team=team)
    return {"community": community, "coordinator": coordinator, "staff": staff, "team": team}


def request_body(world, **changes):
    today = timezone.localdate()
    return {
        "community": world["community"].pk,
        "wanted": 2,
        "date_from": today.isoformat(),
        "date_to": (today + timedelta(days=1)).isoformat(),
        "time_from": "08:00",
        "time_to": "12:00",
        "urgency": 2,
        "note": "需要测温",
        **changes,
    }


def test_a_request_filed_fulfilled_and_listed_through_the_api(api_client, world):
    post_type, skill = PostTypeFactory(), SkillFactory()
    api_client.force_authenticate(world["coordinator"])
    created = api_client.post(
        "/api/v1/community-requests/",
        request_body(world, post_types=[post_type.pk], skills=[skill.code]),
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["wanted"], body["dispatched"], body["missing"], body["status"]) == (2, 0, 2, "open")
    assert (body["post_types"], body["skills"], body["community"]["id"]) == (
        [post_type.code],
        [skill.code],
        world["community"].pk,
    )
    assert api_client.post(f"/api/v1/community-requests/{body['id']}/fulfil/", {"count": 1}).status_code == 403

    api_client.force_authenticate(world["staff"])
    fulfilled = api_client.post(
        f"/api/v1/community-requests/{body['id']}/fulfil/", {"team": world["team"].pk, "skills": []}, format="json"
    )
    assert fulfilled.status_code == 200, fulfilled.json()
    assert (fulfilled.json()["dispatched"], fulfilled.json()["request"]["status"]) == (4, "fulfilled")
    closed = api_client.post(f"/api/v1/community-requests/{body['id']}/decline/", {"reason": "x"})
    assert (closed.status_code, closed.json()["code"]) == (409, "request_closed")
    assert api_client.get("/api/v1/community-requests/?status=open").json()["count"] == 0
    assert api_client.get("/api/v1/community-requests/?status=closed").json()["count"] == 1


def test_the_request_list_reads_a_fixed_number_of_queries(api_client, world, django_assert_num_queries):
    today = timezone.localdate()
    for _ in range(5):
        made = CommunityRequest.objects.create(
            community=world["community"], wanted=3, date_from=today, date_to=today, time_from="08:00", time_to="09:00"
        )
        made.post_types.add(PostTypeFactory())
        made.skills.add(SkillFactory())
    api_client.force_authenticate(world["staff"])
    # staff roles, count, page, post types, skills
    with django_assert_num_queries(5):
        answer = api_client.get("/api/v1/community-requests/")
    assert answer.status_code == 200 and answer.json()["count"] == 5


def test_a_call_out_previewed_sent_and_listed(api_client, world, django_assert_num_queries):
    api_client.force_authenticate(world["staff"])
    audience = {"audience": "team", "team": world["team"].pk, "message": "今晚集合", "by_sms": True}
    preview = api_client.post("/api/v1/broadcasts/preview/", audience, format="json")
    assert preview.status_code == 200, preview.json()
    assert (preview.json()["people"], preview.json()["texts"], preview.json()["parts_per_text"]) == (4, 4, 1)
    sent = api_client.post("/api/v1/broadcasts/", {**audience, "subject": "集合"}, format="json")
    assert sent.status_code == 201, sent.json()
    assert (sent.json()["recipients"], sent.json()["texts"]) == (4, 4)
    missing = api_client.post(
        "/api/v1/broadcasts/", {"audience": "team", "subject": "a", "message": "b"}, format="json"
    )
    assert missing.status_code == 400
    assert Broadcast.objects.count() == 1
    with django_assert_num_queries(4):  # roles (coordinator, staff), count, page
        listed = api_client.get("/api/v1/broadcasts/")
    assert listed.json()["count"] == 1


def test_the_live_board_is_for_committee_staff(api_client, world):
    api_client.force_authenticate(world["coordinator"])
    assert api_client.get("/api/v1/live/").status_code == 403
    api_client.force_authenticate(world["staff"])
    board = api_client.get("/api/v1/live/")
    assert board.status_code == 200
    assert set(board.json()) == {"at", "poll_seconds", "totals", "districts", "communities", "missing", "requests"}
