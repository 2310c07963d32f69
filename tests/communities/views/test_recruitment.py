"""Recruitment pages: the public page and its form, the short link, posters, staff pages."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from tests.factories import (
    OrganizationFactory,
    OrganizationStaffFactory,
    RecruitmentCallFactory,
    VolunteerFactory,
)
from volunteers import login_codes
from volunteers.idcard import make_id_number
from volunteers.models import CallApplication, LoginCode, RecruitmentCall, Volunteer

pytestmark = pytest.mark.django_db

CODE = "112233"


@pytest.fixture(autouse=True)
def known_code(monkeypatch):
    monkeypatch.setattr(login_codes, "_new_code", lambda digits: CODE)


@pytest.fixture
def setting():
    committee = OrganizationFactory(kind="committee")
    bank = OrganizationFactory(parent=committee)
    staff = OrganizationStaffFactory(organization=committee).user
    call = RecruitmentCallFactory(organization=committee, title="青年志愿者招募令")
    return {"committee": committee, "bank": bank, "staff": staff, "call": call}


def page_answer(call, **changes) -> dict:
    data = {
        "mobile": "13700000001",
        "code": CODE,
        "real_name": "周晓雨",
        "id_number": make_id_number("320506", date(1998, 5, 4), 41),
        "organization": str(call.organization_id),
        "emergency_contact_name": "周父",
        "emergency_contact_mobile": "13700000009",
        "agreement_version": "1",
        "accepts_agreement": "on",
        "action": "apply",
    }
    data.update(changes)
    return data


def test_the_short_link_leads_to_the_page(client, setting):
    slug = setting["call"].slug
    response = client.get(f"/c/{slug}/")
    assert (response.status_code, response["Location"]) == (302, f"/calls/{slug}/")
    page = client.get(f"/calls/{slug}/")
    assert page.status_code == 200
    assert "青年志愿者招募令" in page.content.decode()


def test_a_draft_has_no_public_page_and_its_poster_is_for_its_staff(client, setting):
    RecruitmentCall.objects.filter(pk=setting["call"].pk).update(status="draft")
    slug = setting["call"].slug
    assert client.get(f"/calls/{slug}/").status_code == 404
    assert client.get(f"/calls/{slug}/poster.png").status_code == 404
    client.force_login(setting["staff"])
    assert client.get(f"/calls/{slug}/poster.pdf")["Content-Type"] == "application/pdf"


def test_the_posters(client, setting):
    slug = setting["call"].slug
    png = client.get(f"/calls/{slug}/poster.png")
    assert (png.status_code, png["Content-Type"]) == (200, "image/png")
    assert png.content.startswith(b"\x89PNG")
    pdf = client.get(f"/calls/{slug}/poster.pdf")
    assert (pdf.status_code, pdf["Content-Type"]) == (200, "application/pdf")


def test_get_code_then_answer_on_the_page(client, setting):
    call = setting["call"]
    sent = client.post(f"/calls/{call.slug}/", {"mobile": "13700000001", "action": "send", "agreement_version": "1"})
    assert sent.status_code == 200
    assert LoginCode.objects.filter(mobile="13700000001").count() == 1
    done = client.post(f"/calls/{call.slug}/", page_answer(call))
    assert done.status_code == 200
    assert "报名已提交" in done.content.decode()
    assert CallApplication.objects.get().status == "pending"


def test_mistakes_are_shown_on_the_fields_and_nothing_is_kept(client, setting):
    call = setting["call"]
    response = client.post(f"/calls/{call.slug}/", page_answer(call, emergency_contact_mobile="123", real_name=""))
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert set(errors) == {"emergency_contact_mobile", "real_name"}
    assert CallApplication.objects.count() == 0


def test_someone_else_details_say_contact_staff_and_no_more(client, setting):
    someone = VolunteerFactory(mobile="13800000000", real_name="王某某")
    call = setting["call"]
    client.post(f"/calls/{call.slug}/", {"mobile": "13700000001", "action": "send", "agreement_version": "1"})
    response = client.post(f"/calls/{call.slug}/", page_answer(call, id_number=someone.id_number))
    assert response.status_code == 400
    text = response.content.decode()
    assert "请联系发布本招募令的工作人员" in text
    assert "王某某" not in text and "138****0000" not in text


def test_staff_create_publish_and_review_on_the_pages(client, setting):
    client.force_login(setting["staff"])
    created = client.post(
        "/committee/calls/new/",
        {
            "organization": setting["bank"].pk,
            "title": "第二期招募令",
            "text": "招募",
            "target_count": "5",
            "deadline": (timezone.localtime() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M"),
            "approval_required": "on",
            "agreement_text": "协议",
        },
    )
    call = RecruitmentCall.objects.get(title="第二期招募令")
    assert created["Location"] == f"/committee/calls/{call.pk}/"
    client.post(f"/committee/calls/{call.pk}/publish/")
    call.refresh_from_db()
    assert call.status == "published"
    anonymous = client.__class__()
    anonymous.post(f"/calls/{call.slug}/", {"mobile": "13700000001", "action": "send", "agreement_version": "1"})
    anonymous.post(f"/calls/{call.slug}/", page_answer(call, organization=str(setting["bank"].pk)))
    application = CallApplication.objects.get(call=call)
    detail = client.get(f"/committee/calls/{call.pk}/")
    assert "137****0001" in detail.content.decode() and "13700000001" not in detail.content.decode()
    # The progress reads itself again from the call's API (counts only).
    assert f'data-api="/api/v1/calls/{call.pk}/"' in detail.content.decode()
    assert client.get(f"/api/v1/calls/{call.pk}/").json()["progress"]["answered"] == 1
    client.post(f"/committee/calls/{call.pk}/review/", {"action": "approve", "application": [application.pk]})
    application.refresh_from_db()
    assert application.status == "approved"
    assert Volunteer.objects.get(mobile="13700000001").organization == setting["bank"]


def test_reject_on_the_page_needs_a_reason(client, setting):
    call = setting["call"]
    client.post(f"/calls/{call.slug}/", {"mobile": "13700000001", "action": "send", "agreement_version": "1"})
    client.post(f"/calls/{call.slug}/", page_answer(call))
    application = CallApplication.objects.get()
    client.force_login(setting["staff"])
    client.post(
        f"/committee/calls/{call.pk}/review/", {"action": "reject", "application": application.pk, "reason": ""}
    )
    application.refresh_from_db()
    assert application.status == "pending"
    client.post(
        f"/committee/calls/{call.pk}/review/", {"action": "reject", "application": application.pk, "reason": "名额已满"}
    )
    application.refresh_from_db()
    assert (application.status, application.reject_reason) == ("rejected", "名额已满")


def test_other_staff_do_not_see_the_call(client, setting):
    client.force_login(OrganizationStaffFactory(organization=OrganizationFactory()).user)
    assert client.get(f"/committee/calls/{setting['call'].pk}/").status_code == 404
    assert client.get("/committee/calls/").status_code == 200


def test_answers_on_the_page_are_throttled_per_address(client, setting, monkeypatch):
    from config.throttling import ScopedRateThrottle

    monkeypatch.setattr(
        ScopedRateThrottle, "THROTTLE_RATES", {**ScopedRateThrottle.THROTTLE_RATES, "public_call_apply": "2/min"}
    )
    call = setting["call"]
    statuses = [client.post(f"/calls/{call.slug}/", page_answer(call, code="")).status_code for _ in range(3)]
    assert statuses == [400, 400, 429]
    assert CallApplication.objects.count() == 0
