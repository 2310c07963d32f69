"""A volunteer marked absent reports the error from their phone; the coordinator corrects the
record and answers in one step from their hours page; the volunteer reads the answer. Both
languages, phone and desktop, axe on each page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from communities.models import Assignment, RecordCorrection
from tests.e2e.conftest import axe_violations
from tests.factories import CommunityFactory, PostFactory, ShiftFactory, UserFactory, VolunteerFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_wrong_no_show_is_reported_corrected_and_answered(page, live_server, login, capture, axe_source):
    coordinator = UserFactory(username="coordinator-corrections-e2e")
    community = CommunityFactory(name="金鸡湖社区", name_en="Jinji Lake Community")
    community.coordinators.add(coordinator)
    start = timezone.now() - timedelta(days=1)
    shift = ShiftFactory(
        post=PostFactory(community=community, name="东门封控点"), starts_at=start, ends_at=start + timedelta(hours=4)
    )
    volunteer = VolunteerFactory(real_name="王芳")
    missed = Assignment.objects.create(shift=shift, volunteer=volunteer, status="no_show", no_show_at=start)

    login(page, volunteer.user.username)
    page.goto(f"{live_server.url}/me/hours/")
    page.locator(f"a[href='/me/hours/{missed.pk}/report/']").click()
    page.wait_for_load_state()
    assert "当前记录：缺勤。" in page.locator("main").inner_text()
    page.locator("textarea[name=message]").fill("我 8 点就到岗了，扫码时手机没电，现场有协调员见证。")
    capture(page, "volunteer-record-report")
    assert axe_violations(page, axe_source) == []
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    assert "已提交给社区协调员" in page.locator(".message-success").inner_text()
    assert "已反映，等待答复" in page.locator("main").inner_text()
    capture(page, "volunteer-hours-report-waiting")

    page.context.clear_cookies()
    login(page, coordinator.username)
    page.goto(f"{live_server.url}/coordinator/hours/")
    missed.correction_pk = RecordCorrection.objects.get(assignment=missed).pk
    reports = page.locator("section.reports")
    assert "1 条服务记录问题待处理" in reports.inner_text() and "手机没电" in reports.inner_text()
    capture(page, "coordinator-record-reports")
    assert axe_violations(page, axe_source) == []
    page.locator("header form.lang button[value=en]").click()
    assert "1 reported error in a service record" in page.locator("section.reports").inner_text()
    capture(page, "coordinator-record-reports-en")
    page.locator("header form.lang button[value=zh-hans]").click()

    # The coordinator corrects the record in one step: the times at the post (the shift's, as
    # filled in) and the answer.
    page.goto(f"{live_server.url}/coordinator/hours/")
    page.locator("section.reports details.confirm-box summary").click()
    form = page.locator(f"form[action='/coordinator/corrections/{missed.correction_pk}/correct/']")
    form.locator("input[name=answer]").fill("已按现场记录补签到、签退")
    capture(page, "coordinator-record-correct")
    assert axe_violations(page, axe_source) == []
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator(".message-success").inner_text() == "记录已更正，并已通知志愿者。"
    missed.refresh_from_db()
    assert (missed.status, missed.credited_minutes) == ("completed", 240)
    assert RecordCorrection.objects.get(assignment=missed).status == "corrected"

    page.context.clear_cookies()
    login(page, volunteer.user.username)
    page.goto(f"{live_server.url}/inbox/")
    assert "您的服务记录已更正" in page.locator("main").inner_text()
    page.goto(f"{live_server.url}/me/hours/")
    assert "您的反映已答复：已更正。" in page.locator("main").inner_text()
    capture(page, "volunteer-hours-report-answered")
    page.locator("header form.lang button[value=en]").click()
    page.goto(f"{live_server.url}/me/hours/{missed.pk}/report/")
    capture(page, "volunteer-record-report-en")
    page.locator("header form.lang button[value=zh-hans]").click()
