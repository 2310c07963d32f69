"""Each role in a real browser: where log-in lands, the phone tab bar (current tab marked, gone
at 1280 px), and shifts near me: only takeable shifts carry a sign-up button, and from home to
signed up is two taps. Pages are saved at 360 and 1280 px, in Chinese and English
(artifacts/screenshots/)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from communities.models import Assignment
from tests.e2e.conftest import DESKTOP, PHONE
from tests.factories import (
    CommunityFactory,
    OrganizationFactory,
    OrganizationStaffFactory,
    PostFactory,
    PostTypeFactory,
    ShiftFactory,
    SkillFactory,
    StreetFactory,
    TeamFactory,
    UserFactory,
    VolunteerFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _day_at(days: int, hour: int):
    day = timezone.localdate() + timedelta(days=days)
    return timezone.make_aware(timezone.datetime(day.year, day.month, day.day, hour))


@pytest.fixture
def town():
    street = StreetFactory(name="沧浪街道", name_en="Canglang Street")
    home = CommunityFactory(
        name="三香社区",
        name_en="Sanxiang Community",
        street=street,
        latitude=Decimal("31.290000"),
        longitude=Decimal("120.600000"),
    )
    neighbour = CommunityFactory(
        name="南门社区",
        name_en="Nanmen Community",
        street=street,
        latitude=Decimal("31.296000"),
        longitude=Decimal("120.604000"),
    )
    far = CommunityFactory(name="金鸡湖社区", name_en="Jinji Lake Community")
    checkpoint = PostTypeFactory(name="封控点执勤", name_en="Checkpoint duty")
    counselling = PostTypeFactory(name="心理援助", name_en="Psychological support")
    counselling.required_skills.add(SkillFactory(name="心理咨询", name_en="Counselling"))
    shifts = {
        "home": ShiftFactory(
            post=PostFactory(community=home, post_type=checkpoint, name="北门卡口"),
            starts_at=_day_at(2, 8),
            ends_at=_day_at(2, 12),
        ),
        "needs_skill": ShiftFactory(
            post=PostFactory(community=home, post_type=counselling, name="社区服务站"),
            starts_at=_day_at(3, 9),
            ends_at=_day_at(3, 12),
        ),
        "neighbour": ShiftFactory(
            post=PostFactory(community=neighbour, post_type=checkpoint, name="东门卡口"),
            starts_at=_day_at(1, 14),
            ends_at=_day_at(1, 18),
        ),
        "far": ShiftFactory(
            post=PostFactory(community=far, post_type=checkpoint, name="西门卡口"),
            starts_at=_day_at(1, 8),
            ends_at=_day_at(1, 12),
        ),
    }
    organization = OrganizationFactory(name="苏州银行", name_en="Bank of Suzhou")
    volunteer = VolunteerFactory(real_name="李青", organization=organization, residence_community=home)
    team = TeamFactory(name="第一突击队", organization=organization)
    leader = VolunteerFactory(real_name="王队长", organization=organization, team=team)
    team.leader = leader
    team.save()
    VolunteerFactory(real_name="赵敏", organization=organization, team=team)
    coordinator = UserFactory(username="coordinator-e2e", first_name="周")
    home.coordinators.add(coordinator)
    staff = OrganizationStaffFactory(organization=organization).user
    superuser = get_user_model().objects.create_superuser("root-e2e", password="pass-Word-123")
    return {
        "shifts": shifts,
        "volunteer": volunteer,
        "people": {
            "volunteer": (volunteer.mobile, "/", "/"),
            "team-leader": (leader.mobile, "/team/", "/team/"),
            "coordinator": (coordinator.username, "/coordinator/", "/coordinator/"),
            "committee": (staff.username, "/committee/", "/committee/"),
            "superuser": (superuser.username, "/committee/", "/committee/"),
        },
    }


def _path(page, live_server) -> str:
    return page.url.removeprefix(live_server.url).split("?")[0]


def _tab_bar(page):
    return page.locator("nav.tabbar")


def test_each_role_lands_on_its_workspace_with_its_tab_bar(browser, live_server, login, capture, town):
    for role, (username, lands_on, current_tab) in town["people"].items():
        context = browser.new_context(viewport=PHONE, locale="zh-CN", timezone_id="Asia/Shanghai")
        context.set_default_timeout(120_000)
        page = context.new_page()
        login(page, username)
        assert _path(page, live_server) == lands_on, role

        bar = _tab_bar(page)
        assert bar.is_visible(), role
        tabs = bar.locator("a")
        assert 3 <= tabs.count() <= 5, role
        current = bar.locator("a[aria-current=page]")
        assert current.count() == 1, role
        assert current.get_attribute("href") == current_tab, role
        assert current.locator("svg").count() == 1
        capture(page, f"workspace-{role}")

        page.set_viewport_size(DESKTOP)
        assert not bar.is_visible(), role
        assert page.locator(".nav-desktop").is_visible()
        page.set_viewport_size(PHONE)

        page.locator("header form.lang button[value=en]").click()
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == "en"
        assert _tab_bar(page).locator("a[aria-current=page]").get_attribute("href") == current_tab
        capture(page, f"workspace-{role}-en")
        context.close()


def test_a_tab_leads_to_its_page_and_is_marked_there(page, live_server, login, capture, town):
    login(page, town["people"]["coordinator"][0])
    bar = _tab_bar(page)
    bar.locator("a[href='/coordinator/hours/']").click()
    page.wait_for_load_state()
    assert _path(page, live_server) == "/coordinator/hours/"
    assert _tab_bar(page).locator("a[aria-current=page]").get_attribute("href") == "/coordinator/hours/"


def test_near_me_offers_only_takeable_shifts_and_signs_up_in_two_taps(page, live_server, login, capture, town):
    shifts, volunteer = town["shifts"], town["volunteer"]
    login(page, volunteer.mobile)
    assert _path(page, live_server) == "/"
    capture(page, "volunteer-home")

    # Tap 1: the tab bar's shifts tab.
    _tab_bar(page).locator("a[href='/shifts/']").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "附近的班次"
    assert page.locator("h2.near-heading").all_inner_texts() == ["本社区", "本街道", "更远"]
    cards = page.locator("main li.card")
    titles = [cards.nth(i).locator("h3 a").get_attribute("href") for i in range(cards.count())]
    assert titles == [f"/shifts/{shifts[name].pk}/" for name in ("home", "needs_skill", "neighbour", "far")]
    # A button only where the sign-up would take the volunteer; the other card greyed, with why.
    buttons = page.locator("main form[action$='/sign-up/'] button")
    assert sorted(buttons.nth(i).locator("xpath=..").get_attribute("action") for i in range(buttons.count())) == sorted(
        f"/shifts/{shifts[name].pk}/sign-up/" for name in ("home", "neighbour", "far")
    )
    greyed = page.locator("main li.shift-unavailable")
    assert greyed.count() == 1
    assert "心理咨询" in greyed.inner_text()
    assert "768 米" in cards.nth(2).inner_text()
    capture(page, "shifts-near-me")

    # Tap 2: sign up on the first card.
    page.locator(f"form[action='/shifts/{shifts['home'].pk}/sign-up/'] button").click()
    page.wait_for_load_state()
    assert page.locator(".message-success").inner_text().startswith("报名成功")
    assert Assignment.objects.get(shift=shifts["home"], volunteer=volunteer).status == "confirmed"
    capture(page, "shifts-near-me-signed-up")

    page.locator("header form.lang button[value=en]").click()
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Shifts near me"
    assert page.locator("h2.near-heading").all_inner_texts() == ["In my community", "On my street", "Farther away"]
    capture(page, "shifts-near-me-en")
    page.goto(live_server.url + "/")
    capture(page, "volunteer-home-en")


def test_the_check_in_page_focuses_the_code(page, live_server, login, capture, town):
    volunteer = town["volunteer"]
    now = timezone.now()
    shift = ShiftFactory(
        post=PostFactory(community=town["shifts"]["home"].community),
        starts_at=now + timedelta(minutes=10),
        ends_at=now + timedelta(hours=3),
    )
    Assignment.objects.create(shift=shift, volunteer=volunteer, status="confirmed", confirmed_at=now)
    login(page, volunteer.mobile)
    page.locator(".card-action a[href^='/check-in/']").click()
    page.wait_for_load_state()
    assert page.evaluate("document.activeElement.name") == "code"
    capture(page, "check-in-focused")
