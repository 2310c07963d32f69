"""Community requests (点单): filing, fulfilment by dispatch in part and in whole, declining;
the coordinators told at each step; refusals change nothing."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.utils import timezone

from communities.models import CommunityRequest, Dispatch, Notification
from communities.services import community_requests
from config.errors import ServiceError
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
from volunteers.models import Organization, Volunteer

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    community = CommunityFactory()
    coordinator = UserFactory()
    community.coordinators.add(coordinator)
    organization = OrganizationFactory()
    staff = OrganizationStaffFactory(organization=organization).user
    reserve = [VolunteerFactory(organization=organization, status="reserve") for _ in range(4)]
    return {"community": community, "coordinator": coordinator, "staff": staff, "org": organization, "reserve": reserve}


def file(world, **changes):
    today = timezone.localdate()
    values = {
        "actor": world["coordinator"],
        "community_id": world["community"].pk,
        "wanted": 3,
        "date_from": today,
        "date_to": today + timedelta(days=2),
        "time_from": time(8),
        "time_to": time(12),
        "urgency": CommunityRequest.Urgency.URGENT,
        "note": "封控点人手不足",
    }
    return community_requests.community_request_create(**{**values, **changes})


def told(request, kind):
    return sorted(
        Notification.objects.filter(key__startswith=f"r{request.pk}:{kind}").values_list("channel", "recipient_id")
    )


def test_a_coordinator_files_a_request_and_is_told_it_arrived(world):
    post_type, skill = PostTypeFactory(), SkillFactory()
    request = file(world, post_type_ids=[post_type.pk], skill_codes=[skill.code])
    request.refresh_from_db()
    assert (request.wanted, request.dispatched, request.missing, request.status) == (3, 0, 3, "open")
    assert list(request.post_types.all()) == [post_type]
    assert list(request.skills.all()) == [skill]
    assert request.requested_by == world["coordinator"]
    assert told(request, "request_filed") == [("inapp", world["coordinator"].pk)]
    row = Notification.objects.get(key__startswith=f"r{request.pk}:request_filed")
    assert "3" in row.body and world["community"].display_name in row.body


@pytest.mark.parametrize(
    "changes, code",
    [
        ({"wanted": 0}, "invalid"),
        ({"date_to": timezone.localdate() - timedelta(days=1)}, "invalid"),
        ({"date_from": timezone.localdate() - timedelta(days=1)}, "invalid"),
        ({"post_type_ids": [999999]}, "invalid"),
        ({"skill_codes": ["no-such-skill"]}, "invalid"),
    ],
)
def test_a_bad_request_is_refused_and_nothing_is_filed(world, changes, code):
    with pytest.raises(ServiceError) as refused:
        file(world, **changes)
    assert refused.value.code == code
    assert CommunityRequest.objects.count() == Notification.objects.count() == 0


def test_only_the_community_s_coordinator_may_file_for_it(world):
    with pytest.raises(ServiceError) as refused:
        file(world, actor=UserFactory())
    assert refused.value.code == "not_found"
    assert CommunityRequest.objects.count() == 0


def test_the_committee_fulfils_in_part_then_in_whole_and_the_coordinator_is_told_each_time(world):
    request = file(world)
    organizations = Organization.objects.filter(pk=world["org"].pk)
    first = community_requests.community_request_fulfil(
        actor=world["staff"], request_id=request.pk, organizations=organizations, count=2
    )
    request.refresh_from_db()
    assert (request.dispatched, request.missing, request.status, request.closed_at) == (2, 1, "partial", None)
    assert first.request_id == request.pk and first.community_id == world["community"].pk
    assert set(first.volunteers.values_list("status", "deployed_community_id")) == {("active", world["community"].pk)}
    assert told(request, "request_dispatched") == [("inapp", world["coordinator"].pk)]
    body = Notification.objects.get(key__startswith=f"r{request.pk}:request_dispatched").body
    assert "2" in body and "1" in body

    community_requests.community_request_fulfil(
        actor=world["staff"], request_id=request.pk, organizations=organizations, count=1
    )
    request.refresh_from_db()
    assert (request.dispatched, request.missing, request.status) == (3, 0, "fulfilled")
    assert request.closed_at is not None and request.decided_by == world["staff"]
    assert told(request, "request_fulfilled") == [("inapp", world["coordinator"].pk)]
    assert Dispatch.objects.filter(request=request).count() == 2

    with pytest.raises(ServiceError) as refused:
        community_requests.community_request_fulfil(
            actor=world["staff"], request_id=request.pk, organizations=organizations, count=1
        )
    assert refused.value.code == "request_closed"


def test_a_team_is_sent_whole_even_past_what_is_missing(world):
    request = file(world, wanted=2)
    team = TeamFactory(organization=world["org"])
    for volunteer in world["reserve"][:3]:
        Volunteer.objects.filter(pk=volunteer.pk).update(team=team)
    community_requests.community_request_fulfil(
        actor=world["staff"],
        request_id=request.pk,
        organizations=Organization.objects.filter(pk=world["org"].pk),
        team_id=team.pk,
    )
    request.refresh_from_db()
    assert (request.dispatched, request.missing, request.status) == (3, 0, "fulfilled")


@pytest.mark.parametrize("count, code", [(4, "more_than_missing"), (3, None)])
def test_more_than_is_missing_is_refused(world, count, code):
    request = file(world)
    call = lambda: community_requests.community_request_fulfil(  # noqa: E731
        actor=world["staff"],
        request_id=request.pk,
        organizations=Organization.objects.filter(pk=world["org"].pk),
        count=count,
    )
    if code is None:
        call()
        return
    with pytest.raises(ServiceError) as refused:
        call()
    assert refused.value.code == code
    request.refresh_from_db()
    assert (request.dispatched, request.status) == (0, "open")
    assert Dispatch.objects.count() == 0


def test_a_dispatch_that_cannot_be_made_changes_nothing(world):
    request = file(world, wanted=3, skill_codes=[SkillFactory().code])  # nobody has the skill
    before = list(Notification.objects.values_list("key", flat=True))
    with pytest.raises(ServiceError) as refused:
        community_requests.community_request_fulfil(
            actor=world["staff"],
            request_id=request.pk,
            organizations=Organization.objects.filter(pk=world["org"].pk),
            count=1,
        )
    assert refused.value.code == "not_enough_volunteers"
    request.refresh_from_db()
    assert (request.dispatched, request.status) == (0, "open")
    assert list(Notification.objects.values_list("key", flat=True)) == before
    assert not Volunteer.objects.filter(deployed_community__isnull=False).exists()


def test_declining_needs_a_reason_and_tells_the_coordinator(world):
    request = file(world)
    with pytest.raises(ServiceError) as refused:
        community_requests.community_request_decline(actor=world["staff"], request_id=request.pk, reason=" ")
    assert refused.value.code == "reason_required"
    request.refresh_from_db()
    assert request.status == "open"
    community_requests.community_request_decline(actor=world["staff"], request_id=request.pk, reason="人手已派完")
    request.refresh_from_db()
    assert (request.status, request.decline_reason) == ("declined", "人手已派完")
    assert told(request, "request_declined") == [("inapp", world["coordinator"].pk)]
    assert "人手已派完" in Notification.objects.get(key__startswith=f"r{request.pk}:request_declined").body
    with pytest.raises(ServiceError) as again:
        community_requests.community_request_decline(actor=world["staff"], request_id=request.pk, reason="x")
    assert again.value.code == "request_closed"
