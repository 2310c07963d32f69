"""Pages write dates, times and numbers in the one house format (config/formats.py), in both
languages: a night shift ends 次日 / (next day), large numbers carry separators."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from communities.models import Assignment
from communities.selectors import stats
from tests.communities.selectors import test_stats
from tests.factories import CommunityFactory, PostFactory, ShiftFactory, UserFactory, VolunteerFactory
from volunteers.models import VolunteerTally

pytestmark = pytest.mark.django_db

world = test_stats.world

WEEKDAYS_ZH = "一二三四五六日"
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _at(day, hour: int):
    return timezone.make_aware(timezone.datetime(day.year, day.month, day.day, hour))


@pytest.fixture
def night():
    """Tomorrow 22:00 to the day after 02:00, at 金鸡湖社区, with its coordinator and one volunteer."""
    coordinator = UserFactory(username="night-coordinator")
    community = CommunityFactory(name="金鸡湖社区")
    community.coordinators.add(coordinator)
    day = timezone.localdate() + timedelta(days=1)
    starts_at = _at(day, 22)
    shift = ShiftFactory(
        post=PostFactory(community=community, name="夜间巡查点"),
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=4),
    )
    volunteer = VolunteerFactory()
    Assignment.objects.create(shift=shift, volunteer=volunteer, status="confirmed")
    return shift, day, coordinator, volunteer


def _zh_day(day) -> str:
    year = f"{day.year}年" if day.year != timezone.localdate().year else ""
    return f"{year}{day.month}月{day.day}日 周{WEEKDAYS_ZH[day.weekday()]}"


def _en_day(day) -> str:
    year = f" {day.year}" if day.year != timezone.localdate().year else ""
    return f"{WEEKDAYS_EN[day.weekday()]} {day.day} {day:%b}{year}"


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_a_night_shift_on_the_volunteers_pages_ends_the_next_day(client, night, language):
    shift, day, _coordinator, volunteer = night
    client.force_login(volunteer.user)
    expected = (
        f'{_zh_day(day)}</span>\n  <span class="hours">22:00–次日02:00'
        if language == "zh-hans"
        else f'{_en_day(day)}</span>\n  <span class="hours">22:00–02:00 (next day)'
    )
    detail = client.get(f"/shifts/{shift.pk}/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert expected in detail
    week = client.get("/my/week/", {"week": day.isoformat()}, HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert ("22:00–次日02:00" if language == "zh-hans" else "22:00–02:00 (next day)") in week
    # The machine attribute stays ISO where there is one; no old "22:00–02:00" without the next day.
    assert "22:00–02:00<" not in detail + week


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_a_night_shift_on_the_coordinators_roster_ends_the_next_day(client, night, language):
    shift, day, coordinator, _volunteer = night
    client.force_login(coordinator)
    html = client.get(
        f"/coordinator/communities/{shift.community_id}/roster/",
        {"date": day.isoformat()},
        HTTP_ACCEPT_LANGUAGE=language,
    ).content.decode()
    if language == "zh-hans":
        assert "夜间巡查点 · 22:00–次日02:00" in html
        assert _zh_day(day) in html  # the day picked, as every page writes a day
    else:
        assert "22:00–02:00 (next day)" in html
        assert _en_day(day) in html
    assert f"{day:%Y-%m-%d} " not in html  # no more 2026-12-08 Tue
    today = client.get("/coordinator/", {"date": day.isoformat()}, HTTP_ACCEPT_LANGUAGE=language).content.decode()
    # Not "22:00 02:00" side by side: one span that says the end is on the next day.
    assert ("22:00–次日02:00" if language == "zh-hans" else "22:00–02:00 (next day)") in today


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_large_numbers_on_the_committee_pages_carry_separators(world, client, language):
    VolunteerTally.objects.update_or_create(volunteer=world.va1, defaults={"total_minutes": 100_000, "star_level": 5})
    client.force_login(world.staff_root)
    team = client.get(f"/committee/teams/{world.team.pk}/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert '<td class="num">1,666.7</td>' in team

    dashboard = client.get("/committee/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    top_band = "1,500小时及以上 ★★★★★" if language == "zh-hans" else "1,500 h and more ★★★★★"
    assert top_band in dashboard


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_star_chart_states_the_volunteers_without_hours_and_spreads_the_others(world, client, language):
    VolunteerTally.objects.filter(volunteer__in=[world.va1, world.va2, world.vb1]).delete()
    VolunteerTally.objects.create(volunteer=world.va1, total_minutes=4 * 60)  # under 10 h
    VolunteerTally.objects.create(volunteer=world.va2, total_minutes=120 * 60, star_level=1)  # 100–300 h
    client.force_login(world.staff_root)
    html = client.get("/committee/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    chart = html.split('id="chart-stars-t"', 1)[1].split("</svg>", 1)[0]

    without = stats.scope_volunteers(stats.stats_query(user=world.staff_root)).count() - 2
    if language == "zh-hans":
        assert f"{without} 名志愿者尚无服务时长；2 名已有时长" in html
        assert "不足10小时: 1" in chart and "100–300小时 ★: 1" in chart
    else:
        assert f"{without} volunteers have no credited hours yet; 2 have some" in html
        assert "under 10 h: 1" in chart and "100–300 h ★: 1" in chart
    # Nobody has reached 300 h: no row of empty bars for the higher stars.
    assert "300–600" not in chart and "1,500" not in chart
    # The zero group is a sentence, not a bar: no band counts the volunteers without hours.
    assert f": {without}<" not in chart
