"""Dispatch tells people and can be undone: the messages a dispatch and a recall create, the
reserve's order, and a recall releasing coming places with the waitlist promoted."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from communities.models import Assignment, AuditEntry, Dispatch, Notification, Recall, Shift
from communities.notifications import outbox as notifications
from communities.services import coordination
from config.errors import ServiceError
from tests.factories import (
    CommunityFactory,
    OrganizationFactory,
    OrganizationStaffFactory,
    PostFactory,
    ShiftFactory,
    TeamFactory,
    UserFactory,
    VolunteerFactory,
)
from tests.test_access_control import fingerprint
from volunteers.models import StaffContact, Volunteer
from volunteers.selectors import organization_subtree

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    organization = OrganizationFactory(name="苏州银行")
    staff = OrganizationStaffFactory(organization=organization).user
    coordinator = UserFactory(username="coord-jjh", first_name="芳", last_name="王")
    StaffContact.objects.create(user=coordinator, mobile="13800000009")
    community = CommunityFactory(name="金鸡湖社区", name_en="Jinji Lake", address="星港街1号")
    community.coordinators.add(coordinator)
    return {"organization": organization, "staff": staff, "coordinator": coordinator, "community": community}


def reserve(world, **kwargs):
    return VolunteerFactory(organization=world["organization"], status="reserve", **kwargs)


def dispatch(world, **kwargs):
    return coordination.dispatch_create(
        actor=world["staff"],
        community=world["community"],
        organizations=organization_subtree(world["staff"]),
        **kwargs,
    )


def inbox(user, kind):
    return list(Notification.objects.filter(recipient=user, channel="inapp", kind=kind))


def test_a_dispatch_tells_each_volunteer_where_from_when_and_whom_to_call_and_the_coordinators_who_comes(world):
    first, second = reserve(world, real_name="张三"), reserve(world, real_name="李四")
    report_at = timezone.now() + timedelta(days=1)

    sent = dispatch(world, count=2, report_at=report_at)

    for volunteer in (first, second):
        (message,) = inbox(volunteer.user, "dispatched")
        assert "金鸡湖社区" in message.body and "星港街1号" in message.body
        assert "王芳 13800000009" in message.body
        (text,) = Notification.objects.filter(recipient=volunteer.user, channel="sms", kind="dispatched")
        assert text.key == f"d{sent.pk}:dispatched:sms:u{volunteer.user_id}"
        assert text.state == "pending"
        assert text.params["community"] == "金鸡湖社区"
        assert text.params["contact"] == "王*"
    (arriving,) = inbox(world["coordinator"], "arriving")
    assert "张三" in arriving.body and "李四" in arriving.body and "2" in arriving.body
    (coordinator_text,) = Notification.objects.filter(recipient=world["coordinator"], channel="sms", kind="arriving")
    assert coordinator_text.params == {"count": 2, "community": "金鸡湖社区", "time": coordinator_text.params["time"]}
    assert Dispatch.objects.get().report_at == report_at
    assert AuditEntry.objects.filter(action="dispatched").count() == 2

    # Announcing the same dispatch again creates each message once.
    before = Notification.objects.count()
    notifications.dispatch_announce(dispatch=sent, volunteers=[first, second])
    assert Notification.objects.count() == before


def test_deployment_texts_carry_their_template_parameters_to_the_provider(world):
    volunteer = reserve(world)
    dispatch(world, count=1)
    row = Notification.objects.get(recipient=volunteer.user, channel="sms", kind="dispatched")
    # Tomorrow at noon: past the text's send-after and outside the quiet hours whatever the time now.
    noon = timezone.make_aware(datetime.combine(timezone.localdate() + timedelta(days=1), time(12)))
    claimed = notifications.claim(limit=10, keys=[row.key], now=noon)
    params = notifications.template_params(claimed)
    assert params[row.pk] == row.params


def coming_shift(community, *, capacity=1, days=1):
    start = timezone.now() + timedelta(days=days)
    return ShiftFactory(
        post=PostFactory(community=community), starts_at=start, ends_at=start + timedelta(hours=4), capacity=capacity
    )


def place(shift, volunteer, status="confirmed", order=None):
    assignment = Assignment.objects.create(shift=shift, volunteer=volunteer, status=status, waitlist_order=order)
    if status == "confirmed":
        Shift.objects.filter(pk=shift.pk).update(confirmed_count=shift.confirmed_count + 1)
        shift.confirmed_count += 1
    else:
        Shift.objects.filter(pk=shift.pk).update(waitlist_count=shift.waitlist_count + 1, waitlist_seq=order)
    return assignment


def test_recalling_a_dispatch_releases_coming_places_there_promotes_the_waitlist_and_tells_everyone(world):
    first, second = reserve(world, real_name="张三"), reserve(world, real_name="李四")
    sent = dispatch(world, count=2)
    here = coming_shift(world["community"])
    mine = place(here, first)
    waiting_volunteer = VolunteerFactory(real_name="候补甲")
    waiting = place(here, waiting_volunteer, status="waitlisted", order=1)
    elsewhere = place(coming_shift(CommunityFactory()), first)  # another community: kept
    started = ShiftFactory(
        post=PostFactory(community=world["community"]),
        starts_at=timezone.now() - timedelta(hours=1),
        ends_at=timezone.now() + timedelta(hours=3),
    )
    under_way = place(started, first)  # already started: kept

    recalls = coordination.volunteers_recall(
        actor=world["staff"],
        organizations=organization_subtree(world["staff"]),
        dispatch_id=sent.pk,
        reason="任务结束",
    )

    assert sorted((r.volunteer_id, r.places_released, r.dispatch_id) for r in recalls) == sorted(
        [(first.pk, 1, sent.pk), (second.pk, 0, sent.pk)]
    )
    for volunteer in (first, second):
        volunteer.refresh_from_db()
        assert (volunteer.status, volunteer.deployed_community_id, volunteer.deployed_at) == ("reserve", None, None)
    mine.refresh_from_db(), waiting.refresh_from_db(), elsewhere.refresh_from_db(), under_way.refresh_from_db()
    assert (mine.status, waiting.status, elsewhere.status, under_way.status) == (
        "cancelled",
        "confirmed",
        "confirmed",
        "confirmed",
    )
    here.refresh_from_db()
    assert (here.confirmed_count, here.waitlist_count) == (1, 0)
    assert inbox(first.user, "cancelled") and inbox(first.user, "recalled") and inbox(second.user, "recalled")
    assert inbox(waiting_volunteer.user, "promoted")
    (leaving,) = inbox(world["coordinator"], "recall_leaving")
    assert "张三" in leaving.body and "李四" in leaving.body
    entries = AuditEntry.objects.filter(action="recalled").order_by("volunteer_id")
    assert [(e.volunteer_id, e.reason, e.after["places_released"]) for e in entries] == sorted(
        [(first.pk, "任务结束", 1), (second.pk, "任务结束", 0)]
    )

    # Nobody is left to recall: refused, nothing changes.
    before = fingerprint()
    with pytest.raises(ServiceError) as refused:
        coordination.volunteers_recall(
            actor=world["staff"], organizations=organization_subtree(world["staff"]), dispatch_id=sent.pk
        )
    assert refused.value.code == "nothing_to_recall"
    assert fingerprint() == before


def test_recall_one_of_a_dispatch_or_a_team_only(world):
    team = TeamFactory(organization=world["organization"])
    members = [VolunteerFactory(organization=world["organization"], team=team, status="reserve") for _ in range(2)]
    loner = reserve(world)
    sent = dispatch(world, team_id=team.pk)
    other = dispatch(world, count=1)
    organizations = organization_subtree(world["staff"])

    (one,) = coordination.volunteers_recall(
        actor=world["staff"], organizations=organizations, dispatch_id=sent.pk, volunteer_ids=[members[0].pk]
    )
    assert one.volunteer_id == members[0].pk
    (rest,) = coordination.volunteers_recall(
        actor=world["staff"], organizations=organizations, dispatch_id=sent.pk, team_id=team.pk
    )
    assert rest.volunteer_id == members[1].pk
    loner.refresh_from_db()
    assert (loner.status, loner.deployed_community_id) == ("active", world["community"].pk)
    assert Recall.objects.filter(dispatch=other).count() == 0


def test_a_recall_outside_the_callers_scope_is_not_found_and_changes_nothing(world):
    sent = dispatch(world, count=1) if reserve(world) else None
    outsider = OrganizationStaffFactory(organization=OrganizationFactory()).user
    before = fingerprint()
    with pytest.raises(ServiceError) as refused:
        coordination.volunteers_recall(
            actor=outsider, organizations=organization_subtree(outsider), dispatch_id=sent.pk
        )
    assert refused.value.code == "not_found"
    assert fingerprint() == before


@pytest.fixture
def api(api_client):
    def login(user):
        token, _ = Token.objects.get_or_create(user=user)
        api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return api_client

    return login


def test_recall_api_for_a_dispatch_and_for_one_volunteer(world, api):
    first, second = reserve(world), reserve(world)
    client = api(world["staff"])
    created = client.post("/api/v1/dispatches/", {"community": world["community"].pk, "count": 2}, format="json").json()
    assert set(created["criteria"]["picked"]) == {str(first.pk), str(second.pk)}

    response = client.post(f"/api/v1/volunteers/{first.pk}/recall/", {"reason": "轮换"}, format="json")
    assert response.status_code == 200
    assert [(r["volunteer"], r["dispatch"], r["places_released"]) for r in response.json()] == [
        (first.pk, created["id"], 0)
    ]
    before = fingerprint()
    again = client.post(f"/api/v1/volunteers/{first.pk}/recall/", {}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "nothing_to_recall")
    assert fingerprint() == before

    response = client.post(f"/api/v1/dispatches/{created['id']}/recall/", {}, format="json")
    assert [r["volunteer"] for r in response.json()] == [second.pk]
    assert Volunteer.objects.filter(status="active").count() == 0


def test_the_dispatch_list_query_count_is_pinned(world, api, django_assert_num_queries):
    for _ in range(3):
        reserve(world)
        dispatch(world, count=1)
    client = api(world["staff"])
    client.get("/api/v1/dispatches/")  # warm the token lookup's caches
    with django_assert_num_queries(5):  # token, staff role, scope, count, page
        response = client.get("/api/v1/dispatches/")
    assert response.json()["count"] == 3


def test_a_team_dispatch_releases_the_coming_places_of_members_deployed_elsewhere_and_tells_everyone(world):
    team = TeamFactory(organization=world["organization"])
    there = CommunityFactory(name="独墅湖社区")
    there_coordinator = UserFactory(username="coord-dsh")
    there.coordinators.add(there_coordinator)
    moving = VolunteerFactory(organization=world["organization"], team=team, real_name="陈动", deployed_community=there)
    staying = VolunteerFactory(
        organization=world["organization"], team=team, real_name="林留", deployed_community=world["community"]
    )
    fresh = VolunteerFactory(organization=world["organization"], team=team, status="reserve")
    shift_there = coming_shift(there)
    leaving_place = place(shift_there, moving)
    waiting_volunteer = VolunteerFactory(real_name="候补乙")
    waiting = place(shift_there, waiting_volunteer, status="waitlisted", order=1)
    started = ShiftFactory(
        post=PostFactory(community=there),
        starts_at=timezone.now() - timedelta(hours=1),
        ends_at=timezone.now() + timedelta(hours=3),
    )
    under_way = place(started, moving)  # already started: kept
    elsewhere = place(coming_shift(CommunityFactory()), moving)  # not where they were deployed: kept
    here_place = place(coming_shift(world["community"], days=2), staying)  # where the team goes: kept

    sent = dispatch(world, team_id=team.pk)

    leaving_place.refresh_from_db(), waiting.refresh_from_db(), under_way.refresh_from_db()
    elsewhere.refresh_from_db(), here_place.refresh_from_db()
    assert (leaving_place.status, waiting.status, under_way.status, elsewhere.status, here_place.status) == (
        "cancelled",
        "confirmed",
        "confirmed",
        "confirmed",
        "confirmed",
    )
    shift_there.refresh_from_db()
    assert (shift_there.confirmed_count, shift_there.waitlist_count) == (1, 0)
    for volunteer in (moving, staying, fresh):
        volunteer.refresh_from_db()
        assert (volunteer.status, volunteer.deployed_community_id) == ("active", world["community"].pk)
    assert inbox(moving.user, "cancelled") and inbox(moving.user, "dispatched")
    assert not inbox(staying.user, "cancelled")
    assert inbox(waiting_volunteer.user, "promoted")
    (leaving,) = inbox(there_coordinator, "recall_leaving")
    assert "独墅湖社区" in leaving.body and "陈" in leaving.body
    assert leaving.key == f"d{sent.pk}.c{there.pk}:recall_leaving:inapp:u{there_coordinator.pk}"
    assert not inbox(world["coordinator"], "recall_leaving")
    entries = {e.volunteer_id: e for e in AuditEntry.objects.filter(action="dispatched")}
    assert entries[moving.pk].before["deployed_community"] == there.pk
    assert entries[moving.pk].after["places_released"] == 1
    assert "places_released" not in entries[staying.pk].after
    assert Recall.objects.count() == 0  # moved on, not returned to the reserve: the dispatch records it
