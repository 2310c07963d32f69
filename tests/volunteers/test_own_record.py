"""What a volunteer changes themself: email, emergency contact, skills (``PATCH /api/v1/me/``)
and their mobile number by a code texted to the new one (``POST /api/v1/me/mobile/``)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from communities.models import AuditEntry
from tests.factories import SkillFactory, UserFactory, VolunteerFactory
from tests.test_access_control import fingerprint
from tests.volunteers.test_login_codes import Outbox, fresh_limits  # noqa: F401 - fixture
from volunteers.models import Volunteer

pytestmark = pytest.mark.django_db(transaction=True)


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_a_volunteer_changes_email_emergency_contact_and_skills():
    SkillFactory(code="medical")
    volunteer = VolunteerFactory()
    client = client_for(volunteer.user)
    response = client.patch(
        "/api/v1/me/",
        {
            "email": "me@example.com",
            "emergency_contact_name": "李母",
            "emergency_contact_mobile": "13600000001",
            "skills": ["medical"],
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["email"], body["emergency_contact_name"], body["skills"]) == ("me@example.com", "李母", ["medical"])
    before = fingerprint()
    for bad in ({"email": "not-an-address"}, {"emergency_contact_mobile": "123"}, {"skills": ["nope"]}):
        response = client.patch("/api/v1/me/", bad, format="json")
        assert (response.status_code, response.json()["code"]) == (400, "invalid"), bad
    # Insurance is not the volunteer's to set: it needs a change request.
    response = client.patch("/api/v1/me/", {"insurance_valid_until": "2099-01-01"}, format="json")
    assert response.status_code == 200
    assert fingerprint() == before


def test_the_mobile_changes_only_with_the_code_texted_to_the_new_number():
    outbox = Outbox()
    volunteer = VolunteerFactory()
    old = volunteer.mobile
    client = client_for(volunteer.user)
    response = client.post("/api/v1/me/mobile/", {"mobile": "13711112222"}, format="json")
    assert response.status_code == 202, response.json()
    texts = [line for line in outbox.lines() if line["to"] == "13711112222"]
    assert len(texts) == 1 and "更换手机号" in texts[0]["text"]
    code = texts[0]["text"].split("验证码为")[1][:6]
    wrong = "000000" if code != "000000" else "111111"
    response = client.post("/api/v1/me/mobile/", {"mobile": "13711112222", "code": wrong}, format="json")
    assert (response.status_code, response.json()["code"]) == (401, "login_code_invalid")
    assert Volunteer.objects.get(pk=volunteer.pk).mobile == old
    response = client.post("/api/v1/me/mobile/", {"mobile": "13711112222", "code": code}, format="json")
    assert response.status_code == 200, response.json()
    # The new log-in name (the number), and never the old number in full.
    assert response.json() == {"mobile_masked": "137****2222", "username": "13711112222"}
    volunteer.refresh_from_db()
    volunteer.user.refresh_from_db()
    assert (volunteer.mobile, volunteer.user.username) == ("13711112222", "13711112222")
    # The change is in the volunteer's trail, by them, both numbers masked.
    (entry,) = AuditEntry.objects.filter(volunteer=volunteer, action="mobile_changed")
    masked_old = f"{old[:3]}****{old[-4:]}"
    assert (entry.actor_id, entry.before, entry.after) == (
        volunteer.user_id,
        {"mobile": masked_old},
        {"mobile": "137****2222"},
    )
    # The code is spent.
    response = client.post("/api/v1/me/mobile/", {"mobile": "13711112222", "code": code}, format="json")
    assert response.status_code in (400, 401)


def test_a_number_someone_else_has_is_refused_before_any_text():
    outbox = Outbox()
    volunteer, other = VolunteerFactory(), VolunteerFactory()
    before = fingerprint()
    response = client_for(volunteer.user).post("/api/v1/me/mobile/", {"mobile": other.mobile}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "mobile_taken")
    assert fingerprint() == before
    assert [line for line in outbox.lines() if line["to"] == other.mobile] == []
    staff = UserFactory()
    response = client_for(staff).post("/api/v1/me/mobile/", {"mobile": "13711113333"}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "not_a_volunteer")


def test_removing_a_skill_a_place_needs_is_refused_until_the_places_are_given_up():
    from communities.models import Assignment
    from tests.communities.views.test_records import placed_needing_a_skill

    volunteer = VolunteerFactory()
    _shift, place = placed_needing_a_skill(volunteer, code="medical")
    client = client_for(volunteer.user)
    before = fingerprint()
    response = client.patch("/api/v1/me/", {"skills": []}, format="json")
    assert (response.status_code, response.json()["code"]) == (409, "volunteer_has_upcoming_shifts")
    assert [p["assignment"] for p in response.json()["details"]["shifts"]] == [place.pk]
    assert fingerprint() == before
    response = client.patch("/api/v1/me/", {"skills": [], "release_places": True}, format="json")
    assert response.status_code == 200, response.json()
    assert (response.json()["skills"], response.json()["released"]) == ([], 1)
    assert Assignment.objects.get(pk=place.pk).status == "cancelled"


def test_the_mobile_page_texts_a_code_then_changes_the_number_with_it():
    from django.test import Client

    outbox = Outbox()
    volunteer = VolunteerFactory()
    old = volunteer.mobile
    client = Client()
    client.force_login(volunteer.user)
    page = client.post("/me/mobile/", {"mobile": "13755556666"})
    assert page.status_code == 200 and page.context["code_sent"]
    code = outbox.codes("13755556666")[-1]
    wrong = "000000" if code != "000000" else "111111"
    page = client.post("/me/mobile/", {"mobile": "13755556666", "code": wrong})
    assert page.status_code == 200 and page.context["form"].errors["code"]
    # The number and the trail are as they were.
    assert Volunteer.objects.get(pk=volunteer.pk).mobile == old
    assert not AuditEntry.objects.filter(volunteer=volunteer).exists()
    page = client.post("/me/mobile/", {"mobile": "13755556666", "code": code})
    assert (page.status_code, page["Location"]) == (302, "/me/profile/")
    volunteer.refresh_from_db()
    assert volunteer.mobile == "13755556666"
    entry = AuditEntry.objects.get(volunteer=volunteer, action="mobile_changed")
    assert (entry.before, entry.after) == ({"mobile": f"{old[:3]}****{old[-4:]}"}, {"mobile": "137****6666"})
