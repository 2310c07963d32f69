"""The inbox and the failed-message list over HTTP: scoping, error bodies, pinned query counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from communities.models import Notification
from tests.factories import (
    AssignmentFactory,
    CommunityFactory,
    OrganizationFactory,
    OrganizationStaffFactory,
    PostFactory,
    ShiftFactory,
    UserFactory,
    VolunteerFactory,
)

pytestmark = pytest.mark.django_db

State = Notification.State


@pytest.fixture(autouse=True)
def conf(settings, tmp_path):
    settings.NOTIFICATIONS = {
        **settings.NOTIFICATIONS,
        "SMS_FILE": str(tmp_path / "sms.jsonl"),
        "SMS_FILE_FSYNC": False,
        "QUIET_HOURS_START": "",
        "QUEUE": None,
    }


@pytest.fixture
def client_for(api_client):
    def login(user, language="zh-hans"):
        token, _ = Token.objects.get_or_create(user=user)
        api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}", HTTP_ACCEPT_LANGUAGE=language)
        return api_client

    return login


def note(user, n, *, channel="inapp", state=State.SENT, minutes_ago=0, read=False, shift=None, **fields):
    created = timezone.now() - timedelta(minutes=minutes_ago)
    return Notification.objects.create(
        key=f"test:{user.pk}:{n}:{channel}",
        kind="shift_cancelled",
        channel=channel,
        recipient=user,
        shift=shift,
        subject=f"subject {n}",
        body=f"body {n}",
        state=state,
        created_at=created,
        read_at=created if read else None,
        **fields,
    )


# --- The inbox ----------------------------------------------------------------------------


def test_inbox_lists_only_my_in_app_messages_newest_first(client_for):
    me, someone = UserFactory(), UserFactory()
    old = note(me, 1, minutes_ago=10, read=True)
    new = note(me, 2, minutes_ago=1)
    note(me, 3, channel="sms")
    note(someone, 4)
    response = client_for(me).get("/api/v1/notifications/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [(row["id"], row["is_read"]) for row in body["results"]] == [(new.pk, False), (old.pk, True)]
    assert set(body["results"][0]) == {
        "id",
        "kind",
        "subject",
        "body",
        "urgent",
        "shift",
        "assignment",
        "created_at",
        "read_at",
        "is_read",
    }


def test_inbox_unread_filter(client_for):
    me = UserFactory()
    note(me, 1, read=True)
    unread = note(me, 2)
    assert [row["id"] for row in client_for(me).get("/api/v1/notifications/?unread=true").json()["results"]] == [
        unread.pk
    ]
    assert client_for(me).get("/api/v1/notifications/?unread=false").json()["count"] == 1
    response = client_for(me).get("/api/v1/notifications/?unread=maybe")
    assert (response.status_code, response.json()["code"]) == (400, "invalid")


@pytest.mark.parametrize("count", [1, 30])
def test_inbox_query_count_is_fixed(client_for, django_assert_num_queries, count):
    me = UserFactory()
    for n in range(count):
        note(me, n)
    client = client_for(me)
    with django_assert_num_queries(3):  # token, count, page
        response = client.get("/api/v1/notifications/")
    assert len(response.json()["results"]) == min(count, 20)


def test_inbox_needs_a_login(api_client):
    response = api_client.get("/api/v1/notifications/")
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")


def test_mark_read_once_keeps_the_first_time(client_for):
    me = UserFactory()
    row = note(me, 1)
    first = client_for(me).post(f"/api/v1/notifications/{row.pk}/read/")
    assert first.status_code == 200
    assert first.json()["is_read"] is True
    read_at = Notification.objects.get(pk=row.pk).read_at
    assert read_at is not None
    again = client_for(me).post(f"/api/v1/notifications/{row.pk}/read/")
    assert again.status_code == 200
    assert Notification.objects.get(pk=row.pk).read_at == read_at


@pytest.mark.parametrize("whose", ["someone else's", "my sms", "nonsense id", "huge id"])
def test_mark_read_of_what_is_not_my_inbox_is_404_and_changes_nothing(client_for, whose):
    me, someone = UserFactory(), UserFactory()
    target = {
        "someone else's": lambda: note(someone, 1).pk,
        "my sms": lambda: note(me, 2, channel="sms").pk,
        "nonsense id": lambda: "abc",
        "huge id": lambda: "9" * 30,
    }[whose]()
    response = client_for(me).post(f"/api/v1/notifications/{target}/read/")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert not Notification.objects.filter(read_at__isnull=False).exists()


def test_read_all_marks_only_mine(client_for):
    me, someone = UserFactory(), UserFactory()
    note(me, 1)
    note(me, 2)
    note(me, 3, read=True)
    theirs = note(someone, 4)
    response = client_for(me).post("/api/v1/notifications/read-all/")
    assert (response.status_code, response.json()) == (200, {"marked": 2})
    assert Notification.objects.filter(recipient=me, read_at__isnull=True).count() == 0
    assert Notification.objects.get(pk=theirs.pk).read_at is None


# --- Failed messages for coordinators and staff -------------------------------------------


@pytest.fixture
def scene():
    """Two communities, one coordinator each; a failed SMS on a shift of each."""
    here, there = CommunityFactory(), CommunityFactory()
    coordinator, other_coordinator = UserFactory(), UserFactory()
    here.coordinators.add(coordinator)
    there.coordinators.add(other_coordinator)
    organization = OrganizationFactory()
    volunteer = VolunteerFactory(organization=organization, real_name="王小明")
    shift_here = ShiftFactory(post=PostFactory(community=here))
    shift_there = ShiftFactory(post=PostFactory(community=there))
    failed_here = note(
        volunteer.user,
        1,
        channel="sms",
        state=State.FAILED,
        shift=shift_here,
        assignment=AssignmentFactory(shift=shift_here, volunteer=volunteer),
        attempts=5,
        last_error="HTTP 503",
    )
    failed_there = note(VolunteerFactory().user, 2, channel="sms", state=State.FAILED, shift=shift_there)
    note(volunteer.user, 3, channel="sms", state=State.SENT, shift=shift_here)
    return {
        "here": here,
        "coordinator": coordinator,
        "organization": organization,
        "volunteer": volunteer,
        "failed_here": failed_here,
        "failed_there": failed_there,
    }


def test_coordinator_sees_the_failed_messages_of_their_communities(client_for, scene):
    response = client_for(scene["coordinator"]).get("/api/v1/notifications/failed/")
    assert response.status_code == 200
    [row] = response.json()["results"]
    assert row["id"] == scene["failed_here"].pk
    assert row["recipient"] == {"id": scene["volunteer"].user_id, "name": "王小明"}
    assert row["community"] == {"id": scene["here"].pk, "name": scene["here"].name}
    assert (row["state"], row["attempts"], row["last_error"], row["channel"]) == ("failed", 5, "HTTP 503", "sms")


def test_staff_see_the_failed_messages_of_their_organizations_volunteers(client_for, scene):
    staff = OrganizationStaffFactory(organization=scene["organization"]).user
    response = client_for(staff).get("/api/v1/notifications/failed/")
    assert [row["id"] for row in response.json()["results"]] == [scene["failed_here"].pk]


def test_superuser_sees_every_failed_message(client_for, scene):
    admin = UserFactory(is_superuser=True)
    response = client_for(admin).get("/api/v1/notifications/failed/")
    assert {row["id"] for row in response.json()["results"]} == {scene["failed_here"].pk, scene["failed_there"].pk}


def test_a_volunteer_may_not_list_failed_messages(client_for, scene):
    response = client_for(scene["volunteer"].user).get("/api/v1/notifications/failed/")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


@pytest.mark.parametrize("extra", [0, 10])
def test_failed_list_query_count_is_fixed(client_for, scene, django_assert_num_queries, extra):
    shift = scene["failed_here"].shift
    for n in range(extra):
        note(VolunteerFactory().user, 100 + n, channel="sms", state=State.FAILED, shift=shift)
    client = client_for(scene["coordinator"])
    with django_assert_num_queries(5):  # token, is coordinator, is staff, count, page
        response = client.get("/api/v1/notifications/failed/")
    assert response.json()["count"] == 1 + extra


def test_retry_sends_a_failed_message_again_under_the_same_key(client_for, scene, django_capture_on_commit_callbacks):
    row = scene["failed_here"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(scene["coordinator"]).post(f"/api/v1/notifications/failed/{row.pk}/retry/")
    assert response.status_code == 200
    assert response.json()["key"] == row.key
    row.refresh_from_db()
    assert (row.state, row.attempts, row.last_error) == ("sent", 1, "")


def test_retry_refuses_what_is_not_failed_or_not_in_scope(client_for, scene):
    client = client_for(scene["coordinator"])
    sent = Notification.objects.get(state=State.SENT, channel="sms")
    response = client.post(f"/api/v1/notifications/failed/{sent.pk}/retry/")
    assert (response.status_code, response.json()["code"]) == (409, "notification_not_failed")
    response = client.post(f"/api/v1/notifications/failed/{scene['failed_there'].pk}/retry/")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert Notification.objects.get(pk=scene["failed_there"].pk).state == State.FAILED


def test_coordinator_sees_failed_dispatch_and_recall_texts_to_the_volunteers_of_their_communities(client_for, scene):
    """Dispatch and recall texts name no shift: the dispatch's or the recall's community decides."""
    from communities.models import Dispatch
    from communities.services import coordination
    from tests.factories import TeamFactory
    from volunteers.selectors import organization_subtree

    organization = scene["organization"]
    staff = OrganizationStaffFactory(organization=organization).user
    organizations = organization_subtree(staff)
    to_here, to_there = TeamFactory(organization=organization), TeamFactory(organization=organization)
    came = VolunteerFactory(organization=organization, team=to_here, status="reserve")
    went = VolunteerFactory(organization=organization, team=to_there, status="reserve")
    sent = coordination.dispatch_create(
        actor=staff, community=scene["here"], organizations=organizations, team_id=to_here.pk
    )
    coordination.dispatch_create(
        actor=staff, community=CommunityFactory(), organizations=organizations, team_id=to_there.pk
    )
    coordination.volunteers_recall(actor=staff, organizations=organizations, dispatch_id=sent.pk)
    texts = Notification.objects.filter(kind__in=("dispatched", "recalled")).exclude(channel="inapp")
    texts.update(state=State.FAILED)
    mine = set(texts.filter(recipient=came.user).values_list("pk", flat=True))
    assert set(texts.filter(recipient=went.user).values_list("kind", flat=True)) == {"dispatched"}
    assert set(texts.filter(recipient=came.user).values_list("kind", flat=True)) == {"dispatched", "recalled"}
    # The coordinators' own texts (who is coming, who has left) are theirs, not their volunteers'.
    Notification.objects.filter(kind__in=("arriving", "recall_leaving")).update(state=State.FAILED)

    response = client_for(scene["coordinator"]).get("/api/v1/notifications/failed/")
    assert {row["id"] for row in response.json()["results"]} == {scene["failed_here"].pk, *mine}
    # Each names its community: the shift's, or the dispatch's or recall's.
    here = {"id": scene["here"].pk, "name": scene["here"].name}
    assert [row["community"] for row in response.json()["results"]] == [here] * (1 + len(mine))
    response = client_for(staff).get("/api/v1/notifications/failed/")  # staff: every text to their volunteers
    assert {row["id"] for row in response.json()["results"]} >= {
        *mine,
        *texts.filter(recipient=went.user).values_list("pk", flat=True),
    }
    communities = {row["id"]: row["community"] for row in response.json()["results"]}
    elsewhere_community = Dispatch.objects.exclude(community=scene["here"]).get().community
    for pk in texts.filter(recipient=went.user).values_list("pk", flat=True):
        assert communities[pk] == {"id": elsewhere_community.pk, "name": elsewhere_community.name}
    leaving = Notification.objects.filter(kind__in=("arriving", "recall_leaving"))
    assert set(leaving.values_list("kind", flat=True)) == {"arriving", "recall_leaving"}
    admin = UserFactory(is_superuser=True, is_staff=True)
    communities = {
        row["id"]: row["community"] for row in client_for(admin).get("/api/v1/notifications/failed/").json()["results"]
    }
    for row in leaving:
        assert communities[row.pk] == here, row.key

    (one, *_rest) = sorted(mine)
    assert client_for(scene["coordinator"]).post(f"/api/v1/notifications/failed/{one}/retry/").status_code == 200
    elsewhere = texts.filter(recipient=went.user).values_list("pk", flat=True)[0]
    response = client_for(scene["coordinator"]).post(f"/api/v1/notifications/failed/{elsewhere}/retry/")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_failed_list_query_count_is_fixed_with_dispatch_texts(client_for, scene, django_assert_num_queries):
    from communities.models import Dispatch

    for _n in range(3):
        dispatch = Dispatch.objects.create(community=scene["here"], requested=1)
        user = VolunteerFactory().user
        Notification.objects.create(
            key=f"d{dispatch.pk}:dispatched:sms:u{user.pk}",
            kind="dispatched",
            channel="sms",
            recipient=user,
            body="x",
            state=State.FAILED,
        )
    client = client_for(scene["coordinator"])
    with django_assert_num_queries(6):  # token, is coordinator, is staff, count, page, the dispatches' communities
        response = client.get("/api/v1/notifications/failed/")
    assert response.json()["count"] == 1 + 3
    assert {row["community"]["id"] for row in response.json()["results"]} == {scene["here"].pk}
