"""A volunteer's day in a real browser: log in, find shifts, sign up, wait, cancel, check in.

Every page visited is checked for sideways scrolling at 360 px and saved at phone and desktop
widths (artifacts/screenshots/). Buttons are found by their form's action, so the journey reads
the same in either language; what a person reads is asserted in Chinese (the default) and,
after switching, in English.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from communities.models import Assignment, Notification, Shift
from communities.rules import checkin_codes
from tests.factories import (
    AssignmentFactory,
    CommunityFactory,
    PostFactory,
    PostTypeFactory,
    ShiftFactory,
    SkillFactory,
    VolunteerFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _day_at(days: int, hour: int):
    day = timezone.localdate() + timedelta(days=days)
    return timezone.make_aware(timezone.datetime(day.year, day.month, day.day, hour))


@pytest.fixture
def scene():
    volunteer = VolunteerFactory(real_name="李青")
    community = CommunityFactory(name="三香社区", name_en="Sanxiang Community", address="姑苏区三香路 88 号")
    checkpoint = PostTypeFactory(name="封控点执勤", name_en="Checkpoint duty", requires_insurance=True)
    screening = PostTypeFactory(name="排查登记", name_en="Screening and registration")
    counselling = PostTypeFactory(name="心理援助", name_en="Psychological support")
    counselling.required_skills.add(SkillFactory(name="心理咨询", name_en="Counselling"))
    open_shift = ShiftFactory(
        post=PostFactory(community=community, post_type=checkpoint, name="北门卡口"),
        starts_at=_day_at(1, 8),
        ends_at=_day_at(1, 12),
        capacity=3,
    )
    full_shift = ShiftFactory(
        post=PostFactory(community=community, post_type=screening, name="3 号楼"),
        starts_at=_day_at(3, 14),
        ends_at=_day_at(3, 18),
        capacity=1,
    )
    AssignmentFactory(shift=full_shift)
    Shift.objects.filter(pk=full_shift.pk).update(confirmed_count=1)
    needs_skill = ShiftFactory(
        post=PostFactory(community=community, post_type=counselling, name="社区服务站"),
        starts_at=_day_at(5, 9),
        ends_at=_day_at(5, 12),
    )
    return {
        "volunteer": volunteer,
        "community": community,
        "open": open_shift,
        "full": full_shift,
        "needs_skill": needs_skill,
    }


def test_volunteer_signs_up_waits_cancels_and_switches_language(page, login, capture, live_server, scene):
    volunteer = scene["volunteer"]
    page.goto(live_server.url + "/")
    capture(page, "home-anonymous")
    page.goto(live_server.url + "/accounts/login/")
    capture(page, "login")

    login(page, volunteer.mobile)
    assert page.locator("h1").inner_text() == "你好，李青"
    capture(page, "home")

    page.goto(live_server.url + "/shifts/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    capture(page, "shifts")

    # Filter by community and space: the full shift disappears.
    page.locator(".more-filters summary").click()
    page.fill("input[name=community]", "三香")
    page.check("input[name=has_space]")
    page.locator(".more-filters button[type=submit]").click()
    assert page.locator(f"form[action='/shifts/{scene['full'].pk}/sign-up/']").count() == 0
    assert page.locator(f"form[action='/shifts/{scene['open'].pk}/sign-up/']").count() == 1
    capture(page, "shifts-filtered")

    # Sign up: confirmed at once, the result in words, the filters kept.
    page.locator(f"form[action='/shifts/{scene['open'].pk}/sign-up/'] button").click()
    message = page.locator(".message-success").inner_text()
    assert message.startswith("报名成功")
    assert "has_space=on" in page.url
    capture(page, "signed-up")
    assert Assignment.objects.get(shift=scene["open"], volunteer=volunteer).status == "confirmed"

    # The full shift: joining puts the volunteer on its waitlist, and says where.
    page.goto(f"{live_server.url}/shifts/{scene['full'].pk}/")
    capture(page, "shift-detail-full")
    page.locator(f"form[action='/shifts/{scene['full'].pk}/sign-up/'] button").click()
    assert "您在候补名单中排第 1 位" in page.locator(".message-warning").inner_text()
    capture(page, "waitlisted")

    # A shift needing a skill the volunteer lacks: the page says why before and after trying.
    page.goto(f"{live_server.url}/shifts/{scene['needs_skill'].pk}/")
    assert "心理咨询" in page.locator(".card-action").inner_text()
    capture(page, "shift-detail-not-eligible")
    # The list offers no button for it: the card is greyed, with the reason.
    page.goto(live_server.url + "/shifts/")
    assert page.locator(f"form[action='/shifts/{scene['needs_skill'].pk}/sign-up/']").count() == 0
    greyed = page.locator("li.shift-unavailable")
    assert "该岗位需要您尚未登记的技能：心理咨询" in greyed.inner_text()
    capture(page, "refused")
    assert not Assignment.objects.filter(shift=scene["needs_skill"]).exists()

    # My shifts: both places, then cancel the confirmed one.
    page.goto(live_server.url + "/my/shifts/")
    capture(page, "my-shifts")
    confirmed = Assignment.objects.get(shift=scene["open"], volunteer=volunteer)
    page.locator(f"form[action='/my/assignments/{confirmed.pk}/cancel/'] button").click()
    assert page.locator(".message-success").inner_text().startswith("已取消")
    confirmed.refresh_from_db()
    assert confirmed.status == "cancelled"

    page.goto(f"{live_server.url}/my/week/?week={timezone.localtime(scene['full'].starts_at).date().isoformat()}")
    assert page.locator(".week-item.waitlisted").count() == 1
    capture(page, "my-week")

    # Language: English, then back to Chinese, staying on the same page.
    page.locator("header form.lang button[value=en]").click()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "My shifts"
    capture(page, "my-week-en")
    page.goto(live_server.url + "/shifts/")
    assert page.locator("h1").inner_text() == "Find shifts"
    capture(page, "shifts-en")
    page.locator("header form.lang button[value=zh-hans]").click()
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert page.locator("h1").inner_text() == "查找班次"


def test_every_volunteer_page_fits_a_phone(page, login, capture, live_server, scene):
    volunteer = scene["volunteer"]
    soon = timezone.now() + timedelta(minutes=10)
    AssignmentFactory(volunteer=volunteer, shift=ShiftFactory(starts_at=soon, ends_at=soon + timedelta(hours=3)))
    past = ShiftFactory(starts_at=_day_at(-3, 8), ends_at=_day_at(-3, 12))
    AssignmentFactory(
        volunteer=volunteer,
        shift=past,
        status=Assignment.Status.COMPLETED,
        credited_minutes=240,
        hours_status=Assignment.HoursStatus.APPROVED,
    )
    Notification.objects.create(
        key="e2e-reminder",
        kind="reminder",
        channel=Notification.Channel.INAPP,
        recipient=volunteer.user,
        subject="明天 08:00 北门卡口执勤",
        body="请提前 10 分钟到岗，并带好工作证。",
    )
    login(page, volunteer.mobile)
    capture(page, "home-check-in-now")
    assert page.locator(".card-action").count() == 1

    for path, name in [
        ("/check-in/", "check-in"),
        ("/me/hours/", "hours"),
        ("/inbox/", "inbox"),
        ("/me/profile/", "profile"),
        ("/accounts/password/", "password-change"),
        ("/no-such-page/", "404"),
    ]:
        page.goto(live_server.url + path)
        capture(page, name)

    # The phone menu opens and lists the volunteer's pages.
    page.goto(live_server.url + "/")
    page.locator(".nav-phone summary").click()
    assert page.locator(".nav-phone a[href='/my/shifts/']").is_visible()
    capture(page, "menu-open")
    assert volunteer.id_number not in page.content()


def test_works_with_javascript_off(browser, live_server, login, capture, scene):
    context = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN", java_script_enabled=False)
    page = context.new_page()
    try:
        volunteer = scene["volunteer"]
        login(page, volunteer.mobile)

        page.goto(live_server.url + "/shifts/")
        page.locator(f"form[action='/shifts/{scene['open'].pk}/sign-up/'] button").click()
        assert page.locator(".message-success").inner_text().startswith("报名成功")

        # A shift that has just started, placed after the sign-up: late in the evening it would be
        # too close to tomorrow morning's for the rest rule, and refuse that sign-up. Started, so
        # that check-out is offered (never before the start).
        soon = timezone.now() - timedelta(minutes=1)
        assignment = AssignmentFactory(
            volunteer=volunteer, shift=ShiftFactory(starts_at=soon, ends_at=soon + timedelta(hours=2))
        )

        page.goto(f"{live_server.url}/check-in/?shift={assignment.shift_id}")
        assert page.locator("[data-scan-start]").is_hidden()
        code, _ = checkin_codes.current_code(assignment.shift.checkin_secret)
        page.fill("input[name=code]", code)
        page.locator("form.checkin-form button[type=submit]").click()
        assert page.locator(".message-success").inner_text().startswith("已于")
        capture(page, "checked-in-no-js")
        assignment.refresh_from_db()
        assert assignment.checked_in_at is not None

        page.locator(f"form[action='/my/assignments/{assignment.pk}/check-out/'] button").click()
        assignment.refresh_from_db()
        assert assignment.status == "completed"

        page.locator("header form.lang button[value=en]").click()
        assert page.locator("html").get_attribute("lang") == "en"
    finally:
        context.close()
