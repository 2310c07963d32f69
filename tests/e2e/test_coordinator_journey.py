"""A coordinator in a real browser: today's page, build a rota, assign a ranked candidate,
show the check-in code, and a volunteer checks in with the code the coordinator's page shows."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from communities.models import Assignment, Shift
from communities.rules import checkin_codes
from tests.factories import CommunityFactory, PostFactory, ShiftFactory, UserFactory, VolunteerFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_coordinator_builds_a_rota_assigns_and_shows_the_code(browser, page, live_server, login, capture):
    coordinator = UserFactory(username="coordinator-e2e")
    community = CommunityFactory(name="金鸡湖社区", name_en="Jinji Lake Community")
    community.coordinators.add(coordinator)
    post = PostFactory(community=community, name="东门封控点")
    helper = VolunteerFactory(real_name="王芳", deployed_community=community)

    login(page, coordinator.username)
    page.goto(f"{live_server.url}/coordinator/")
    assert "金鸡湖社区" in page.content()
    capture(page, "coordinator-today")

    # Build a rota for the next two days, two slots a day.
    page.goto(f"{live_server.url}/coordinator/communities/{community.pk}/rota/")
    day = timezone.localdate() + timedelta(days=1)
    page.locator("select[name=post]").select_option(str(post.pk))
    page.locator("input[name=date_from]").fill(day.isoformat())
    page.locator("input[name=date_to]").fill((day + timedelta(days=1)).isoformat())
    page.locator("textarea[name=slots]").fill("08:00-12:00\n14:00-18:00")
    page.locator("input[name=capacity]").fill("2")
    capture(page, "coordinator-rota")
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    assert Shift.objects.filter(post=post).count() == 4
    capture(page, "coordinator-roster")

    # Assign the top-ranked candidate to the first new shift.
    shift = Shift.objects.filter(post=post).order_by("starts_at").first()
    page.goto(f"{live_server.url}/coordinator/shifts/{shift.pk}/candidates/")
    assert "王芳" in page.content()
    capture(page, "coordinator-candidates")
    page.locator(f"input[name=volunteer_ids][value='{helper.pk}']").check()
    page.locator("main form button[type=submit]").last.click()
    page.wait_for_load_state()
    assignment = Assignment.objects.get(shift=shift, volunteer=helper)
    assert (assignment.status, assignment.source) == ("confirmed", "coordinator")


def test_volunteer_checks_in_with_the_code_on_the_coordinators_screen(browser, page, live_server, login, capture):
    coordinator = UserFactory(username="coordinator-code")
    community = CommunityFactory(name="三香社区")
    community.coordinators.add(coordinator)
    start = timezone.now() - timedelta(minutes=5)
    shift = ShiftFactory(post=PostFactory(community=community), starts_at=start, ends_at=start + timedelta(hours=4))
    volunteer = VolunteerFactory(real_name="李青")
    Assignment.objects.create(shift=shift, volunteer=volunteer, status="confirmed")
    Shift.objects.filter(pk=shift.pk).update(confirmed_count=1)

    login(page, coordinator.username)
    # The code page reloads itself when its code changes (every minute): load it early enough in
    # the minute that the screenshots are taken before that reload, not during it.
    left = checkin_codes.STEP_SECONDS - time.time() % checkin_codes.STEP_SECONDS
    if left < 20:
        time.sleep(left + 0.5)
    page.goto(f"{live_server.url}/coordinator/shifts/{shift.pk}/code/")
    capture(page, "coordinator-code")
    code = re.sub(r"\D", "", page.locator(".digits").inner_text())
    assert len(code) == 6

    volunteer_context = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN")
    phone = volunteer_context.new_page()
    try:
        login(phone, volunteer.mobile)
        phone.goto(f"{live_server.url}/check-in/?code={code}")
        phone.locator("main form button[type=submit]").first.click()
        phone.wait_for_load_state()
        capture(phone, "volunteer-checked-in-with-coordinator-code")
    finally:
        volunteer_context.close()
    assignment = Assignment.objects.get(shift=shift, volunteer=volunteer)
    assert assignment.checked_in_at is not None
    assert assignment.checkin_method == "code"


def test_coordinator_sees_who_was_not_reached_and_sends_again(page, live_server, login, capture):
    from communities.models import Notification

    coordinator = UserFactory(username="coordinator-failed-e2e")
    community = CommunityFactory(name="金鸡湖社区", name_en="Jinji Lake Community")
    community.coordinators.add(coordinator)
    start = timezone.now() + timedelta(hours=3)
    shift = ShiftFactory(
        post=PostFactory(community=community, name="东门封控点"), starts_at=start, ends_at=start + timedelta(hours=4)
    )
    for n, (name, state, extra) in enumerate(
        [
            ("李青", "undelivered", {"delivery_code": "MK:0001"}),
            ("欧阳小明", "failed", {"last_error": "isv.MOBILE_NUMBER_ILLEGAL"}),
        ]
    ):
        volunteer = VolunteerFactory(real_name=name)
        assignment = Assignment.objects.create(shift=shift, volunteer=volunteer, status="confirmed")
        Notification.objects.create(
            key=f"e2e-failed-{n}",
            kind="reminder_2h",
            channel="sms",
            recipient=volunteer.user,
            assignment=assignment,
            shift=shift,
            subject="班次提醒：东门封控点",
            body="x",
            state=state,
            **extra,
        )

    # A dispatch text names no shift: its card names the community it sent the volunteer to.
    from communities.models import Dispatch

    sent = VolunteerFactory(real_name="钱派遣")
    dispatch = Dispatch.objects.create(community=community, requested=1)
    Notification.objects.create(
        key=f"d{dispatch.pk}:dispatched:sms:u{sent.user_id}",
        kind="dispatched",
        channel="sms",
        recipient=sent.user,
        subject="派遣通知",
        body="x",
        state="failed",
        last_error="isv.BUSINESS_LIMIT_CONTROL",
        created_at=timezone.now() - timedelta(hours=1),
    )

    login(page, coordinator.username)
    page.goto(f"{live_server.url}/coordinator/messages/failed/")
    assert page.locator("h1").inner_text() == "未送达的消息"
    assert page.locator(".card").count() == 3
    dispatched = page.locator(".card", has_text="钱派遣")
    assert "金鸡湖社区" in dispatched.inner_text() and "派遣通知" in dispatched.inner_text()
    capture(page, "coordinator-failed-messages")

    page.locator("header form.lang button[value=en]").click()
    assert page.locator("h1").inner_text() == "Messages not delivered"
    assert "Jinji Lake Community" in page.locator(".card", has_text="钱派遣").inner_text()
    capture(page, "coordinator-failed-messages-en")

    page.locator(".card form button[type=submit]").first.click()
    page.wait_for_load_state()
    assert page.locator(".card").count() == 2
    # Pending again (and sent at once by the in-process worker, when quiet hours allow).
    assert Notification.objects.filter(state__in=["failed", "undelivered"]).count() == 2
    page.locator("header form.lang button[value=zh-hans]").click()


def test_coordinator_approves_a_shifts_hours_at_once_then_edits_and_cancels_a_shift(page, live_server, login, capture):
    coordinator = UserFactory(username="coordinator-hours-e2e")
    community = CommunityFactory(name="金鸡湖社区", name_en="Jinji Lake Community")
    community.coordinators.add(coordinator)
    post = PostFactory(community=community, name="东门封控点")
    start = timezone.now() - timedelta(hours=6)
    worked = ShiftFactory(post=post, starts_at=start, ends_at=start + timedelta(hours=4))
    done = [
        Assignment.objects.create(
            shift=worked,
            volunteer=VolunteerFactory(real_name=name),
            status="completed",
            checked_in_at=start,
            checked_out_at=start + timedelta(hours=4),
            credited_minutes=minutes,
            hours_status="pending",
        )
        for name, minutes in (("王芳", 240), ("李青", 210))
    ]
    coming = ShiftFactory(post=post, capacity=2)
    held = Assignment.objects.create(shift=coming, volunteer=VolunteerFactory(real_name="赵敏"), status="confirmed")
    Shift.objects.filter(pk=coming.pk).update(confirmed_count=1)

    login(page, coordinator.username)
    page.goto(f"{live_server.url}/coordinator/hours/")
    assert "3 小时 30 分钟" in page.locator("main").inner_text()
    page.locator(".confirm-box summary").click()
    capture(page, "coordinator-hours-approve-all")
    page.locator(f"form[action='/coordinator/shifts/{worked.pk}/approve-hours/'] button").click()
    page.wait_for_load_state()
    assert page.locator(".message-success").inner_text() == "已审核通过 2 条服务时长。"
    assert set(Assignment.objects.filter(pk__in=[a.pk for a in done]).values_list("hours_status", flat=True)) == {
        "approved"
    }

    day = timezone.localtime(coming.starts_at).date().isoformat()
    page.goto(f"{live_server.url}/coordinator/communities/{community.pk}/roster/?date={day}")
    page.locator(f"a[href='/coordinator/shifts/{coming.pk}/edit/']").click()
    page.wait_for_load_state()
    assert page.locator("input[name=day]").input_value() == day
    page.locator("input[name=capacity]").fill("4")
    capture(page, "coordinator-shift-edit")
    page.locator("main form").first.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert page.locator(".message-success").inner_text() == "班次已修改。"
    coming.refresh_from_db()
    assert coming.capacity == 4

    page.goto(f"{live_server.url}/coordinator/shifts/{coming.pk}/edit/")
    cancel = page.locator(f"form[action='/coordinator/shifts/{coming.pk}/cancel/']")
    cancel.locator("input[name=reason]").fill("封控解除")
    cancel.locator("input[name=confirm]").check()
    cancel.locator("button[type=submit]").click()
    page.wait_for_load_state()
    coming.refresh_from_db()
    held.refresh_from_db()
    assert (coming.status, held.status) == ("cancelled", "cancelled")


def test_cancelling_a_shift_under_way_checks_out_those_at_the_post(page, live_server, login, capture):
    coordinator = UserFactory(username="coordinator-cancel-e2e")
    community = CommunityFactory(name="金鸡湖社区", name_en="Jinji Lake Community")
    community.coordinators.add(coordinator)
    start = timezone.now() - timedelta(hours=2)
    shift = ShiftFactory(
        post=PostFactory(community=community, name="东门封控点"), starts_at=start, ends_at=start + timedelta(hours=4)
    )
    at_post = Assignment.objects.create(
        shift=shift, volunteer=VolunteerFactory(real_name="王芳"), status="confirmed", checked_in_at=start
    )
    away = Assignment.objects.create(shift=shift, volunteer=VolunteerFactory(real_name="李青"), status="confirmed")
    Shift.objects.filter(pk=shift.pk).update(confirmed_count=2)

    login(page, coordinator.username)
    page.goto(f"{live_server.url}/coordinator/shifts/{shift.pk}/edit/")
    card = page.locator("section.card-danger")
    assert "在岗的 1 名志愿者将立即签退，已服务的时长照常计入。" in card.inner_text()
    capture(page, "coordinator-shift-cancel-under-way")
    page.locator("header form.lang button[value=en]").click()
    text = page.locator("section.card-danger").inner_text()
    assert "1 volunteer at the post is checked out now, with the time served credited." in text
    capture(page, "coordinator-shift-cancel-under-way-en")

    cancel = page.locator(f"form[action='/coordinator/shifts/{shift.pk}/cancel/']")
    cancel.locator("input[name=reason]").fill("Post closed early")
    cancel.locator("input[name=confirm]").check()
    cancel.locator("button[type=submit]").click()
    page.wait_for_load_state()
    at_post.refresh_from_db()
    away.refresh_from_db()
    assert (at_post.status, away.status) == ("completed", "cancelled")
    assert at_post.credited_minutes > 0
    page.locator("header form.lang button[value=zh-hans]").click()


def test_the_assign_button_stays_in_reach_and_counts_the_selected(page, live_server, login, capture):
    coordinator = UserFactory(username="coordinator-assign-e2e")
    community = CommunityFactory(name="金鸡湖社区")
    community.coordinators.add(coordinator)
    shift = ShiftFactory(post=PostFactory(community=community), capacity=3)
    people = [VolunteerFactory(deployed_community=community) for _ in range(12)]

    login(page, coordinator.username)
    page.goto(f"{live_server.url}/coordinator/shifts/{shift.pk}/candidates/")
    bar = page.locator(".action-bar")
    box = bar.bounding_box()
    assert box["y"] + box["height"] <= 740, "the assign bar is below the first screen"
    page.locator(f"input[name=volunteer_ids][value='{people[0].pk}']").check()
    page.locator(f"input[name=volunteer_ids][value='{people[1].pk}']").check()
    assert bar.locator(".action-bar-count").inner_text() == "已选 2 人"
    capture(page, "coordinator-candidates-selected")
    bar.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert Assignment.objects.filter(shift=shift, status="confirmed").count() == 2
