"""A volunteer who exists only because of an Excel import logs in for the first time on a phone:
mobile number, 获取验证码 (a visible countdown), the code read from the file backend's outbox,
logged in, signs up for a shift; then sets a password and logs in with it.

Pages are checked for sideways scrolling at 360 px and saved at phone and desktop widths, in
Chinese and English (artifacts/screenshots/).
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from communities.models import Assignment
from communities.services.coordination import dispatch_create
from communities.services.imports import import_run
from tests.factories import (
    CommunityFactory,
    OrganizationFactory,
    OrganizationStaffFactory,
    PostFactory,
    PostTypeFactory,
    ShiftFactory,
)
from tests.waiting import wait_until
from volunteers.idcard import make_id_number
from volunteers.models import Volunteer

pytestmark = pytest.mark.django_db(transaction=True)

MOBILE = "13712340001"
NEW_PASSWORD = "lantern-Harbour-42"


def _day_at(days: int, hour: int):
    day = timezone.localdate() + timedelta(days=days)
    return timezone.make_aware(timezone.datetime(day.year, day.month, day.day, hour))


def _outbox_code(mobile: str, after: int) -> str | None:
    path = Path(settings.NOTIFICATIONS["SMS_FILE"])
    if not path.exists():
        return None
    with open(path, "rb") as handle:
        handle.seek(after)
        lines = [json.loads(line) for line in handle.read().splitlines() if line.strip()]
    codes = [
        re.search(r"[0-9]{6}", line["text"]).group(0)
        for line in lines
        if line["to"] == mobile and line["key"].startswith("login-code:")
    ]
    return codes[-1] if codes else None


@pytest.fixture
def imported():
    """One volunteer, created by the committee's Excel import and sent to a community."""
    committee = OrganizationFactory(code="SZJR", name="苏州金融团工委", kind="committee")
    bank = OrganizationFactory(code="BANK1", name="银行一", parent=committee)
    staff = OrganizationStaffFactory(organization=committee).user
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["姓名", "手机号", "身份证号", "机构代码"])
    writer.writerow(["周晓雨", MOBILE, make_id_number("320506", date(1998, 5, 4), 41), "BANK1"])
    result = import_run(
        kind="volunteers", file_name="名单.csv", content=buffer.getvalue().encode("utf-8-sig"), actor=staff
    )
    assert result.as_dict()["created"] == 1
    volunteer = Volunteer.objects.get(mobile=MOBILE)
    assert not volunteer.user.has_usable_password()  # the import gives no password
    community = CommunityFactory(name="三香社区", name_en="Sanxiang Community")
    dispatch_create(actor=staff, community=community, organizations=[committee, bank], count=1)
    shift = ShiftFactory(
        post=PostFactory(community=community, post_type=PostTypeFactory(name="排查登记"), name="3 号楼"),
        starts_at=_day_at(1, 8),
        ends_at=_day_at(1, 12),
        capacity=3,
    )
    return {"volunteer": volunteer, "shift": shift}


def test_an_imported_volunteer_logs_in_by_code_signs_up_and_sets_a_password(
    page, login, capture, live_server, imported
):
    volunteer, shift = imported["volunteer"], imported["shift"]
    outbox = Path(settings.NOTIFICATIONS["SMS_FILE"])
    start = outbox.stat().st_size if outbox.exists() else 0

    page.goto(live_server.url + "/accounts/login/")
    assert page.locator("h1").inner_text() == "登录"
    assert page.locator("details.login-password").get_attribute("open") is None
    capture(page, "login-code")

    page.fill("input[name=mobile]", MOBILE)
    send = page.locator("button.code-send")
    assert send.inner_text() == "获取验证码"
    send.click()
    page.locator(".code-status", has_text="验证码已发送").wait_for()
    # The countdown: the button waits, and says how long.
    assert send.is_disabled()
    assert re.fullmatch(r"[0-9]{1,2}秒后重新获取", send.inner_text())
    code = wait_until(lambda: _outbox_code(MOBILE, start), what="the code in the outbox")
    page.fill("input[name=code]", code)
    capture(page, "login-code-sent")
    page.locator("form#login-code button[value=login]").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "你好，周晓雨"

    page.goto(f"{live_server.url}/shifts/{shift.pk}/")
    page.locator(f"form[action='/shifts/{shift.pk}/sign-up/'] button").click()
    assert page.locator(".message-success").inner_text().startswith("报名成功")
    assert Assignment.objects.get(shift=shift, volunteer=volunteer).status == "confirmed"

    # A password of their own, from the profile page.
    page.goto(live_server.url + "/me/profile/")
    page.locator("a[href='/accounts/password/set/']").click()
    assert page.locator("h1").inner_text() == "设置密码"
    capture(page, "password-set")
    page.fill("input[name=new_password1]", NEW_PASSWORD)
    page.fill("input[name=new_password2]", NEW_PASSWORD)
    page.locator("main form button[type=submit]").click()
    assert "密码已设置" in page.locator(".message-success").inner_text()
    volunteer.user.refresh_from_db()
    assert volunteer.user.check_password(NEW_PASSWORD)

    # Log out, then in again with the password.
    page.locator("details.nav-phone summary").click()
    page.locator("details.nav-phone form[action='/accounts/logout/'] button").click()
    page.wait_for_load_state()
    login(page, MOBILE, NEW_PASSWORD)
    assert page.locator("h1").inner_text() == "你好，周晓雨"


def test_the_code_log_in_reads_in_english(page, capture, live_server, imported):
    page.goto(live_server.url + "/accounts/login/")
    page.locator("header form.lang button[value=en]").click()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("button.code-send").inner_text() == "Get code"
    capture(page, "login-code-en")
    page.fill("input[name=mobile]", MOBILE)
    page.locator("button.code-send").click()
    page.locator(".code-status", has_text="Code sent").wait_for()
    assert re.fullmatch(r"Resend in [0-9]{1,2} s", page.locator("button.code-send").inner_text())
    page.locator("details.login-password summary").click()
    capture(page, "login-code-sent-en")
    # Asking again at once is refused by the per-number limit, and the page says so.
    page.evaluate("document.querySelector('button.code-send').disabled = false")
    page.locator("button.code-send").click()
    page.locator(".code-status", has_text="Too many codes").wait_for()
