"""Dispatch and recall in a real browser: the committee finds the community by typing part of its
name, previews who goes and why, dispatches; the volunteers and the coordinator find the news in
their inboxes; a recall, confirmed, releases a volunteer's coming shift and the waitlisted
volunteer gets the place."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from communities.models import Assignment, Dispatch, Shift
from tests.e2e.conftest import PHONE
from tests.factories import (
    CommunityFactory,
    OrganizationFactory,
    OrganizationStaffFactory,
    PostFactory,
    ShiftFactory,
    StreetFactory,
    UserFactory,
    VolunteerFactory,
)
from volunteers.models import StaffContact, Volunteer

pytestmark = pytest.mark.django_db(transaction=True)


def other_page(browser, live_server, login, username, language="zh-hans"):
    """A second person's own browser context, logged in."""
    context = browser.new_context(viewport=PHONE, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(120_000)
    context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    page = context.new_page()
    login(page, username)
    return context, page


def in_english(page, live_server):
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
    page.reload()
    page.wait_for_load_state()


def test_a_dispatch_reaches_the_inboxes_and_a_recall_promotes_the_waitlist(browser, page, live_server, login, capture):
    organization = OrganizationFactory(name="苏州银行", name_en="Bank of Suzhou")
    staff = OrganizationStaffFactory(organization=organization).user
    street = StreetFactory(name="湖西街道", name_en="Huxi Street")
    community = CommunityFactory(name="金鸡湖社区", name_en="Jinji Lake Community", street=street, address="星港街1号")
    CommunityFactory(name="独墅湖社区", name_en="Dushu Lake Community")
    coordinator = UserFactory(username="coord-jinji", first_name="芳", last_name="王")
    StaffContact.objects.create(user=coordinator, mobile="13800000009")
    community.coordinators.add(coordinator)
    near = VolunteerFactory(organization=organization, status="reserve", real_name="张近", residence_street=street)
    VolunteerFactory(organization=organization, status="reserve", real_name="李远")
    VolunteerFactory(organization=organization, status="reserve", real_name="赵远")

    login(page, staff.username)
    page.goto(f"{live_server.url}/committee/dispatch/")
    page.locator("#community-q").press_sequentially("金鸡")  # search as you type
    page.locator("input[name=community]").first.wait_for()
    assert "独墅湖社区" not in page.locator("#community-choices").inner_text()
    page.locator("input[name=community]").first.check()
    page.locator("input[name=count]").fill("2")
    page.locator("button[value=preview]").click()
    page.wait_for_load_state()
    preview = page.locator("#preview-heading").locator("..").inner_text()
    assert preview.index("张近") < preview.index("李远") and "居住或工作在本街道" in preview
    capture(page, "committee-dispatch-preview")
    in_english(page, live_server)
    capture(page, "committee-dispatch-preview-en")
    page.context.add_cookies([{"name": "django_language", "value": "zh-hans", "url": live_server.url}])
    page.locator("button[value=dispatch]").click()
    page.wait_for_load_state()
    dispatch = Dispatch.objects.get()
    assert page.url.endswith(f"/committee/dispatches/{dispatch.pk}/")
    capture(page, "committee-dispatch-detail")
    sent = list(dispatch.volunteers.order_by("pk"))
    assert near in sent and len(sent) == 2

    # The volunteers and the coordinator read the news in their inboxes.
    context, volunteer_page = other_page(browser, live_server, login, near.user.username)
    volunteer_page.goto(f"{live_server.url}/inbox/")
    text = volunteer_page.locator("main").inner_text()
    assert "金鸡湖社区" in text and "王芳 13800000009" in text
    capture(volunteer_page, "volunteer-inbox-dispatched")
    context.close()
    context, coordinator_page = other_page(browser, live_server, login, coordinator.username, language="en")
    coordinator_page.goto(f"{live_server.url}/inbox/")
    text = coordinator_page.locator("main").inner_text()
    # The page in English; the message in the language messages to this person are written in.
    assert "Mark all as read" in text and "2 名志愿者将于" in text and "张近" in text
    capture(coordinator_page, "coordinator-inbox-arriving-en")
    context.close()

    # The dispatched volunteer holds the only place on tomorrow's shift; someone waits for it.
    start = timezone.now() + timedelta(days=1)
    shift = ShiftFactory(
        post=PostFactory(community=community, name="东门卡口"), starts_at=start, ends_at=start + timedelta(hours=4),
        capacity=1,
    )  # fmt: skip
    held = Assignment.objects.create(shift=shift, volunteer=near, status="confirmed", confirmed_at=timezone.now())
    waiting = VolunteerFactory(real_name="候补王")
    Assignment.objects.create(shift=shift, volunteer=waiting, status="waitlisted", waitlist_order=1)
    Shift.objects.filter(pk=shift.pk).update(confirmed_count=1, waitlist_count=1, waitlist_seq=1)

    page.goto(f"{live_server.url}/committee/dispatches/{dispatch.pk}/")
    page.locator(f"a[href$='/recall/?volunteer={near.pk}']").click()
    page.wait_for_load_state()
    assert "将释放该社区后续班次的 1 个岗位" in page.locator("main").inner_text()
    capture(page, "committee-recall-confirm")
    in_english(page, live_server)
    capture(page, "committee-recall-confirm-en")
    page.locator("input[name=reason]").fill("轮换休整")
    page.locator("input[name=confirm]").check()
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    capture(page, "committee-dispatch-after-recall-en")

    near.refresh_from_db()
    held.refresh_from_db()
    assert (near.status, near.deployed_community, held.status) == ("reserve", None, "cancelled")
    assert Assignment.objects.get(volunteer=waiting).status == "confirmed"
    assert Volunteer.objects.filter(status="active", deployed_community=community).count() == 1

    context, waiting_page = other_page(browser, live_server, login, waiting.user.username)
    waiting_page.goto(f"{live_server.url}/inbox/")
    assert "东门卡口" in waiting_page.locator("main").inner_text()
    capture(waiting_page, "volunteer-inbox-promoted")
    context.close()


def test_committee_staff_check_an_import_row_by_row_and_confirm_it(
    browser, page, live_server, login, capture, tmp_path
):
    from datetime import date

    from volunteers.idcard import make_id_number

    organization = OrganizationFactory(name="苏州银行", name_en="Bank of Suzhou")
    staff = OrganizationStaffFactory(organization=organization).user
    id_number = make_id_number("320506", date(1996, 3, 8), 11)
    volunteer = VolunteerFactory(
        organization=organization, real_name="王小明", id_number=id_number, insurance_valid_until=date(2020, 1, 1)
    )
    renewed = (timezone.localdate() + timedelta(days=365)).isoformat()
    upload = tmp_path / "续保名单.csv"
    upload.write_text(
        f"身份证号,意外保险有效期至,保险公司,保单号\n{id_number},{renewed},平安保险,PA20260001\n", "utf-8-sig"
    )

    login(page, staff.username)
    page.goto(f"{live_server.url}/committee/imports/")
    page.locator("input[name=file]").set_input_files(str(upload))
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_load_state()
    report = page.locator("#import-report").inner_text()
    assert "王小明" in report and "2020-01-01" in report and renewed in report and "PA20260001" not in report
    capture(page, "committee-import-report")
    # In English: the upload page, checked again (a reload would post the file a second time).
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
    page.goto(f"{live_server.url}/committee/imports/")
    page.locator("input[name=file]").set_input_files(str(upload))
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_load_state()
    capture(page, "committee-import-report-en")
    page.locator("form[action$='/committee/imports/confirm/'] button").click()
    page.wait_for_load_state()
    volunteer.refresh_from_db()
    assert (volunteer.insurance_valid_until.isoformat(), volunteer.insurer) == (renewed, "平安保险")
    capture(page, "committee-import-done-en")
