"""The sign-up contract over HTTP: paths, fields, error bodies, and pinned query counts."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from communities.models import Assignment, Notification, Shift
from communities.notifications import outbox
from communities.services import signup
from tests.factories import (
    AssignmentFactory,
    CommunityFactory,
    PostFactory,
    PostTypeFactory,
    ShiftFactory,
    SkillFactory,
    VolunteerFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def volunteer():
    return VolunteerFactory()


@pytest.fixture
def client_for(api_client):
    def login(volunteer_or_user, language=None):
        user = getattr(volunteer_or_user, "user", volunteer_or_user)
        token, _ = Token.objects.get_or_create(user=user)
        api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}", HTTP_ACCEPT_LANGUAGE=language or "zh-hans")
        return api_client

    return login


def test_token_login_with_mobile_number(api_client, volunteer):
    response = api_client.post(
        "/api/v1/auth/token/", {"username": volunteer.mobile, "password": "pass-Word-123"}, format="json"
    )
    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=volunteer.user).key}


def test_token_login_wrong_password_is_401_with_code(api_client, volunteer):
    response = api_client.post("/api/v1/auth/token/", {"username": volunteer.mobile, "password": "nope"}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert not Token.objects.filter(user=volunteer.user).exists()


def test_me_shows_masked_id_and_standing(client_for, volunteer):
    response = client_for(volunteer).get("/api/v1/me/")
    assert response.status_code == 200
    body = response.json()
    assert body["volunteer_number"] == volunteer.volunteer_number
    assert body["id_number_masked"] == volunteer.id_number_masked
    assert body["id_number_masked"].count("*") == 10
    assert volunteer.id_number not in response.content.decode()
    assert body["roles"] == ["volunteer"]
    assert body["total_hours"] == 0
    assert body["star_level"] == 0


def test_me_counts_approved_hours_for_stars(client_for, volunteer):
    past = ShiftFactory(
        starts_at=timezone.now() - timedelta(days=3), ends_at=timezone.now() - timedelta(days=2, hours=12)
    )
    AssignmentFactory(
        volunteer=volunteer,
        shift=past,
        status=Assignment.Status.COMPLETED,
        credited_minutes=101 * 60,
        hours_status=Assignment.HoursStatus.APPROVED,
    )
    body = client_for(volunteer).get("/api/v1/me/").json()
    assert body["total_hours"] == 101.0
    assert body["star_level"] == 1


def test_anonymous_is_refused_with_code(api_client):
    response = api_client.get("/api/v1/shifts/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_signup_confirms_then_waitlists(client_for):
    shift = ShiftFactory(capacity=1)
    first, second = VolunteerFactory(), VolunteerFactory()
    response = client_for(first).post(f"/api/v1/shifts/{shift.pk}/signup/")
    assert response.status_code == 201
    body = response.json()
    assert (body["shift"], body["status"], body["waitlist_position"]) == (shift.pk, "confirmed", None)

    response = client_for(second).post(f"/api/v1/shifts/{shift.pk}/signup/")
    assert response.status_code == 201
    assert (response.json()["status"], response.json()["waitlist_position"]) == ("waitlisted", 1)
    shift.refresh_from_db()
    assert (shift.confirmed_count, shift.waitlist_count) == (1, 1)


def test_signup_twice_is_409_already_signed_up_and_changes_nothing(client_for, volunteer):
    shift = ShiftFactory()
    client = client_for(volunteer)
    assert client.post(f"/api/v1/shifts/{shift.pk}/signup/").status_code == 201
    response = client.post(f"/api/v1/shifts/{shift.pk}/signup/")
    assert response.status_code == 409
    assert response.json()["code"] == "already_signed_up"
    assert Assignment.objects.filter(shift=shift).count() == 1
    shift.refresh_from_db()
    assert shift.confirmed_count == 1


def test_error_message_follows_accept_language(client_for, volunteer):
    shift = ShiftFactory(status=Shift.Status.CANCELLED)
    zh = client_for(volunteer, "zh-hans").post(f"/api/v1/shifts/{shift.pk}/signup/").json()
    en = client_for(volunteer, "en").post(f"/api/v1/shifts/{shift.pk}/signup/").json()
    assert zh["code"] == en["code"] == "shift_cancelled"
    assert en["message"] == "This shift has been cancelled."
    assert zh["message"] == "该班次已取消。"


def test_not_eligible_is_403_with_reason(client_for, volunteer):
    post_type = PostTypeFactory()
    post_type.required_skills.add(SkillFactory(code="first-aid"))
    shift = ShiftFactory(post=PostFactory(post_type=post_type))
    response = client_for(volunteer).post(f"/api/v1/shifts/{shift.pk}/signup/")
    assert response.status_code == 403
    assert response.json()["code"] == "not_eligible"
    assert response.json()["details"] == {"reason": "skill", "missing": ["first-aid"]}
    assert not Assignment.objects.exists()


def test_overlapping_shift_names_the_other_shift(client_for, volunteer):
    first = ShiftFactory()
    second = ShiftFactory(starts_at=first.starts_at + timedelta(hours=1), ends_at=first.ends_at + timedelta(hours=1))
    client = client_for(volunteer)
    assert client.post(f"/api/v1/shifts/{first.pk}/signup/").status_code == 201
    response = client.post(f"/api/v1/shifts/{second.pk}/signup/")
    assert response.status_code == 409
    assert response.json()["code"] == "overlapping_shift"
    assert response.json()["details"]["shift"] == first.pk


def test_unknown_shift_is_404_with_code(client_for, volunteer):
    response = client_for(volunteer).post("/api/v1/shifts/999999/signup/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_malformed_filter_is_400_with_field_errors(client_for, volunteer):
    response = client_for(volunteer).get("/api/v1/shifts/?starts_after=yesterday&community=abc")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert set(body["details"]) == {"starts_after", "community"}


def test_cancel_frees_the_place_for_the_first_waitlisted(client_for):
    shift = ShiftFactory(capacity=1)
    holder, waiting = VolunteerFactory(), VolunteerFactory()
    client_for(holder).post(f"/api/v1/shifts/{shift.pk}/signup/")
    client_for(waiting).post(f"/api/v1/shifts/{shift.pk}/signup/")
    mine = Assignment.objects.get(volunteer=holder)
    response = client_for(holder).post(f"/api/v1/assignments/{mine.pk}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    promoted = Assignment.objects.get(volunteer=waiting)
    assert (promoted.status, promoted.waitlist_order) == ("confirmed", None)
    shift.refresh_from_db()
    assert (shift.confirmed_count, shift.waitlist_count) == (1, 0)


def test_cannot_cancel_someone_elses_assignment(client_for):
    other = AssignmentFactory()
    response = client_for(VolunteerFactory()).post(f"/api/v1/assignments/{other.pk}/cancel/")
    assert response.status_code == 404
    other.refresh_from_db()
    assert other.status == "confirmed"


def test_shift_list_fields_and_my_assignment(client_for, volunteer):
    shift = ShiftFactory(capacity=3)
    ShiftFactory(starts_at=shift.starts_at + timedelta(hours=6), ends_at=shift.ends_at + timedelta(hours=6))
    mine = AssignmentFactory(shift=shift, volunteer=volunteer)
    Shift.objects.filter(pk=shift.pk).update(confirmed_count=1)
    body = client_for(volunteer).get("/api/v1/shifts/").json()
    assert body["count"] == 2
    first = body["results"][0]
    assert first["id"] == shift.pk
    assert {
        "community",
        "post",
        "post_type",
        "starts_at",
        "ends_at",
        "capacity",
        "confirmed_count",
        "waitlist_count",
    } <= set(first)
    assert first["confirmed_count"] == 1
    assert first["my_assignment"]["id"] == mine.pk
    assert body["results"][1]["my_assignment"] is None


def test_shift_list_filters(client_for, volunteer):
    community = CommunityFactory()
    full = ShiftFactory(post=PostFactory(community=community), capacity=1)
    Shift.objects.filter(pk=full.pk).update(confirmed_count=1)
    open_shift = ShiftFactory(post=PostFactory(community=community))
    ShiftFactory()  # another community
    client = client_for(volunteer)
    ids = [s["id"] for s in client.get(f"/api/v1/shifts/?community={community.pk}").json()["results"]]
    assert sorted(ids) == sorted([full.pk, open_shift.pk])
    ids = [s["id"] for s in client.get(f"/api/v1/shifts/?community={community.pk}&has_space=true").json()["results"]]
    assert ids == [open_shift.pk]


def test_shift_list_shows_every_shift_not_yet_ended_and_none_that_has(client_for, volunteer):
    now = timezone.now()
    day_long = ShiftFactory(starts_at=now - timedelta(hours=23, minutes=59), ends_at=now + timedelta(minutes=1))
    running = ShiftFactory(starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=3))
    upcoming = ShiftFactory(starts_at=now + timedelta(days=2), ends_at=now + timedelta(days=2, hours=4))
    ShiftFactory(starts_at=now - timedelta(hours=5), ends_at=now - timedelta(minutes=1))  # over
    ids = [row["id"] for row in client_for(volunteer).get("/api/v1/shifts/?page_size=50").json()["results"]]
    assert ids == [day_long.pk, running.pk, upcoming.pk]


@pytest.mark.parametrize("page_size", [1, 5, 20])
def test_shift_list_query_count_is_fixed(client_for, volunteer, django_assert_num_queries, page_size):
    shifts = [ShiftFactory(starts_at=timezone.now() + timedelta(days=1, hours=i)) for i in range(20)]
    for shift in shifts[::2]:
        AssignmentFactory(shift=shift, volunteer=VolunteerFactory())
    client = client_for(volunteer)
    # auth token, user+volunteer, count, page, my assignments, the offers (skills,
    # qualifications, requirements, commitments)
    with django_assert_num_queries(6):
        response = client.get(f"/api/v1/shifts/?page_size={page_size}")
    assert len(response.json()["results"]) == page_size


@pytest.mark.parametrize("count", [1, 10])
def test_assignment_list_query_count_is_fixed(client_for, volunteer, django_assert_num_queries, count):
    for i in range(count):
        AssignmentFactory(
            volunteer=volunteer, shift=ShiftFactory(starts_at=timezone.now() + timedelta(days=i + 1, hours=1))
        )
    client = client_for(volunteer)
    with django_assert_num_queries(4):
        response = client.get("/api/v1/assignments/")
    assert response.json()["count"] == count


@pytest.mark.parametrize("full", [False, True], ids=["confirmed", "waitlisted"])
@pytest.mark.parametrize("texts_kept", [False, True], ids=["first-in-process", "texts-kept"])
def test_signup_query_count_is_pinned(client_for, volunteer, django_assert_num_queries, full, texts_kept):
    shift = ShiftFactory(capacity=1)
    if full:
        client_for(VolunteerFactory()).post(f"/api/v1/shifts/{shift.pk}/signup/")
    outbox.sign_up_texts_forget()
    if texts_kept and signup.signs_up_in_database():
        outbox.sign_up_texts_for(shift.pk)
    client = client_for(volunteer)
    # Python form: token+user; shift locked with post, post type, community; the post type's
    # requirements (one UNION); the volunteer locked; their live place on this shift and their
    # nearby shifts; the counter (place or ticket); the assignment; the notification rows.
    # Database function (PostgreSQL): token+user; the shift's times and names for the texts,
    # unless this process kept them from an earlier sign-up; the function, which writes the
    # notification rows too. Nothing after. Two more here: the test's own transaction turns the
    # service's statement into a savepoint and its release.
    expected = (2 if texts_kept else 3) if signup.signs_up_in_database() else 8
    with django_assert_num_queries(expected + 2):
        response = client.post(f"/api/v1/shifts/{shift.pk}/signup/")
    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["waitlist_position"]) == (("waitlisted", 1) if full else ("confirmed", None))
    assert Notification.objects.filter(assignment_id=body["id"], channel="inapp").count() == 1


def test_signup_reads_the_volunteers_skills_only_when_the_post_requires_some(client_for, django_assert_num_queries):
    skill = SkillFactory()
    volunteer = VolunteerFactory()
    volunteer.skills.add(skill)
    post_type = PostTypeFactory()
    post_type.required_skills.add(skill)
    shift = ShiftFactory(post=PostFactory(post_type=post_type))
    client = client_for(volunteer)
    # The eight above and the volunteer's skills; the database function reads them itself.
    with django_assert_num_queries((3 if signup.signs_up_in_database() else 9) + 2):
        response = client.post(f"/api/v1/shifts/{shift.pk}/signup/")
    assert (response.status_code, response.json()["status"]) == (201, "confirmed")


def test_waitlist_position_answered_is_the_one_the_list_shows(client_for):
    shift = ShiftFactory(capacity=1)
    client_for(VolunteerFactory()).post(f"/api/v1/shifts/{shift.pk}/signup/")
    answers = [client_for(VolunteerFactory()).post(f"/api/v1/shifts/{shift.pk}/signup/").json() for _ in range(3)]
    first = answers[0]["id"]
    client_for(Assignment.objects.get(pk=first).volunteer).post(f"/api/v1/assignments/{first}/cancel/")
    assert [a["waitlist_position"] for a in answers] == [1, 2, 3]
    for answer in answers[1:]:
        volunteer = Assignment.objects.get(pk=answer["id"]).volunteer
        listed = client_for(volunteer).get("/api/v1/assignments/").json()["results"]
        assert [a["waitlist_position"] for a in listed] == [answer["waitlist_position"] - 1]


def test_community_list_filters_by_district_and_text(client_for, volunteer):
    a = CommunityFactory(name="金鸡湖社区")
    CommunityFactory(name="平江社区")
    client = client_for(volunteer)
    body = client.get(f"/api/v1/communities/?district={a.street.district.code}").json()
    assert [c["id"] for c in body["results"]] == [a.pk]
    body = client.get("/api/v1/communities/?q=金鸡").json()
    assert [c["name"] for c in body["results"]] == ["金鸡湖社区"]


def test_calendar_feed_behind_resettable_token(client_for, api_client, volunteer):
    AssignmentFactory(volunteer=volunteer)
    link = client_for(volunteer).get("/api/v1/me/calendar-link/").json()["url"]
    api_client.credentials()
    path = link.split("testserver", 1)[1]
    response = api_client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar")
    assert b"BEGIN:VEVENT" in response.content
    new_link = client_for(volunteer).post("/api/v1/me/calendar-link/").json()["url"]
    assert new_link != link
    api_client.credentials()
    assert api_client.get(path).status_code == 404
    assert api_client.get(new_link.split("testserver", 1)[1]).status_code == 200


def test_the_shared_serializer_renders_as_a_fresh_one(client_for):
    from communities.api.serializers import AssignmentSerializer

    shift = ShiftFactory(capacity=1)
    answers = [client_for(VolunteerFactory()).post(f"/api/v1/shifts/{shift.pk}/signup/").json() for _ in range(3)]
    for answer in answers:
        assignment = Assignment.objects.get(pk=answer["id"])
        assert AssignmentSerializer.represent(assignment) == AssignmentSerializer(assignment).data
        assert answer == dict(AssignmentSerializer(assignment).data)
    assert [a["status"] for a in answers] == ["confirmed", "waitlisted", "waitlisted"]


@pytest.mark.parametrize("pk", ["0", "-5", "99999999999999999999", "9223372036854775807", "abc"])
def test_a_shift_id_out_of_range_is_not_found(client_for, volunteer, pk):
    response = client_for(volunteer).post(f"/api/v1/shifts/{pk}/signup/")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_shift_list_starts_near_home_and_says_what_i_can_do(client_for):
    home = CommunityFactory(latitude=Decimal("31.300000"), longitude=Decimal("120.600000"))
    volunteer = VolunteerFactory(residence_community=home)
    needs_skill = PostTypeFactory()
    needs_skill.required_skills.add(SkillFactory(name="急救", name_en="First aid"))
    elsewhere = ShiftFactory(post=PostFactory(post_type=needs_skill))
    mine = ShiftFactory(post=PostFactory(community=home), starts_at=elsewhere.starts_at + timedelta(days=1))
    rows = client_for(volunteer, "en").get("/api/v1/shifts/").json()["results"]
    assert [(r["id"], r["nearness"], r["distance_km"]) for r in rows] == [(mine.pk, 0, 0.0), (elsewhere.pk, 3, None)]
    assert rows[0]["offer"] == {"action": "sign_up", "code": None, "reasons": []}
    assert rows[1]["offer"] == {
        "action": "unavailable",
        "code": "not_eligible",
        "reasons": ["This post needs a skill you have not registered: First aid."],
    }
    street = home.street
    rows = client_for(volunteer).get(f"/api/v1/shifts/?street={street.pk}&order=soon").json()["results"]
    assert [r["id"] for r in rows] == [mine.pk]
