"""A stranger opens a recruitment call from its poster's link on a phone, answers it with a texted
code, is approved by staff on the review page, logs in by code and signs up for a shift.

Pages are checked for sideways scrolling at 360 px and saved at phone and desktop widths, in
Chinese and English (artifacts/screenshots/).
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from communities.models import Assignment
from communities.services.coordination import dispatch_create
from tests.factories import (
    CommunityFactory,
    OrganizationFactory,
    OrganizationStaffFactory,
    PostFactory,
    PostTypeFactory,
    RecruitmentCallFactory,
    ShiftFactory,
    TeamFactory,
    UserFactory,
)
from tests.waiting import wait_until
from volunteers.idcard import make_id_number
from volunteers.models import CallApplication, Volunteer

pytestmark = pytest.mark.django_db(transaction=True)

MOBILE = "13712340077"
ID_NUMBER = make_id_number("320506", date(1999, 8, 8), 52)


def _day_at(days: int, hour: int):
    day = timezone.localdate() + timedelta(days=days)
    return timezone.make_aware(timezone.datetime(day.year, day.month, day.day, hour))


def _outbox_lines(after: int) -> list[dict]:
    path = Path(settings.NOTIFICATIONS["SMS_FILE"])
    if not path.exists():
        return []
    with open(path, "rb") as handle:
        handle.seek(after)
        return [json.loads(line) for line in handle.read().splitlines() if line.strip()]


def _outbox_code(after: int) -> str | None:
    codes = [
        re.search(r"[0-9]{6}", line["text"]).group(0)
        for line in _outbox_lines(after)
        if line["to"] == MOBILE and line["key"].startswith("login-code:")
    ]
    return codes[-1] if codes else None


def _outbox_size() -> int:
    path = Path(settings.NOTIFICATIONS["SMS_FILE"])
    return path.stat().st_size if path.exists() else 0


@pytest.fixture
def mobilisation(settings):
    # The approval text is not urgent: inside the quiet hours (22:00-07:00 by default) it would
    # wait for the morning. The journey runs at any hour.
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "QUIET_HOURS_START": "", "QUIET_HOURS_END": ""}
    committee = OrganizationFactory(
        code="SZJR", name="苏州金融团工委", name_en="Suzhou finance league", kind="committee"
    )
    bank = OrganizationFactory(code="BANK7", name="苏州银行", name_en="Bank of Suzhou", parent=committee)
    TeamFactory(organization=bank, name="苏州银行青年突击队")
    staff = UserFactory(username="staff-calls")
    OrganizationStaffFactory(user=staff, organization=committee)
    call = RecruitmentCallFactory(
        organization=committee,
        title="金融青年抗疫志愿者招募令",
        text="苏州金融团工委招募青年志愿者，支援社区封控点执勤、核酸检测扫码、物资配送。",
        target_count=50,
        agreement="志愿服务协议：服从社区安排，做好个人防护；组织方为志愿者购买意外伤害保险。",
    )
    community = CommunityFactory(name="三香社区", name_en="Sanxiang Community")
    shift = ShiftFactory(
        post=PostFactory(community=community, post_type=PostTypeFactory(name="核酸检测扫码"), name="2 号点"),
        starts_at=_day_at(1, 8),
        ends_at=_day_at(1, 12),
        capacity=3,
    )
    return {"committee": committee, "bank": bank, "staff": staff, "call": call, "community": community, "shift": shift}


def test_a_stranger_answers_a_call_is_approved_and_signs_up(browser, page, login, capture, live_server, mobilisation):
    call, shift = mobilisation["call"], mobilisation["shift"]
    start = _outbox_size()

    # The poster's QR code holds the short link.
    page.goto(f"{live_server.url}/c/{call.slug}/")
    assert page.url.endswith(f"/calls/{call.slug}/")
    assert page.locator("h1").inner_text() == "金融青年抗疫志愿者招募令"
    capture(page, "call-page")

    page.fill("input[name=mobile]", MOBILE)
    page.locator("button.code-send").click()
    page.locator(".code-status", has_text="验证码已发送").wait_for()
    code = wait_until(lambda: _outbox_code(start), what="the registration code in the outbox")
    page.fill("input[name=code]", code)
    page.fill("input[name=real_name]", "陈思远")
    page.fill("input[name=id_number]", ID_NUMBER)
    page.select_option("select[name=organization]", str(mobilisation["bank"].pk))
    page.fill("input[name=emergency_contact_name]", "陈父")
    page.fill("input[name=emergency_contact_mobile]", "13712340078")
    page.check("input[name=accepts_agreement]")
    capture(page, "call-answer-filled")
    page.locator("button[value=apply]").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "报名已提交"
    capture(page, "call-answered")
    application = CallApplication.objects.get(call=call)
    assert (application.status, application.mobile, application.agreement.version) == ("pending", MOBILE, 1)

    # Staff review the queue on their own device.
    staff_context = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN")
    staff_context.set_default_timeout(120_000)
    staff_page = staff_context.new_page()
    login(staff_page, "staff-calls")
    staff_page.goto(f"{live_server.url}/committee/calls/")
    staff_page.locator(f"a[href='/committee/calls/{call.pk}/']").click()
    assert "1 人报名" in staff_page.locator("[data-testid=call-progress]").first.inner_text()
    capture(staff_page, "call-review")
    staff_page.check(f"input[name=application][value='{application.pk}']")
    staff_page.locator("button[value=approve]").click()
    assert "已批准 1 份报名" in staff_page.locator(".message-success").inner_text()
    capture(staff_page, "call-reviewed")
    staff_context.close()

    volunteer = Volunteer.objects.get(mobile=MOBILE)
    assert (volunteer.status, volunteer.organization, volunteer.real_name) == (
        "reserve",
        mobilisation["bank"],
        "陈思远",
    )
    approved = wait_until(
        lambda: [line for line in _outbox_lines(start) if line["key"].startswith(f"app{application.pk}:")],
        what="the approval text",
    )
    assert "金融青年抗疫志愿者招募令" in approved[0]["text"]

    # The committee sends the bank's reserve to the community, as for any volunteer.
    dispatch_create(
        actor=mobilisation["staff"],
        community=mobilisation["community"],
        organizations=[mobilisation["committee"], mobilisation["bank"]],
        count=1,
    )

    # The new volunteer logs in with a texted code and signs up, later than the per-number limit
    # of one code a minute (the registration code was the last one).
    cache.clear()
    before_login = _outbox_size()
    page.goto(live_server.url + "/accounts/login/")
    page.fill("input[name=mobile]", MOBILE)
    page.locator("button.code-send").click()
    page.locator(".code-status", has_text="验证码已发送").wait_for()
    code = wait_until(lambda: _outbox_code(before_login), what="the log-in code")
    page.fill("input[name=code]", code)
    page.locator("form#login-code button[value=login]").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "你好，陈思远"
    page.goto(f"{live_server.url}/shifts/{shift.pk}/")
    page.locator(f"form[action='/shifts/{shift.pk}/sign-up/'] button").click()
    assert page.locator(".message-success").inner_text().startswith("报名成功")
    assert Assignment.objects.get(shift=shift, volunteer=volunteer).status == "confirmed"


def test_the_call_page_and_review_read_in_english(page, login, capture, live_server, mobilisation):
    call = mobilisation["call"]
    page.goto(f"{live_server.url}/calls/{call.slug}/")
    page.locator("header form.lang button[value=en]").click()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("button[value=apply]").inner_text() == "Submit my answer"
    capture(page, "call-page-en")
    # A form sent without a code says what is missing, in English, and keeps what was typed.
    page.fill("input[name=mobile]", MOBILE)
    page.fill("input[name=real_name]", "Chen Siyuan")
    page.locator("button[value=apply]").click()
    page.wait_for_load_state()
    assert page.locator("input[name=real_name]").input_value() == "Chen Siyuan"
    capture(page, "call-page-errors-en")
    login(page, "staff-calls")
    page.goto(f"{live_server.url}/committee/calls/{call.pk}/")
    assert page.locator("h1").inner_text().startswith(call.title)
    capture(page, "call-review-en")
