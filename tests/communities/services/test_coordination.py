"""Coordinators: rota, candidates, assignment, dispatch, roster, check-in, no-shows, hours, audit."""

from datetime import date, datetime, time, timedelta

import pytest
from django.db.models import Sum
from django.utils import timezone
from rest_framework.authtoken.models import Token

from communities import tasks
from communities.models import Assignment, AuditEntry, Notification, Shift
from communities.rules import checkin_codes, hours
from communities.services import attendance, coordination, signup, tallies
from config.errors import ServiceError
from tests.factories import (
    CommunityFactory,
    OrganizationFactory,
    OrganizationStaffFactory,
    PostFactory,
    PostTypeFactory,
    ShiftFactory,
    SkillFactory,
    TeamFactory,
    UserFactory,
    VolunteerFactory,
)
from volunteers.models import Volunteer, VolunteerTally

pytestmark = pytest.mark.django_db


@pytest.fixture
def coordinator():
    return UserFactory(username="coord")


@pytest.fixture
def community(coordinator):
    community = CommunityFactory()
    community.coordinators.add(coordinator)
    return community


@pytest.fixture
def post(community):
    return PostFactory(community=community)


@pytest.fixture
def api(api_client):
    def login(user):
        token, _ = Token.objects.get_or_create(user=user)
        api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return api_client

    return login


def running_shift(post, started_minutes_ago=5, hours=4, **kwargs):
    start = timezone.now() - timedelta(minutes=started_minutes_ago)
    return ShiftFactory(post=post, starts_at=start, ends_at=start + timedelta(hours=hours), **kwargs)


def confirmed(shift, volunteer=None):
    volunteer = volunteer or VolunteerFactory()
    assignment = Assignment.objects.create(shift=shift, volunteer=volunteer, status="confirmed")
    Shift.objects.filter(pk=shift.pk).update(confirmed_count=shift.confirmed_count + 1)
    shift.confirmed_count += 1
    return assignment


def code_now(shift):
    return checkin_codes.current_code(shift.checkin_secret)[0]


# --- Scope ---------------------------------------------------------------------------------


def test_coordinator_of_another_community_gets_404_and_changes_nothing(api, coordinator, post):
    other_shift = ShiftFactory(capacity=3)  # a community the coordinator does not run
    volunteer = VolunteerFactory()
    client = api(coordinator)
    before = Shift.objects.values().get(pk=other_shift.pk)
    assert (
        client.post(
            f"/api/v1/shifts/{other_shift.pk}/assign/", {"volunteer_ids": [volunteer.pk]}, format="json"
        ).status_code
        == 404
    )
    assert client.patch(f"/api/v1/shifts/{other_shift.pk}/", {"capacity": 9}, format="json").status_code == 404
    assert client.post(f"/api/v1/shifts/{other_shift.pk}/cancel/", {"reason": "x"}, format="json").status_code == 404
    assert client.get(f"/api/v1/shifts/{other_shift.pk}/checkin-code/").status_code == 404
    assert client.get(f"/api/v1/communities/{other_shift.community_id}/roster/").status_code == 404
    assert Shift.objects.values().get(pk=other_shift.pk) == before
    assert not Assignment.objects.exists()


def test_volunteer_cannot_use_coordinator_endpoints(api, post):
    shift = ShiftFactory(post=post)
    volunteer = VolunteerFactory()
    response = api(volunteer.user).get(f"/api/v1/shifts/{shift.pk}/checkin-code/")
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


# --- Rota ----------------------------------------------------------------------------------


def test_rota_builds_shifts_including_night_slots_and_skips_existing(api, coordinator, community, post):
    day = timezone.localdate() + timedelta(days=3)
    body = {
        "post": post.pk,
        "date_from": day.isoformat(),
        "date_to": (day + timedelta(days=2)).isoformat(),
        "slots": [{"start": "08:00", "end": "12:00"}, {"start": "22:00", "end": "02:00"}],
        "capacity": 3,
    }
    client = api(coordinator)
    response = client.post(f"/api/v1/communities/{community.pk}/rota/", body, format="json")
    assert response.status_code == 201
    assert (response.json()["created"], response.json()["skipped"]) == (6, 0)
    night = Shift.objects.filter(post=post).order_by("starts_at")[1]
    assert timezone.localtime(night.starts_at).hour == 22
    assert night.ends_at - night.starts_at == timedelta(hours=4)
    again = client.post(f"/api/v1/communities/{community.pk}/rota/", body, format="json").json()
    assert (again["created"], again["skipped"]) == (0, 6)
    assert Shift.objects.filter(post=post).count() == 6


def test_rota_for_a_post_of_another_community_is_refused(api, coordinator, community):
    foreign_post = PostFactory()
    day = timezone.localdate() + timedelta(days=1)
    response = api(coordinator).post(
        f"/api/v1/communities/{community.pk}/rota/",
        {
            "post": foreign_post.pk,
            "date_from": str(day),
            "date_to": str(day),
            "slots": [{"start": "08:00", "end": "12:00"}],
            "capacity": 2,
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "rota_invalid"
    assert not Shift.objects.exists()


# --- Editing and cancelling ------------------------------------------------------------------


def test_shift_time_change_refused_when_it_creates_a_conflict(coordinator, post):
    shift = ShiftFactory(post=post)
    volunteer = VolunteerFactory()
    signup.shift_sign_up(shift_id=shift.pk, volunteer=volunteer)
    later = ShiftFactory(starts_at=shift.ends_at + timedelta(hours=9), ends_at=shift.ends_at + timedelta(hours=12))
    signup.shift_sign_up(shift_id=later.pk, volunteer=volunteer)
    before = Shift.objects.values("starts_at", "ends_at").get(pk=shift.pk)
    with pytest.raises(ServiceError) as caught:
        coordination.shift_update(
            actor=coordinator,
            shift_id=shift.pk,
            starts_at=shift.starts_at + timedelta(hours=6),
            ends_at=shift.ends_at + timedelta(hours=6),
        )
    assert caught.value.code == "shift_change_conflicts"
    assert caught.value.details["conflicts"][0]["volunteer"] == volunteer.volunteer_number
    assert Shift.objects.values("starts_at", "ends_at").get(pk=shift.pk) == before


def test_shift_stretched_past_24_hours_is_refused_and_unchanged(coordinator, post):
    shift = ShiftFactory(post=post)
    before = Shift.objects.values("starts_at", "ends_at", "updated_at").get(pk=shift.pk)
    with pytest.raises(ServiceError) as caught:
        coordination.shift_update(actor=coordinator, shift_id=shift.pk, ends_at=shift.starts_at + timedelta(hours=25))
    assert (caught.value.code, caught.value.details) == ("invalid", {"ends_at": ["一个班次最长24小时。"]})
    assert Shift.objects.values("starts_at", "ends_at", "updated_at").get(pk=shift.pk) == before


def test_shift_cancel_releases_everyone_and_is_audited(coordinator, post):
    shift = ShiftFactory(post=post, capacity=1)
    first = signup.shift_sign_up(shift_id=shift.pk, volunteer=VolunteerFactory())
    second = signup.shift_sign_up(shift_id=shift.pk, volunteer=VolunteerFactory())
    coordination.shift_cancel(actor=coordinator, shift_id=shift.pk, reason="封控解除")
    shift.refresh_from_db()
    assert (shift.status, shift.confirmed_count, shift.waitlist_count) == ("cancelled", 0, 0)
    assert set(Assignment.objects.filter(pk__in=[first.pk, second.pk]).values_list("status", flat=True)) == {
        "cancelled"
    }
    entry = AuditEntry.objects.get(action="shift_cancelled")
    assert (entry.actor, entry.reason, entry.shift_id) == (coordinator, "封控解除", shift.pk)


def test_a_shift_cancelled_under_way_credits_those_at_the_post_and_releases_the_rest(coordinator, post):
    """Those checked in have served: they are checked out, credited, and not told to stay away."""
    shift = running_shift(post, started_minutes_ago=120, capacity=3)
    at_post, late = confirmed(shift), confirmed(shift)
    waiting = Assignment.objects.create(
        shift=shift, volunteer=VolunteerFactory(), status="waitlisted", waitlist_order=1
    )
    Shift.objects.filter(pk=shift.pk).update(waitlist_count=1)
    checked_in_at = shift.starts_at
    attendance.assignment_check_in_manual(assignment_id=at_post.pk, actor=coordinator, reason="到岗", at=checked_in_at)
    now = timezone.now()

    coordination.shift_cancel(actor=coordinator, shift_id=shift.pk, reason="提前撤岗", now=now)

    at_post.refresh_from_db()
    assert (at_post.status, at_post.checkout_method, at_post.hours_status) == ("completed", "manual", "pending")
    assert at_post.checked_out_at == now
    # Two hours served, credited by the hours rule as any check-out at that moment.
    assert at_post.credited_minutes == hours.credited_minutes(checked_in_at, now, shift.starts_at, shift.ends_at)
    assert at_post.credited_minutes >= 90
    assert set(Assignment.objects.filter(pk__in=[late.pk, waiting.pk]).values_list("status", flat=True)) == {
        "cancelled"
    }
    shift.refresh_from_db()
    # The completed place stays counted: it was served.
    assert (shift.status, shift.confirmed_count, shift.waitlist_count) == ("cancelled", 1, 0)
    checkout = AuditEntry.objects.get(action="manual_check_out", assignment=at_post)
    assert (checkout.actor, checkout.reason) == (coordinator, "提前撤岗")
    entry = AuditEntry.objects.get(action="shift_cancelled")
    assert (entry.before["assignments"], entry.after) == (3, {"status": "cancelled", "checked_out": 1})
    told = {n.assignment_id for n in Notification.objects.filter(kind="shift_cancelled")}
    assert late.pk in told and at_post.pk not in told


def test_a_shift_cancelled_before_it_starts_releases_an_early_check_in(coordinator, post):
    shift = ShiftFactory(post=post, starts_at=timezone.now() + timedelta(minutes=10), capacity=2)
    early = confirmed(shift)
    Assignment.objects.filter(pk=early.pk).update(checked_in_at=timezone.now(), checkin_method="manual")

    coordination.shift_cancel(actor=coordinator, shift_id=shift.pk, reason="封控解除")

    early.refresh_from_db()
    assert (early.status, early.credited_minutes) == ("cancelled", None)


# --- Candidates and assignment ---------------------------------------------------------------


def test_candidates_rank_deployed_then_skills_then_fewest_recent_hours(
    api, coordinator, community, post, django_assert_max_num_queries
):
    skill = SkillFactory(code="first-aid")
    post.post_type.required_skills.add(skill)
    shift = ShiftFactory(post=post)
    deployed = VolunteerFactory(deployed_community=community)
    deployed.skills.add(skill)
    busy_elsewhere = VolunteerFactory()
    busy_elsewhere.skills.add(skill)
    signup.shift_sign_up(
        shift_id=ShiftFactory(starts_at=shift.starts_at, ends_at=shift.ends_at).pk, volunteer=busy_elsewhere
    )
    rested = VolunteerFactory()
    rested.skills.add(skill)
    worked = VolunteerFactory()
    worked.skills.add(skill)
    past = ShiftFactory(
        starts_at=timezone.now() - timedelta(days=2), ends_at=timezone.now() - timedelta(days=2) + timedelta(hours=4)
    )
    Assignment.objects.create(
        shift=past, volunteer=worked, status="completed", credited_minutes=240, hours_status="approved"
    )
    VolunteerFactory()  # lacks the skill: not a candidate
    VolunteerFactory(status="reserve").skills.add(skill)  # not active: not a candidate

    client = api(coordinator)
    response = client.get(f"/api/v1/shifts/{shift.pk}/candidates/")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["id"] for r in results] == [deployed.pk, rested.pk, worked.pk]
    assert [r["rank"] for r in results] == [1, 2, 3]
    assert results[0]["deployed_here"] is True
    assert results[2]["recent_hours"] == 4.0
    assert results[0]["reason"]


def test_candidates_query_count_does_not_grow_with_volunteers(api, coordinator, post, django_assert_num_queries):
    shift = ShiftFactory(post=post)
    client = api(coordinator)
    for n in (3, 12):
        for _ in range(n):
            VolunteerFactory()
        # token, user, coordinator check, shift, post type skills (twice), the page with its total
        with django_assert_num_queries(7):
            response = client.get(f"/api/v1/shifts/{shift.pk}/candidates/")
        assert response.status_code == 200


def test_candidates_pages_carry_the_total_and_rank_across_pages(api, coordinator, post):
    shift = ShiftFactory(post=post)
    volunteers = [VolunteerFactory() for _ in range(3)]
    client = api(coordinator)
    first = client.get(f"/api/v1/shifts/{shift.pk}/candidates/?page_size=2").json()
    second = client.get(f"/api/v1/shifts/{shift.pk}/candidates/?page_size=2&page=2").json()
    assert (first["count"], second["count"]) == (3, 3)
    assert (first["previous"], second["next"]) == (None, None)
    assert first["next"] and second["previous"]
    assert [r["rank"] for r in first["results"] + second["results"]] == [1, 2, 3]
    assert {r["id"] for r in first["results"] + second["results"]} == {v.pk for v in volunteers}
    beyond = client.get(f"/api/v1/shifts/{shift.pk}/candidates/?page_size=2&page=3")
    assert (beyond.status_code, beyond.json()["code"]) == (404, "not_found")


def _candidates(shift) -> set[int]:
    from communities.selectors import shifts as shift_selectors

    return set(shift_selectors.shift_candidates(shift=shift).values_list("pk", flat=True))


def _sign_up_would_confirm(shift, volunteer) -> bool:
    """What the sign-up itself answers for ``volunteer``, rolled back."""
    from django.db import transaction

    with transaction.atomic():
        try:
            confirmed = signup.shift_sign_up(shift_id=shift.pk, volunteer=volunteer).status == "confirmed"
        except ServiceError:
            confirmed = False
        transaction.set_rollback(True)
    return confirmed


def _booked(volunteer, start, hours, status="confirmed"):
    other = ShiftFactory(starts_at=start, ends_at=start + timedelta(hours=hours), capacity=10)
    ticket = 1 if status == "waitlisted" else None
    Assignment.objects.create(shift=other, volunteer=volunteer, status=status, waitlist_order=ticket)
    return other


def test_candidates_leave_out_exactly_whom_the_rest_rule_refuses(post, settings):
    settings.RULES = {**settings.RULES, "MIN_REST_HOURS": 8.0, "MAX_HOURS_PER_DAY": 10}
    shift = ShiftFactory(post=post, capacity=10)  # tomorrow 08:00-12:00; 8 hours' rest
    start, end, rest = shift.starts_at, shift.ends_at, timedelta(hours=8)
    cases = {}
    cases["free"] = VolunteerFactory()
    _booked(cases.setdefault("ends exactly 8 h before", VolunteerFactory()), start - rest - timedelta(hours=4), 4)
    _booked(
        cases.setdefault("ends 7 h 59 before", VolunteerFactory()), start - rest - timedelta(hours=3, minutes=59), 4
    )
    _booked(cases.setdefault("starts exactly 8 h after", VolunteerFactory()), end + rest, 4)
    _booked(cases.setdefault("starts 7 h 59 after", VolunteerFactory()), end + rest - timedelta(minutes=1), 4)
    _booked(cases.setdefault("completed, overlapping", VolunteerFactory()), start, 4, status="completed")
    _booked(cases.setdefault("waitlisted, overlapping", VolunteerFactory()), start, 4, status="waitlisted")
    _booked(cases.setdefault("cancelled, overlapping", VolunteerFactory()), start, 4, status="cancelled")
    for status in ("confirmed", "waitlisted"):
        volunteer = cases.setdefault(f"{status} on this shift", VolunteerFactory())
        ticket = 1 if status == "waitlisted" else None
        Assignment.objects.create(shift=shift, volunteer=volunteer, status=status, waitlist_order=ticket)

    found = _candidates(shift)
    assert {name for name, v in cases.items() if v.pk in found} == {
        "free",
        "ends exactly 8 h before",
        "starts exactly 8 h after",
        "waitlisted, overlapping",
        "cancelled, overlapping",
    }
    assert {name for name, v in cases.items() if v.pk in found} == {
        name for name, v in cases.items() if _sign_up_would_confirm(shift, v)
    }


def test_candidates_leave_out_exactly_whom_the_daily_limit_refuses(post, settings):
    settings.RULES = {**settings.RULES, "MIN_REST_HOURS": 0.0, "MAX_HOURS_PER_DAY": 10}
    shift = ShiftFactory(post=post, capacity=10)  # tomorrow 08:00-12:00 local: 4 of the day's 10 hours
    midnight = shift.starts_at - timedelta(hours=8)
    cases = {}
    at_limit = cases.setdefault("6 more hours that day", VolunteerFactory())
    _booked(at_limit, midnight, 3)
    _booked(at_limit, midnight + timedelta(hours=13), 3)
    over = cases.setdefault("7 more hours that day", VolunteerFactory())
    _booked(over, midnight, 3)
    _booked(over, midnight + timedelta(hours=13), 3)
    _booked(over, midnight + timedelta(hours=16), 1)
    _booked(
        cases.setdefault("7 hours, only waitlisted", VolunteerFactory()),
        midnight + timedelta(hours=13),
        7,
        "waitlisted",
    )
    _booked(cases.setdefault("7 hours the day after", VolunteerFactory()), midnight + timedelta(days=1), 7)

    worked = cases.setdefault("7 more hours that day, 3 of them worked", VolunteerFactory())
    _booked(worked, midnight, 3, "completed")
    _booked(worked, midnight + timedelta(hours=13), 4)

    found = _candidates(shift)
    assert {name for name, v in cases.items() if v.pk in found} == {
        "6 more hours that day",
        "7 hours, only waitlisted",
        "7 hours the day after",
    }
    assert {name for name, v in cases.items() if v.pk in found} == {
        name for name, v in cases.items() if _sign_up_would_confirm(shift, v)
    }


def test_assign_reports_each_volunteer_and_override_needs_reason(api, coordinator, post):
    post.post_type.requires_insurance = True
    post.post_type.save()
    shift = ShiftFactory(post=post, capacity=1)
    ok, uninsured, extra = VolunteerFactory(), VolunteerFactory(insurance_valid_until=None), VolunteerFactory()
    client = api(coordinator)
    results = client.post(
        f"/api/v1/shifts/{shift.pk}/assign/", {"volunteer_ids": [ok.pk, uninsured.pk, extra.pk, 999999]}, format="json"
    ).json()
    assert [(r["volunteer_id"], r["result"], r.get("code")) for r in results] == [
        (ok.pk, "confirmed", None),
        (uninsured.pk, "refused", "not_eligible"),
        (extra.pk, "waitlisted", None),
        (999999, "refused", "not_found"),
    ]
    results = client.post(
        f"/api/v1/shifts/{shift.pk}/assign/",
        {"volunteer_ids": [uninsured.pk], "override_reason": "保险当日生效"},
        format="json",
    ).json()
    assert results[0]["result"] == "waitlisted"
    assignment = Assignment.objects.get(volunteer=uninsured)
    assert (assignment.source, assignment.override_reason, assignment.assigned_by) == (
        "coordinator",
        "保险当日生效",
        coordinator,
    )
    assert AuditEntry.objects.filter(action="override", assignment=assignment, reason="保险当日生效").exists()


# --- Dispatch --------------------------------------------------------------------------------


def test_dispatch_sends_reserve_volunteers_and_refuses_when_short(api, community):
    organization = OrganizationFactory()
    staff = OrganizationStaffFactory(organization=organization).user
    reserves = [VolunteerFactory(organization=organization, status="reserve") for _ in range(3)]
    VolunteerFactory(status="reserve")  # another organization: out of scope
    client = api(staff)
    response = client.post("/api/v1/dispatches/", {"community": community.pk, "count": 4}, format="json")
    assert response.status_code == 409
    assert response.json()["details"] == {"requested": 4, "available": 3}
    assert Volunteer.objects.filter(deployed_community=community).count() == 0
    response = client.post("/api/v1/dispatches/", {"community": community.pk, "count": 2}, format="json")
    assert response.status_code == 201
    assert response.json()["volunteer_count"] == 2
    deployed = Volunteer.objects.filter(deployed_community=community)
    assert set(deployed.values_list("status", flat=True)) == {"active"}
    assert {v.pk for v in deployed} <= {v.pk for v in reserves}


def test_dispatch_a_team(api, community):
    organization = OrganizationFactory()
    staff = OrganizationStaffFactory(organization=organization).user
    team = TeamFactory(organization=organization)
    members = [VolunteerFactory(organization=organization, team=team, status="reserve") for _ in range(4)]
    response = api(staff).post("/api/v1/dispatches/", {"community": community.pk, "team": team.pk}, format="json")
    assert response.status_code == 201
    assert Volunteer.objects.filter(pk__in=[m.pk for m in members], deployed_community=community).count() == 4


def test_volunteer_cannot_dispatch(api, community):
    response = api(VolunteerFactory().user).post(
        "/api/v1/dispatches/", {"community": community.pk, "count": 1}, format="json"
    )
    assert response.status_code == 403


# --- Roster ----------------------------------------------------------------------------------


def test_roster_groups_people_and_shows_mobiles_to_the_coordinator(
    api, coordinator, community, post, django_assert_num_queries
):
    shift = running_shift(post, capacity=4)
    here, missing, absent = confirmed(shift), confirmed(shift), confirmed(shift)
    Assignment.objects.filter(pk=here.pk).update(checked_in_at=timezone.now())
    Assignment.objects.filter(pk=absent.pk).update(status="no_show")
    waiting = Assignment.objects.create(
        shift=shift, volunteer=VolunteerFactory(), status="waitlisted", waitlist_order=1
    )
    client = api(coordinator)
    # + 2 for the privacy rule: the caller's staff roles, then which of the people they may call.
    with django_assert_num_queries(7):
        body = client.get(f"/api/v1/communities/{community.pk}/roster/?date={timezone.localdate()}").json()
    row = body["shifts"][0]
    assert [v["assignment_id"] for v in row["checked_in"]] == [here.pk]
    assert [v["assignment_id"] for v in row["confirmed"]] == [missing.pk]
    assert [v["assignment_id"] for v in row["no_show"]] == [absent.pk]
    assert [v["assignment_id"] for v in row["waitlisted"]] == [waiting.pk]
    assert row["checked_in"][0]["mobile"] == here.volunteer.mobile
    assert row["fill_rate"] == 0.75


def test_roster_of_a_past_day_masks_the_mobile_of_someone_whose_shifts_there_are_over(
    api, coordinator, community, post
):
    """The roster follows the one privacy rule (volunteers.selectors.volunteer_mobile_visible_q),
    as the attendance list does: past shifts only, masked; a shift ending today or later, full."""
    past = running_shift(post, started_minutes_ago=3 * 24 * 60)
    gone, staying = confirmed(past), confirmed(past)
    confirmed(ShiftFactory(post=post), volunteer=staying.volunteer)  # tomorrow: still to come
    day = timezone.localtime(past.starts_at).date()
    client = api(coordinator)

    row = client.get(f"/api/v1/communities/{community.pk}/roster/?date={day}").json()["shifts"][0]
    mobiles = {v["assignment_id"]: v["mobile"] for v in row["confirmed"]}
    assert mobiles == {gone.pk: gone.volunteer.mobile_masked, staying.pk: staying.volunteer.mobile}
    assert gone.volunteer.mobile_masked != gone.volunteer.mobile


# --- Check-in --------------------------------------------------------------------------------


def test_check_in_with_the_current_code_then_out(api, post):
    shift = running_shift(post)
    assignment = confirmed(shift)
    client = api(assignment.volunteer.user)
    response = client.post(f"/api/v1/assignments/{assignment.pk}/check-in/", {"code": code_now(shift)}, format="json")
    assert response.status_code == 200
    assert response.json()["checked_in_at"] is not None
    response = client.post(f"/api/v1/assignments/{assignment.pk}/check-out/")
    assert response.status_code == 200
    assert response.json()["status"] == "completed"
    assert response.json()["hours_status"] == "pending"
    assert list(AuditEntry.objects.filter(assignment=assignment).values_list("action", flat=True).order_by("id")) == [
        "check_in",
        "check_out",
    ]


def test_expired_replayed_or_wrong_code_is_refused(api, post):
    shift = running_shift(post)
    assignment = confirmed(shift)
    old_code = checkin_codes.code_for_step(shift.checkin_secret, int(timezone.now().timestamp() // 60) - 3)
    client = api(assignment.volunteer.user)
    for code in (old_code, "000000" if code_now(shift) != "000000" else "111111", "12ab56", ""):
        response = client.post(f"/api/v1/assignments/{assignment.pk}/check-in/", {"code": code}, format="json")
        assert response.status_code in (400, 409)
        if response.status_code == 409:
            assert response.json()["code"] == "checkin_code_invalid"
    assignment.refresh_from_db()
    assert assignment.checked_in_at is None
    assert not AuditEntry.objects.exists()


def test_code_from_the_previous_minute_still_works_but_not_older():
    secret = "s3cret"
    now = 1_800_000_030.0
    step = int(now // 60)
    assert checkin_codes.code_is_valid(secret, checkin_codes.code_for_step(secret, step), now)
    assert checkin_codes.code_is_valid(secret, checkin_codes.code_for_step(secret, step - 1), now)
    assert not checkin_codes.code_is_valid(secret, checkin_codes.code_for_step(secret, step - 2), now)
    assert not checkin_codes.code_is_valid("other", checkin_codes.code_for_step(secret, step), now)


def test_second_check_in_is_refused(post):
    shift = running_shift(post)
    assignment = confirmed(shift)
    attendance.assignment_check_in(assignment_id=assignment.pk, volunteer=assignment.volunteer, code=code_now(shift))
    with pytest.raises(ServiceError) as caught:
        attendance.assignment_check_in(
            assignment_id=assignment.pk, volunteer=assignment.volunteer, code=code_now(shift)
        )
    assert caught.value.code == "already_checked_in"
    assert AuditEntry.objects.filter(action="check_in").count() == 1


def test_check_in_opens_thirty_minutes_before(post):
    shift = running_shift(post, started_minutes_ago=-45)
    assignment = confirmed(shift)
    with pytest.raises(ServiceError) as caught:
        attendance.assignment_check_in(
            assignment_id=assignment.pk, volunteer=assignment.volunteer, code=code_now(shift)
        )
    assert caught.value.code == "checkin_not_open"


def test_geofence(post):
    community = post.community
    community.latitude, community.longitude, community.geofence_radius_m = 31.3000, 120.6000, 300
    community.save()
    shift = running_shift(post)
    far, near, unknown = confirmed(shift), confirmed(shift), confirmed(shift)
    # Far away: accepted, and flagged for the coordinator with the distance (location is no proof).
    done = attendance.assignment_check_in(
        assignment_id=far.pk, volunteer=far.volunteer, code=code_now(shift), latitude=31.31, longitude=120.6
    )
    assert (done.checkin_flagged, done.checkin_distance_m) == (True, 1112)
    done = attendance.assignment_check_in(
        assignment_id=near.pk, volunteer=near.volunteer, code=code_now(shift), latitude=31.3010, longitude=120.6
    )
    assert (done.checkin_flagged, done.checkin_distance_m) == (False, 111)
    flagged = attendance.assignment_check_in(
        assignment_id=unknown.pk, volunteer=unknown.volunteer, code=code_now(shift)
    )
    assert flagged.checkin_flagged is True


def test_someone_else_cannot_check_in_on_my_assignment(api, post):
    shift = running_shift(post)
    assignment = confirmed(shift)
    response = api(VolunteerFactory().user).post(
        f"/api/v1/assignments/{assignment.pk}/check-in/", {"code": code_now(shift)}, format="json"
    )
    assert response.status_code == 404


# --- Manual attendance, no-shows and hours ---------------------------------------------------


def test_manual_actions_need_a_reason(api, coordinator, post):
    shift = running_shift(post)
    assignment = confirmed(shift)
    client = api(coordinator)
    response = client.post(f"/api/v1/attendance/{assignment.pk}/check-in/", {"reason": ""}, format="json")
    assert response.status_code == 400
    assignment.refresh_from_db()
    assert assignment.checked_in_at is None
    response = client.post(f"/api/v1/attendance/{assignment.pk}/check-in/", {"reason": "手机没电"}, format="json")
    assert response.status_code == 200
    assert response.json()["checkin_method"] == "manual"


def test_forgotten_check_out_is_credited_to_the_end_only_when_a_coordinator_confirms(coordinator, post):
    start = timezone.now() - timedelta(hours=5)
    shift = ShiftFactory(post=post, starts_at=start, ends_at=start + timedelta(hours=4))
    assignment = confirmed(shift)
    Assignment.objects.filter(pk=assignment.pk).update(checked_in_at=start + timedelta(minutes=20))
    assert attendance.no_show_sweep() == 0  # checked in: not a no-show, and nothing credited yet
    assignment.refresh_from_db()
    assert (assignment.status, assignment.credited_minutes) == ("confirmed", None)
    attendance.assignment_check_out_manual(assignment_id=assignment.pk, actor=coordinator, reason="忘记签退")
    assignment.refresh_from_db()
    assert (assignment.status, assignment.checked_out_at, assignment.credited_minutes) == (
        "completed",
        shift.ends_at,
        210,
    )


def test_no_show_sweep_marks_only_those_due_and_is_idempotent(post):
    late = running_shift(post, started_minutes_ago=31)
    due = confirmed(late)
    arrived = confirmed(late)
    Assignment.objects.filter(pk=arrived.pk).update(checked_in_at=timezone.now())
    early = running_shift(post, started_minutes_ago=20)
    not_yet = confirmed(early)
    assert attendance.no_show_sweep() == 1
    assert attendance.no_show_sweep() == 0
    statuses = dict(Assignment.objects.values_list("pk", "status"))
    assert statuses == {due.pk: "no_show", arrived.pk: "confirmed", not_yet.pk: "confirmed"}
    entry = AuditEntry.objects.get(action="no_show")
    assert (entry.assignment_id, entry.actor, entry.reason) == (due.pk, None, "automatic")
    late.refresh_from_db()
    assert late.confirmed_count == 2  # a no-show keeps the place it took


def test_coordinator_clears_a_no_show_with_reason(coordinator, post):
    shift = running_shift(post, started_minutes_ago=40)
    assignment = confirmed(shift)
    attendance.no_show_sweep()
    with pytest.raises(ServiceError) as caught:
        attendance.assignment_clear_no_show(assignment_id=assignment.pk, actor=coordinator, reason=" ")
    assert caught.value.code == "reason_required"
    attendance.assignment_clear_no_show(assignment_id=assignment.pk, actor=coordinator, reason="迟到已到岗")
    assignment.refresh_from_db()
    assert assignment.status == "confirmed"


def test_hours_approve_adjust_and_the_audit_trail_and_tallies(
    api, coordinator, post, django_capture_on_commit_callbacks
):
    start = timezone.now() - timedelta(hours=5)
    shift = ShiftFactory(post=post, starts_at=start, ends_at=start + timedelta(hours=4))
    assignment = confirmed(shift)
    with django_capture_on_commit_callbacks(execute=True):
        attendance.assignment_check_in_manual(
            assignment_id=assignment.pk, actor=coordinator, reason="现场登记", at=start + timedelta(minutes=40)
        )
        attendance.assignment_check_out_manual(
            assignment_id=assignment.pk, actor=coordinator, reason="现场登记", at=start + timedelta(hours=3, minutes=10)
        )
    assignment.refresh_from_db()
    assert (assignment.credited_minutes, assignment.hours_status) == (150, "pending")  # 2 h 30 min

    client = api(coordinator)
    # The recount is queued for after the commit: until then the totals are as they were.
    with django_capture_on_commit_callbacks() as after_commit:
        assert client.post(f"/api/v1/attendance/{assignment.pk}/approve-hours/").json()["hours_status"] == "approved"
    assert list(
        VolunteerTally.objects.filter(volunteer=assignment.volunteer).values_list("total_minutes", flat=True)
    ) == [0]
    assert len(after_commit) == 1
    after_commit[0]()
    tally = VolunteerTally.objects.get(volunteer=assignment.volunteer)
    assert tally.total_minutes == 150

    with django_capture_on_commit_callbacks() as after_commit:
        refused = client.post(
            f"/api/v1/attendance/{assignment.pk}/adjust-hours/",
            {"credited_minutes": 300, "reason": "多算"},
            format="json",
        )
    assert refused.status_code == 400
    assert refused.json()["code"] == "hours_out_of_range"
    assert after_commit == []  # a refusal queues nothing
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/api/v1/attendance/{assignment.pk}/adjust-hours/",
            {"credited_minutes": 180, "reason": "补登记"},
            format="json",
        )
    assert response.json()["credited_minutes"] == 180
    tally.refresh_from_db()
    assert tally.total_minutes == 180

    trail = list(AuditEntry.objects.filter(assignment=assignment).order_by("id"))
    assert [e.action for e in trail] == ["manual_check_in", "manual_check_out", "hours_approved", "hours_adjusted"]
    assert trail[-1].before["credited_minutes"] == 150
    assert trail[-1].after["credited_minutes"] == 180
    assert trail[-1].reason == "补登记"
    assert all(e.actor == coordinator for e in trail)
    audit = client.get(f"/api/v1/audit/?assignment={assignment.pk}").json()
    assert audit["count"] == 4


def test_incremental_tallies_equal_a_full_recount_after_random_changes(coordinator, django_capture_on_commit_callbacks):
    import random

    from communities.services import attendance as attendance_services

    class Committed:
        """Each service call as its own committed transaction: its after-commit work runs after it."""

        def __getattr__(self, name):
            def call(*args, **kwargs):
                with django_capture_on_commit_callbacks(execute=True):
                    return getattr(attendance_services, name)(*args, **kwargs)

            return call

    attendance = Committed()
    rng = random.Random(11)
    post_types = [PostTypeFactory(), PostTypeFactory()]
    communities = [CommunityFactory(), CommunityFactory()]
    posts = [PostFactory(community=c, post_type=t) for c in communities for t in post_types]
    volunteers = [VolunteerFactory(team=TeamFactory() if i % 2 else None) for i in range(6)]
    base = timezone.now() - timedelta(days=3)
    for day in range(3):
        for post in posts:
            start = base + timedelta(days=day, hours=rng.randint(0, 5))
            shift = ShiftFactory(post=post, starts_at=start, ends_at=start + timedelta(hours=4), capacity=6)
            for volunteer in rng.sample(volunteers, 3):
                assignment = confirmed(shift, volunteer)
                roll = rng.random()
                if roll < 0.2:
                    attendance.no_show_sweep()
                else:
                    attendance.assignment_check_in_manual(
                        assignment_id=assignment.pk,
                        actor=coordinator,
                        reason="r",
                        at=start + timedelta(minutes=rng.randint(0, 60)),
                    )
                    attendance.assignment_check_out_manual(
                        assignment_id=assignment.pk,
                        actor=coordinator,
                        reason="r",
                        at=start + timedelta(minutes=rng.randint(90, 300)),
                    )
                    if roll < 0.7:
                        attendance.hours_approve(assignment_id=assignment.pk, actor=coordinator)
                    if roll > 0.85:
                        attendance.hours_adjust(
                            assignment_id=assignment.pk,
                            actor=coordinator,
                            credited_minutes=rng.randint(0, 240),
                            reason="r",
                        )
    incremental_volunteers = sorted(
        VolunteerTally.objects.values_list(
            "volunteer_id", "total_minutes", "no_shows", "completed_shifts", "star_level"
        )
    )
    from communities.models import DailyTally

    incremental_cells = sorted(
        DailyTally.objects.values_list(
            "date", "community_id", "post_type_id", "organization_id", "team_key", "minutes", "completed", "no_shows"
        )
    )
    assert tallies.tallies_recount_all() == {"volunteers_fixed": 0, "cells_fixed": 0}
    assert tallies.tallies_recount_all() == {"volunteers_fixed": 0, "cells_fixed": 0}
    assert (
        sorted(
            VolunteerTally.objects.values_list(
                "volunteer_id", "total_minutes", "no_shows", "completed_shifts", "star_level"
            )
        )
        == incremental_volunteers
    )
    assert (
        sorted(
            DailyTally.objects.values_list(
                "date",
                "community_id",
                "post_type_id",
                "organization_id",
                "team_key",
                "minutes",
                "completed",
                "no_shows",
            )
        )
        == incremental_cells
    )
    approved = Assignment.objects.filter(hours_status="approved").aggregate(s=Sum("credited_minutes"))["s"]
    assert VolunteerTally.objects.aggregate(s=Sum("total_minutes"))["s"] == approved
    assert DailyTally.objects.aggregate(s=Sum("minutes"))["s"] == approved


def test_recount_repairs_drift(coordinator, post, django_capture_on_commit_callbacks):
    start = timezone.now() - timedelta(hours=5)
    shift = ShiftFactory(post=post, starts_at=start, ends_at=start + timedelta(hours=4))
    assignment = confirmed(shift)
    with django_capture_on_commit_callbacks(execute=True):
        attendance.assignment_check_in_manual(assignment_id=assignment.pk, actor=coordinator, reason="r", at=start)
        attendance.assignment_check_out_manual(
            assignment_id=assignment.pk, actor=coordinator, reason="r", at=shift.ends_at
        )
        attendance.hours_approve(assignment_id=assignment.pk, actor=coordinator)
    VolunteerTally.objects.filter(volunteer=assignment.volunteer).update(total_minutes=1)
    assert tallies.tallies_recount_all() == {"volunteers_fixed": 1, "cells_fixed": 0}
    assert VolunteerTally.objects.get(volunteer=assignment.volunteer).total_minutes == 240


def test_tally_is_counted_by_the_sweep_when_the_broker_was_down(coordinator, post, settings, monkeypatch):
    monkeypatch.setattr(
        tasks.tally_assignment_task, "delay", lambda *a, **k: (_ for _ in ()).throw(ConnectionError("down"))
    )
    start = timezone.now() - timedelta(hours=5)
    shift = ShiftFactory(post=post, starts_at=start, ends_at=start + timedelta(hours=4))
    assignment = confirmed(shift)
    attendance.assignment_check_in_manual(assignment_id=assignment.pk, actor=coordinator, reason="r", at=start)
    attendance.assignment_check_out_manual(assignment_id=assignment.pk, actor=coordinator, reason="r", at=shift.ends_at)
    with pytest.raises(Exception):  # noqa: B017 - only to show the broker really was unreachable
        tasks.tally_assignment_task.delay(assignment.pk)
    attendance.hours_approve(assignment_id=assignment.pk, actor=coordinator)
    assert not VolunteerTally.objects.filter(volunteer=assignment.volunteer, total_minutes=240).exists()
    assert Assignment.objects.get(pk=assignment.pk).tally_pending is True
    assert tallies.tally_pending_sweep() == 1
    assert tallies.tally_pending_sweep() == 0
    assert VolunteerTally.objects.get(volunteer=assignment.volunteer).total_minutes == 240


def test_rota_date_range_is_bounded(coordinator, community, post):
    with pytest.raises(ServiceError) as caught:
        coordination.rota_create(
            actor=coordinator,
            community=community,
            post_id=post.pk,
            date_from=date(2026, 1, 1),
            date_to=date(2026, 6, 1),
            slots=[(time(8), time(12))],
            capacity=2,
        )
    assert caught.value.code == "rota_invalid"
    assert not Shift.objects.exists()


def test_dispatch_by_category_and_skill(api, community):
    from tests.factories import VolunteerCategoryFactory

    organization = OrganizationFactory()
    staff = OrganizationStaffFactory(organization=organization).user
    party = VolunteerCategoryFactory(code="party-member")
    aid = SkillFactory(code="first-aid")
    match = VolunteerFactory(organization=organization, status="reserve")
    match.categories.add(party)
    match.skills.add(aid)
    only_category = VolunteerFactory(organization=organization, status="reserve")
    only_category.categories.add(party)
    response = api(staff).post(
        "/api/v1/dispatches/",
        {"community": community.pk, "count": 1, "categories": ["party-member"], "skills": ["first-aid"]},
        format="json",
    )
    assert response.status_code == 201
    assert list(Volunteer.objects.filter(deployed_community=community).values_list("pk", flat=True)) == [match.pk]


@pytest.mark.parametrize(("into_step", "left"), [(0.0, 60), (0.5, 60), (30.0, 30), (59.0, 1), (59.7, 1)])
def test_the_code_changes_after_the_seconds_it_gives(into_step, left):
    step_start = 1_800_000_000 - 1_800_000_000 % checkin_codes.STEP_SECONDS
    at = step_start + into_step
    code, expires_in = checkin_codes.current_code("secret", at)
    assert expires_in == left
    assert checkin_codes.current_code("secret", at + expires_in)[0] != code  # changed by then
    assert checkin_codes.current_code("secret", at + expires_in - 1)[0] == code  # not a second sooner


# --- Rota and shift-time refusals ------------------------------------------------------------


def rota_body(post, day, slots, **extra):
    return {
        "post": post.pk,
        "date_from": day.isoformat(),
        "date_to": extra.pop("date_to", day).isoformat(),
        "slots": [{"start": start, "end": end} for start, end in slots],
        "capacity": 2,
        **extra,
    }


def test_rota_with_a_repeated_slot_is_refused_and_creates_nothing(api, coordinator, community, post):
    day = timezone.localdate() + timedelta(days=3)
    body = rota_body(post, day, [("08:00", "12:00"), ("13:00", "17:00"), ("08:00", "12:00")])
    response = api(coordinator).post(
        f"/api/v1/communities/{community.pk}/rota/", body, format="json", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert response.status_code == 400
    assert response.json() == {
        "code": "duplicate_slot",
        "message": "The rota lists the same time slot more than once.",
        "details": {"slots": ["08:00-12:00"]},
    }
    assert not Shift.objects.exists()
    assert not AuditEntry.objects.exists()


def test_rota_slots_with_one_start_and_different_ends_are_repeated_slots(coordinator, community, post):
    with pytest.raises(ServiceError) as caught:
        coordination.rota_create(
            actor=coordinator,
            community=community,
            post_id=post.pk,
            date_from=timezone.localdate() + timedelta(days=1),
            date_to=timezone.localdate() + timedelta(days=1),
            slots=[(time(8), time(12)), (time(8), time(10))],
            capacity=2,
        )
    assert (caught.value.code, caught.value.details) == ("duplicate_slot", {"slots": ["08:00-10:00"]})
    assert not Shift.objects.exists()


def test_rota_size_is_bounded_with_a_clear_error(api, coordinator, community, post):
    day = timezone.localdate() + timedelta(days=1)
    slots = [(f"{hour:02d}:00", f"{hour:02d}:30") for hour in range(9)]
    body = rota_body(post, day, slots, date_to=day + timedelta(days=61))
    response = api(coordinator).post(
        f"/api/v1/communities/{community.pk}/rota/", body, format="json", HTTP_ACCEPT_LANGUAGE="zh-hans"
    )
    assert response.status_code == 400
    assert response.json() == {
        "code": "rota_too_large",
        "message": "排班一次要建的班次太多。",
        "details": {"shifts": 558, "max_shifts": 500},
    }
    assert not Shift.objects.exists()


def test_rota_at_the_size_limit_is_created(coordinator, community, post, settings):
    settings.RULES = {**settings.RULES, "ROTA_MAX_SHIFTS": 6}
    day = timezone.localdate() + timedelta(days=1)
    kwargs = {"actor": coordinator, "community": community, "post_id": post.pk, "date_from": day, "capacity": 2}
    slots = [(time(8), time(9)), (time(10), time(11))]
    result = coordination.rota_create(date_to=day + timedelta(days=2), slots=slots, **kwargs)
    assert (result["created"], result["skipped"]) == (6, 0)
    with pytest.raises(ServiceError) as caught:
        coordination.rota_create(date_to=day + timedelta(days=3), slots=slots, **kwargs)
    assert (caught.value.code, caught.value.details) == ("rota_too_large", {"shifts": 8, "max_shifts": 6})
    assert Shift.objects.count() == 6


def test_rota_in_year_one_is_refused(api, coordinator, community, post):
    body = rota_body(post, date(1, 1, 1), [("00:00", "04:00")])
    response = api(coordinator).post(f"/api/v1/communities/{community.pk}/rota/", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "shift_in_past"
    assert response.json()["details"]["date_from"] == "0001-01-01"
    assert not Shift.objects.exists()


def test_rota_with_a_slot_already_begun_today_is_refused_whole(coordinator, community, post):
    today = timezone.localdate()
    now = timezone.make_aware(datetime.combine(today, time(10)))
    with pytest.raises(ServiceError) as caught:
        coordination.rota_create(
            actor=coordinator,
            community=community,
            post_id=post.pk,
            date_from=today,
            date_to=today + timedelta(days=1),
            slots=[(time(8), time(12)), (time(14), time(18))],
            capacity=2,
            now=now,
        )
    assert caught.value.code == "shift_in_past"
    assert caught.value.details == {
        "starts_at": timezone.make_aware(datetime.combine(today, time(8))).isoformat(),
        "now": now.isoformat(),
    }
    assert not Shift.objects.exists()


def test_shift_moved_into_year_one_is_refused_and_unchanged(api, coordinator, post):
    shift = ShiftFactory(post=post)
    before = Shift.objects.values().get(pk=shift.pk)
    response = api(coordinator).patch(
        f"/api/v1/shifts/{shift.pk}/",
        {"starts_at": "0001-01-01T08:00:00Z", "ends_at": "0001-01-01T12:00:00Z"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "shift_in_past"
    assert Shift.objects.values().get(pk=shift.pk) == before
    assert not AuditEntry.objects.exists()


def test_a_running_shift_cannot_be_moved_into_the_past_but_its_end_can_be_extended(coordinator, post):
    shift = running_shift(post, started_minutes_ago=30, hours=4)
    before = Shift.objects.values().get(pk=shift.pk)
    for change in (
        {"starts_at": shift.starts_at - timedelta(hours=1)},
        {"ends_at": timezone.now() - timedelta(minutes=1)},
    ):
        with pytest.raises(ServiceError) as caught:
            coordination.shift_update(actor=coordinator, shift_id=shift.pk, **change)
        assert caught.value.code == "shift_in_past"
        assert Shift.objects.values().get(pk=shift.pk) == before
    coordination.shift_update(actor=coordinator, shift_id=shift.pk, ends_at=shift.ends_at + timedelta(hours=1))
    shift.refresh_from_db()
    assert (shift.starts_at, shift.ends_at) == (before["starts_at"], before["ends_at"] + timedelta(hours=1))


def test_reopen_and_an_early_no_show_through_the_api(api, coordinator, post):
    shift = running_shift(post, started_minutes_ago=60)
    done = confirmed(shift)
    attendance.assignment_check_in_manual(assignment_id=done.pk, actor=coordinator, reason="补登记", at=shift.starts_at)
    attendance.assignment_check_out_manual(assignment_id=done.pk, actor=coordinator, reason="补登记")
    client = api(coordinator)
    refused = client.post(f"/api/v1/attendance/{done.pk}/reopen/", {"reason": ""}, format="json")
    assert refused.status_code == 400
    body = client.post(f"/api/v1/attendance/{done.pk}/reopen/", {"reason": "误点签退"}, format="json").json()
    assert (body["status"], body["checked_out_at"], body["credited_minutes"], body["hours_status"]) == (
        "confirmed",
        None,
        None,
        "none",
    )

    fresh = running_shift(post, started_minutes_ago=2)
    missing = confirmed(fresh)
    response = client.post(f"/api/v1/attendance/{missing.pk}/no-show/", {"reason": "没来"}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "no_show_too_early")
    assert response.json()["details"] == {"allowed_at": (fresh.starts_at + timedelta(minutes=30)).isoformat()}
    response = client.post(
        f"/api/v1/attendance/{missing.pk}/no-show/", {"reason": "来电请病假", "early": True}, format="json"
    )
    assert (response.status_code, response.json()["status"]) == (200, "no_show")
    roster = client.get(f"/api/v1/communities/{post.community_id}/roster/?date={timezone.localdate()}").json()
    row = next(row for row in roster["shifts"] if row["id"] == fresh.pk)
    assert row["no_show_from"] == timezone.localtime(fresh.starts_at + timedelta(minutes=30)).isoformat()


def test_attendance_api_shows_wrong_codes_and_the_lock(api, coordinator, post):
    from communities.models import CheckinCodeAttempts

    shift = running_shift(post)
    clean, locked = confirmed(shift), confirmed(shift)
    moment = timezone.now().replace(microsecond=0)
    CheckinCodeAttempts.objects.create(assignment=locked, failures=10, locked_at=moment)
    rows = {row["id"]: row for row in api(coordinator).get(f"/api/v1/attendance/?shift={shift.pk}").json()["results"]}
    assert (rows[clean.pk]["checkin_code_failures"], rows[clean.pk]["checkin_code_locked_at"]) == (0, None)
    assert rows[locked.pk]["checkin_code_failures"] == 10
    assert rows[locked.pk]["checkin_code_locked_at"] == timezone.localtime(moment).isoformat()


# --- Approving a shift's hours at once -------------------------------------------------------


def _completed(shift, minutes=240, hours_status="pending"):
    assignment = confirmed(shift)
    Assignment.objects.filter(pk=assignment.pk).update(
        status="completed",
        checked_in_at=shift.starts_at,
        checked_out_at=shift.ends_at,
        credited_minutes=minutes,
        hours_status=hours_status,
    )
    return assignment


def test_approving_a_shifts_hours_approves_every_pending_one_and_audits_each(api, coordinator, post):
    shift = running_shift(post, started_minutes_ago=300)
    pending = [_completed(shift), _completed(shift, minutes=180)]
    approved_before = _completed(shift, hours_status="approved")
    still_working = confirmed(shift)
    other_shift = _completed(running_shift(post, started_minutes_ago=300))

    response = api(coordinator).post(f"/api/v1/shifts/{shift.pk}/approve-hours/")

    assert response.status_code == 200, response.content
    assert response.json() == {"approved": 2, "assignment_ids": [a.pk for a in pending]}
    statuses = dict(Assignment.objects.values_list("pk", "hours_status"))
    assert [statuses[a.pk] for a in pending] == ["approved", "approved"]
    assert statuses[other_shift.pk] == "pending"
    assert Assignment.objects.get(pk=still_working.pk).status == "confirmed"
    entries = AuditEntry.objects.filter(action="hours_approved").order_by("assignment_id")
    assert [(e.assignment_id, e.actor) for e in entries] == [(a.pk, coordinator) for a in pending]
    assert not AuditEntry.objects.filter(assignment=approved_before).exists()
    assert set(Assignment.objects.filter(pk__in=[a.pk for a in pending]).values_list("verified_by", flat=True)) == {
        coordinator.pk
    }


def test_approving_a_shifts_hours_with_none_pending_or_before_the_start_is_refused(coordinator, post):
    shift = running_shift(post, started_minutes_ago=300)
    _completed(shift, hours_status="approved")
    with pytest.raises(ServiceError) as refused:
        attendance.hours_approve_shift(shift_id=shift.pk, actor=coordinator)
    assert refused.value.code == "hours_not_pending"

    later = ShiftFactory(post=post)
    waiting = _completed(later)
    with pytest.raises(ServiceError) as early:
        attendance.hours_approve_shift(shift_id=later.pk, actor=coordinator)
    assert early.value.code == "shift_not_started"
    assert Assignment.objects.get(pk=waiting.pk).hours_status == "pending"
    assert not AuditEntry.objects.filter(action="hours_approved").exists()


def test_a_coordinator_cannot_approve_another_communitys_shift(api, post):
    shift = running_shift(post, started_minutes_ago=300)
    waiting = _completed(shift)
    outsider = UserFactory(username="elsewhere")
    CommunityFactory().coordinators.add(outsider)
    assert api(outsider).post(f"/api/v1/shifts/{shift.pk}/approve-hours/").status_code == 404
    assert Assignment.objects.get(pk=waiting.pk).hours_status == "pending"
