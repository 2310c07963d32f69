"""The mobilisation loop in a real browser: a coordinator files a request, the committee fulfils
it by dispatch and the coordinator sees it fulfilled; the live board changes when a volunteer
checks in, without a reload; a call-out is previewed and sent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from communities.models import Assignment, CommunityRequest, Notification, Shift
from communities.selectors import live
from communities.services import attendance
from tests.factories import (
    CommunityFactory,
    OrganizationFactory,
    OrganizationStaffFactory,
    PostFactory,
    PostTypeFactory,
    ShiftFactory,
    TeamFactory,
    UserFactory,
    VolunteerFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)


def english(page):
    page.locator("header form.lang button[value=en]").click()
    page.wait_for_load_state()


def chinese(page):
    page.locator("header form.lang button[value=zh-hans]").click()
    page.wait_for_load_state()


def test_a_request_is_filed_fulfilled_by_dispatch_and_seen_fulfilled(browser, page, live_server, login, capture):
    organization = OrganizationFactory(name="苏州银行", name_en="Bank of Suzhou")
    staff = OrganizationStaffFactory(organization=organization).user
    community = CommunityFactory(name="金鸡湖社区", name_en="Jinji Lake", code="SIP0001")
    coordinator = UserFactory(username="coord-request")
    community.coordinators.add(coordinator)
    PostTypeFactory(name="封控点执勤", code="checkpoint")
    for _ in range(3):
        VolunteerFactory(organization=organization, status="reserve")

    login(page, coordinator.username)
    page.goto(f"{live_server.url}/coordinator/requests/")
    today = timezone.localdate().isoformat()
    page.locator("input[name=date_from]").fill(today)
    page.locator("input[name=date_to]").fill(today)
    page.locator("input[name=wanted]").fill("3")
    page.locator("select[name=urgency]").select_option("3")
    page.locator("input[name=time_from]").fill("08:00")
    page.locator("input[name=time_to]").fill("12:00")
    page.locator("input[name=post_types]").first.check()
    page.locator("textarea[name=note]").fill("封控点人手不足")
    capture(page, "coordinator-request-form")
    page.locator("[data-testid=request-form] button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator(".errorlist, .messages .error").count() == 0, page.locator("main").inner_text()
    request = CommunityRequest.objects.get()
    assert request.wanted == 3 and request.urgency == 3
    assert page.locator(f"[data-request='{request.pk}'] [data-status=open]").count() == 1

    staff_page = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN").new_page()
    login(staff_page, staff.username)
    staff_page.goto(f"{live_server.url}/committee/requests/")
    card = staff_page.locator(f"[data-request='{request.pk}']")
    assert "金鸡湖社区" in card.inner_text()
    capture(staff_page, "committee-requests")
    english(staff_page)
    capture(staff_page, "committee-requests-en")
    chinese(staff_page)
    card = staff_page.locator(f"[data-request='{request.pk}']")
    card.locator("summary", has_text="派遣").click()
    card.locator("input[name=count]").fill("2")
    card.locator("form[action$='/fulfil/'] button[type=submit]").click()
    staff_page.wait_for_load_state()
    request.refresh_from_db()
    assert (request.dispatched, request.status) == (2, "partial")
    card = staff_page.locator(f"[data-request='{request.pk}']")
    card.locator("summary", has_text="派遣").click()
    card.locator("form[action$='/fulfil/'] button[type=submit]").click()  # the rest: 1 missing
    staff_page.wait_for_load_state()
    request.refresh_from_db()
    assert (request.dispatched, request.status) == (3, "fulfilled")
    staff_page.context.close()

    page.reload()
    assert page.locator(f"[data-request='{request.pk}'] [data-status=fulfilled]").count() == 1
    capture(page, "coordinator-requests-fulfilled")
    english(page)
    capture(page, "coordinator-requests-fulfilled-en")
    chinese(page)
    page.goto(f"{live_server.url}/inbox/")
    told = Notification.objects.filter(recipient=coordinator, channel="inapp", kind__startswith="request_")
    assert sorted(told.values_list("kind", flat=True)) == ["request_dispatched", "request_filed", "request_fulfilled"]
    for row in told:  # each step in the coordinator's inbox (next to the dispatches' own notices)
        assert page.locator(".notice", has_text=row.subject).count() == 1


def test_the_live_board_changes_when_a_volunteer_checks_in_without_a_reload(
    browser, page, live_server, login, capture, settings
):
    settings.LIVE_BOARD_POLL_SECONDS = 1
    live._layout.update(at=0.0, districts=[])
    organization = OrganizationFactory()
    staff = OrganizationStaffFactory(organization=organization).user
    community = CommunityFactory(name="金鸡湖社区", latitude=31.3, longitude=120.7)
    CommunityFactory(latitude=31.25, longitude=120.55)
    coordinator = UserFactory()
    community.coordinators.add(coordinator)
    leader = VolunteerFactory(organization=organization, real_name="王队长")
    team = TeamFactory(organization=organization, leader=leader, name="第一突击队")
    start = timezone.now() - timedelta(minutes=20)
    shift = ShiftFactory(post=PostFactory(community=community), starts_at=start, ends_at=start + timedelta(hours=4))
    people = [VolunteerFactory(organization=organization, team=team) for _ in range(3)]
    assignments = [Assignment.objects.create(shift=shift, volunteer=v, status="confirmed") for v in people]
    Shift.objects.filter(pk=shift.pk).update(confirmed_count=3)

    login(page, staff.username)
    page.goto(f"{live_server.url}/committee/live/")
    board = page.locator("#live-board")
    expect_text(page, "[data-total=checked_in_now]", "0")
    assert page.locator("[data-total=expected_now]").inner_text() == "3"
    assert "王队长" in page.locator("[data-live=missing]").inner_text()
    assert page.locator("[data-live=map] circle").count() == 2
    updated = board.get_attribute("data-updated-at")
    capture(page, "committee-live")

    attendance.assignment_check_in_manual(assignment_id=assignments[0].pk, actor=coordinator, reason="到岗")
    expect_text(page, "[data-total=checked_in_now]", "1")  # the next poll, same page
    assert board.get_attribute("data-updated-at") != updated
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    assert page.locator("[data-live=communities] td").nth(1).inner_text() == "1 / 3"
    english(page)
    expect_text(page, "[data-total=checked_in_now]", "1")
    capture(page, "committee-live-en")


def expect_text(page, selector: str, text: str) -> None:
    page.wait_for_function(
        "([selector, text]) => document.querySelector(selector)?.textContent.trim() === text",
        arg=[selector, text],
        timeout=30_000,
    )


def test_a_coordinator_previews_and_sends_a_call_out(page, live_server, login, capture):
    community = CommunityFactory(name="金鸡湖社区")
    coordinator = UserFactory()
    community.coordinators.add(coordinator)
    shift = ShiftFactory(post=PostFactory(community=community))
    for _ in range(2):
        Assignment.objects.create(shift=shift, volunteer=VolunteerFactory(), status="confirmed")

    login(page, coordinator.username)
    page.goto(f"{live_server.url}/broadcasts/")
    page.locator("select[name=audience]").select_option("shift")
    page.locator("input[name=shift]").fill(str(shift.pk))
    page.locator("input[name=subject]").fill("集合通知")
    page.locator("textarea[name=message]").fill("明早7:30在社区门口集合，带好身份证。")
    page.locator("input[name=by_sms]").check()
    page.locator("button[value=preview]").click()
    page.wait_for_load_state()
    assert "2" in page.locator("[data-testid=broadcast-preview]").inner_text()
    capture(page, "broadcast-preview")
    page.locator("button[value=send]").click()
    page.wait_for_load_state()
    assert Notification.objects.filter(kind="broadcast", channel="inapp").count() == 2
    capture(page, "broadcasts")
    english(page)
    capture(page, "broadcasts-en")
