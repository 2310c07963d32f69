"""The recruitment API: staff endpoints within scope, the public call and its answer."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from tests.factories import (
    OrganizationFactory,
    OrganizationStaffFactory,
    RecruitmentCallFactory,
    SkillFactory,
    TeamFactory,
    VolunteerCategoryFactory,
    VolunteerFactory,
)
from volunteers import login_codes
from volunteers.idcard import make_id_number
from volunteers.models import CallApplication, LoginCode, RecruitmentCall

pytestmark = pytest.mark.django_db

CODE = "135790"


@pytest.fixture(autouse=True)
def known_code(monkeypatch):
    monkeypatch.setattr(login_codes, "_new_code", lambda digits: CODE)


@pytest.fixture
def setting():
    committee = OrganizationFactory(kind="committee")
    bank = OrganizationFactory(parent=committee)
    staff = OrganizationStaffFactory(organization=committee).user
    call = RecruitmentCallFactory(organization=committee)
    return {"committee": committee, "bank": bank, "staff": staff, "call": call}


def answer(call, n: int = 1, **changes) -> dict:
    data = {
        "mobile": f"1370000{n:04d}",
        "code": CODE,
        "real_name": f"报名者{n}",
        "id_number": make_id_number("320506", date(1995, 3, 3), n),
        "organization": call.organization_id,
        "emergency_contact_name": "家人",
        "emergency_contact_mobile": "13700009999",
        "agreement_version": 1,
        "accepts_agreement": True,
    }
    data.update(changes)
    return data


def submit(api_client, call, n: int = 1, **changes):
    data = answer(call, n, **changes)
    assert (
        api_client.post(
            f"/api/v1/public/calls/{call.slug}/code/", {"mobile": data["mobile"]}, format="json"
        ).status_code
        == 202
    )
    return api_client.post(f"/api/v1/public/calls/{call.slug}/apply/", data, format="json")


def test_staff_create_then_patch_a_call(api_client, setting):
    api_client.force_authenticate(setting["staff"])
    skill = SkillFactory()
    response = api_client.post(
        "/api/v1/calls/",
        {
            "organization": setting["bank"].pk,
            "title": "招募令",
            "text": "招募",
            "target_count": 10,
            "deadline": (timezone.now() + timedelta(days=2)).isoformat(),
            "required_skills": [skill.pk],
            "agreement_text": "协议一",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["status"], body["agreement"], body["progress"]) == (
        "draft",
        {"version": 1, "text": "协议一"},
        {"answered": 0, "approved": 0, "pending": 0, "target": 10},
    )
    assert body["links"]["page"].endswith(f"/calls/{body['slug']}/")
    assert body["links"]["poster_pdf"].endswith(f"/calls/{body['slug']}/poster.pdf")
    patched = api_client.patch(
        f"/api/v1/calls/{body['id']}/", {"agreement_text": "协议二", "target_count": 12}, format="json"
    )
    assert patched.status_code == 200
    assert (patched.json()["agreement"]["version"], patched.json()["target_count"]) == (2, 12)
    published = api_client.post(f"/api/v1/calls/{body['id']}/publish/")
    assert published.json()["status"] == "published"


def test_the_public_call_shows_no_person(api_client, setting):
    call = setting["call"]
    TeamFactory(organization=setting["bank"], name="突击队一")
    VolunteerCategoryFactory(code="youth", name="青年")
    submit(api_client, call)
    response = api_client.get(f"/api/v1/public/calls/{call.slug}/")
    assert response.status_code == 200
    body = response.json()
    assert (body["title"], body["open"], body["approved"], body["agreement"]["version"]) == (call.title, True, 0, 1)
    assert [org["id"] for org in body["choices"]["organizations"]] == [setting["committee"].pk, setting["bank"].pk]
    assert [team["name"] for team in body["choices"]["teams"]] == ["突击队一"]
    text = response.content.decode()
    assert "13700000001" not in text and "报名者1" not in text


def test_a_draft_is_not_public(api_client, setting):
    RecruitmentCall.objects.filter(pk=setting["call"].pk).update(status="draft")
    assert api_client.get(f"/api/v1/public/calls/{setting['call'].slug}/").status_code == 404
    assert (
        api_client.post(f"/api/v1/public/calls/{setting['call'].slug}/code/", {"mobile": "13700000001"}).status_code
        == 404
    )


def test_answering_then_review_by_api(api_client, setting):
    call = setting["call"]
    first = submit(api_client, call, 1)
    assert first.status_code == 201, first.json()
    assert first.json()["status"] == "pending"
    assert submit(api_client, call, 2).status_code == 201
    api_client.force_authenticate(setting["staff"])
    queue = api_client.get(f"/api/v1/calls/{call.pk}/applications/?status=pending")
    rows = queue.json()["results"]
    assert [row["mobile"] for row in rows] == ["137****0001", "137****0002"]
    assert rows[0]["id_number_masked"].startswith("3205") and "*" in rows[0]["id_number_masked"]
    first_id, second_id = (row["id"] for row in rows)
    approved = api_client.post(f"/api/v1/applications/{first_id}/approve/")
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved" and approved.json()["volunteer_number"]
    rejected = api_client.post(f"/api/v1/applications/{second_id}/reject/", {"reason": "年龄不符"}, format="json")
    assert (rejected.json()["status"], rejected.json()["reject_reason"]) == ("rejected", "年龄不符")
    again = api_client.post(f"/api/v1/applications/{first_id}/approve/")
    assert (again.status_code, again.json()["code"]) == (409, "application_not_pending")
    progress = api_client.get(f"/api/v1/calls/{call.pk}/").json()["progress"]
    assert progress == {"answered": 2, "approved": 1, "pending": 0, "target": 20}


def test_contact_staff_says_nothing_about_the_other_account(api_client, setting):
    someone = VolunteerFactory(mobile="13800000000", real_name="王某某")
    response = submit(api_client, setting["call"], 1, id_number=someone.id_number)
    assert response.status_code == 409
    body = response.json()
    assert (body["code"], body["details"]) == ("contact_staff", {})
    assert "138" not in response.content.decode() and "王" not in response.content.decode()
    assert CallApplication.objects.count() == 0


def test_a_wrong_code_answers_401_and_records_nothing(api_client, setting):
    call = setting["call"]
    data = answer(call, code="000000")
    api_client.post(f"/api/v1/public/calls/{call.slug}/code/", {"mobile": data["mobile"]}, format="json")
    response = api_client.post(f"/api/v1/public/calls/{call.slug}/apply/", data, format="json")
    assert (response.status_code, response.json()["code"]) == (401, "login_code_invalid")
    assert CallApplication.objects.count() == 0
    assert LoginCode.objects.get(mobile=data["mobile"]).attempts == 1


def test_the_public_answer_is_throttled_per_address(api_client, setting, monkeypatch):
    from config.throttling import ScopedRateThrottle

    monkeypatch.setattr(
        ScopedRateThrottle, "THROTTLE_RATES", {**ScopedRateThrottle.THROTTLE_RATES, "public_call_apply": "2/min"}
    )
    call = setting["call"]
    statuses = [
        api_client.post(f"/api/v1/public/calls/{call.slug}/apply/", {}, format="json").status_code for _ in range(3)
    ]
    assert statuses == [400, 400, 429]


def test_staff_list_pins_its_queries(api_client, setting, django_assert_num_queries):
    for _ in range(3):
        RecruitmentCallFactory(organization=setting["bank"])
    api_client.force_authenticate(setting["staff"])
    # staff role (1), subtree (1), count (1), page (1): the same for any number of calls
    with django_assert_num_queries(4):
        response = api_client.get("/api/v1/calls/")
    assert response.json()["count"] == 4


def test_review_queue_pins_its_queries(api_client, setting, django_assert_num_queries):
    call = setting["call"]
    for n in range(1, 4):
        recruitment_submit = submit(api_client, call, n)
        assert recruitment_submit.status_code == 201
    api_client.force_authenticate(setting["staff"])
    with django_assert_num_queries(9):
        response = api_client.get(f"/api/v1/calls/{call.pk}/applications/")
    assert len(response.json()["results"]) == 3


def test_other_staff_get_404_and_volunteers_403(api_client, setting):
    call = setting["call"]
    outsider = OrganizationStaffFactory(organization=OrganizationFactory()).user
    api_client.force_authenticate(outsider)
    assert api_client.get(f"/api/v1/calls/{call.pk}/").status_code == 404
    assert api_client.get(f"/api/v1/calls/{call.pk}/applications/").status_code == 404
    api_client.force_authenticate(VolunteerFactory().user)
    assert api_client.get(f"/api/v1/calls/{call.pk}/").status_code == 403
    assert api_client.get("/api/v1/calls/").status_code == 403
