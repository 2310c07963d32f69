"""Coordinator and team-leader pages: scope, the same services as the API, reasons required."""

from datetime import timedelta

import pytest
from django.utils import timezone

from communities.models import Assignment, AuditEntry, Shift
from tests.factories import CommunityFactory, PostFactory, ShiftFactory, TeamFactory, UserFactory, VolunteerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def coordinator():
    return UserFactory(username="coord-page")


@pytest.fixture
def community(coordinator):
    community = CommunityFactory(name="金鸡湖社区")
    community.coordinators.add(coordinator)
    return community


@pytest.fixture
def post(community):
    return PostFactory(community=community, name="东门封控点")


def running(post, minutes_ago=5, **kwargs):
    start = timezone.now() - timedelta(minutes=minutes_ago)
    return ShiftFactory(post=post, starts_at=start, ends_at=start + timedelta(hours=4), **kwargs)


def place(shift, volunteer=None, **fields):
    assignment = Assignment.objects.create(
        shift=shift, volunteer=volunteer or VolunteerFactory(), status="confirmed", **fields
    )
    Shift.objects.filter(pk=shift.pk).update(confirmed_count=shift.confirmed_count + 1)
    shift.confirmed_count += 1
    return assignment


def test_today_lists_my_communities_with_fill_and_missing(client, coordinator, community, post):
    shift = running(post, capacity=2)
    place(shift)
    client.force_login(coordinator)
    page = client.get("/coordinator/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "金鸡湖社区" in html
    assert "东门封控点" in html
    assert "1 missing" in html or "1 人未到" in html


def test_pages_refuse_non_coordinators(client):
    client.force_login(VolunteerFactory().user)
    assert client.get("/coordinator/").status_code == 403
    assert client.get("/coordinator/hours/").status_code == 403


def test_other_communities_are_404(client, coordinator, post):
    foreign = running(PostFactory())
    assignment = place(foreign)
    client.force_login(coordinator)
    assert client.get(f"/coordinator/communities/{foreign.community_id}/roster/").status_code == 404
    assert client.get(f"/coordinator/shifts/{foreign.pk}/code/").status_code == 404
    response = client.post(f"/coordinator/attendance/{assignment.pk}/check-in/", {"reason": "x"})
    assert response.status_code == 404
    assignment.refresh_from_db()
    assert assignment.checked_in_at is None


def test_roster_shows_mobile_and_checks_in_by_hand_with_reason(client, coordinator, community, post):
    shift = running(post)
    assignment = place(shift)
    client.force_login(coordinator)
    page = client.get(f"/coordinator/communities/{community.pk}/roster/")
    assert assignment.volunteer.mobile in page.content.decode()
    refused = client.post(f"/coordinator/attendance/{assignment.pk}/check-in/", {"reason": ""}, follow=True)
    assert refused.status_code == 200
    assignment.refresh_from_db()
    assert assignment.checked_in_at is None
    client.post(f"/coordinator/attendance/{assignment.pk}/check-in/", {"reason": "忘带手机"})
    assignment.refresh_from_db()
    assert assignment.checkin_method == "manual"
    assert AuditEntry.objects.get(assignment=assignment).reason == "忘带手机"


def test_code_page_shows_the_current_code_and_refreshes(client, coordinator, post):
    from communities import checkin_codes

    shift = running(post)
    client.force_login(coordinator)
    page = client.get(f"/coordinator/shifts/{shift.pk}/code/")
    html = page.content.decode()
    assert page["Cache-Control"] == "no-store"
    assert 'http-equiv="refresh"' in html
    assert "<svg" in html
    code = checkin_codes.current_code(shift.checkin_secret)[0]
    assert code in html or checkin_codes.code_is_valid(shift.checkin_secret, code)


def test_rota_form_creates_shifts(client, coordinator, community, post):
    day = timezone.localdate() + timedelta(days=2)
    client.force_login(coordinator)
    response = client.post(
        f"/coordinator/communities/{community.pk}/rota/",
        {
            "post": post.pk,
            "date_from": day,
            "date_to": day + timedelta(days=1),
            "slots": "08:00-12:00\n22:00-02:00",
            "capacity": 2,
        },
    )
    assert response.status_code == 302
    assert Shift.objects.filter(post=post).count() == 4


def test_rota_form_rejects_bad_slots_and_creates_nothing(client, coordinator, community, post):
    day = timezone.localdate() + timedelta(days=2)
    client.force_login(coordinator)
    response = client.post(
        f"/coordinator/communities/{community.pk}/rota/",
        {"post": post.pk, "date_from": day, "date_to": day, "slots": "eight to noon", "capacity": 2},
    )
    assert response.status_code == 200
    assert not Shift.objects.exists()


def test_assign_from_candidates(client, coordinator, community, post):
    shift = ShiftFactory(post=post, capacity=1)
    first, second = VolunteerFactory(deployed_community=community), VolunteerFactory()
    client.force_login(coordinator)
    page = client.get(f"/coordinator/shifts/{shift.pk}/candidates/")
    assert first.real_name in page.content.decode()
    client.post(f"/coordinator/shifts/{shift.pk}/candidates/", {"volunteer_ids": [first.pk, second.pk]})
    assert dict(Assignment.objects.values_list("volunteer_id", "status")) == {
        first.pk: "confirmed",
        second.pk: "waitlisted",
    }


def test_hours_approval_page(client, coordinator, post):
    start = timezone.now() - timedelta(hours=6)
    shift = ShiftFactory(post=post, starts_at=start, ends_at=start + timedelta(hours=4))
    assignment = place(shift, checked_in_at=start, checked_out_at=start + timedelta(hours=4))
    Assignment.objects.filter(pk=assignment.pk).update(status="completed", credited_minutes=240, hours_status="pending")
    client.force_login(coordinator)
    assert assignment.volunteer.real_name in client.get("/coordinator/hours/").content.decode()
    client.post(f"/coordinator/hours/{assignment.pk}/adjust/", {"hours": "3.5", "reason": "提前离岗"})
    assignment.refresh_from_db()
    assert (assignment.credited_minutes, assignment.hours_status) == (210, "approved")


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("https://evil.example/phish", "/coordinator/hours/"),
        ("//evil.example/phish", "/coordinator/hours/"),
        ("/\\evil.example/phish", "/coordinator/hours/"),
        ("javascript:alert(1)", "/coordinator/hours/"),
        ("²", "/coordinator/hours/"),  # redirect() would look it up as a URL name: a 500
        ("coordinator-today", "/coordinator/hours/"),
        ("/coordinator/hours/?page=2", "/coordinator/hours/?page=2"),
    ],
)
def test_hours_approval_goes_back_only_within_the_site(client, coordinator, post, next_url, expected):
    start = timezone.now() - timedelta(hours=6)
    shift = ShiftFactory(post=post, starts_at=start, ends_at=start + timedelta(hours=4))
    assignment = place(shift, checked_in_at=start, checked_out_at=start + timedelta(hours=4))
    Assignment.objects.filter(pk=assignment.pk).update(status="completed", credited_minutes=240, hours_status="pending")
    client.force_login(coordinator)
    response = client.post(f"/coordinator/hours/{assignment.pk}/approve/", {"next": next_url})
    assert response.status_code == 302
    assert response["Location"] == expected
    assignment.refresh_from_db()
    assert assignment.hours_status == "approved"


def test_team_leader_sees_the_team(client, post):
    team = TeamFactory()
    leader = VolunteerFactory(team=team)
    team.leader = leader
    team.save()
    member = VolunteerFactory(team=team)
    place(ShiftFactory(post=post), member)
    client.force_login(leader.user)
    page = client.get("/team/")
    assert page.status_code == 200
    assert member.real_name in page.content.decode()
    client.force_login(VolunteerFactory().user)
    assert client.get("/team/").status_code == 403


def test_committee_dispatches_reserve_volunteers_from_the_page(client):
    from tests.factories import OrganizationFactory, OrganizationStaffFactory
    from volunteers.models import Volunteer

    organization = OrganizationFactory()
    staff = OrganizationStaffFactory(organization=organization).user
    community = CommunityFactory(code="GS0099")
    reserves = [VolunteerFactory(organization=organization, status="reserve") for _ in range(3)]
    client.force_login(staff)
    assert client.get("/committee/dispatch/").status_code == 200
    response = client.post("/committee/dispatch/", {"community": "GS0099", "count": 2})
    assert response.status_code == 302
    assert Volunteer.objects.filter(pk__in=[v.pk for v in reserves], deployed_community=community).count() == 2
    refused = client.post("/committee/dispatch/", {"community": "GS0099", "count": 5}, follow=True)
    assert refused.status_code == 200
    assert Volunteer.objects.filter(deployed_community=community).count() == 2
    client.force_login(VolunteerFactory().user)
    assert client.get("/committee/dispatch/").status_code == 403
