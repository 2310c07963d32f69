"""One format for dates, times and numbers (config/formats.py), in both languages."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.utils import translation

from config import formats

SHANGHAI = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 12, 7)


@pytest.mark.parametrize(
    ("language", "expected"),
    [("zh-hans", "12月7日 周一 22:00–次日02:00"), ("en", "Mon 7 Dec 22:00–02:00 (next day)")],
)
def test_a_night_shift_says_it_ends_the_next_day(language, expected):
    start = datetime(2026, 12, 7, 22, 0, tzinfo=SHANGHAI)
    end = datetime(2026, 12, 8, 2, 0, tzinfo=SHANGHAI)
    with translation.override(language):
        assert formats.span(start, end, today=TODAY) == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [("zh-hans", "12月7日 周一 09:00–12:00"), ("en", "Mon 7 Dec 09:00–12:00")],
)
def test_a_day_shift(language, expected):
    start = datetime(2026, 12, 7, 9, 0, tzinfo=SHANGHAI)
    end = datetime(2026, 12, 7, 12, 0, tzinfo=SHANGHAI)
    with translation.override(language):
        assert formats.span(start, end, today=TODAY) == expected


def test_a_day_of_another_year_carries_the_year():
    with translation.override("zh-hans"):
        assert formats.day(date(2027, 1, 4), today=TODAY) == "2027年1月4日 周一"
    with translation.override("en"):
        assert formats.day(date(2027, 1, 4), today=TODAY) == "Mon 4 Jan 2027"


def test_long_dates_as_certificates_write_them():
    with translation.override("zh-hans"):
        assert formats.long_date_range(date(2026, 11, 30), date(2026, 12, 7)) == "2026年11月30日至2026年12月7日"
    with translation.override("en"):
        assert formats.long_date_range(date(2026, 11, 30), date(2026, 12, 7)) == "30 November 2026 to 7 December 2026"


def test_an_aware_time_is_written_in_local_time(settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    utc = datetime(2026, 12, 7, 14, 30, tzinfo=ZoneInfo("UTC"))
    with translation.override("zh-hans"):
        assert formats.moment(utc, today=TODAY) == "12月7日 周一 22:30"


def test_numbers_are_grouped():
    assert formats.number(3297) == "3,297"
    assert formats.number(12345.67) == "12,345.7"
    assert formats.number(None) == ""


def test_the_template_filters_use_the_same_module():
    class Shift:
        starts_at = datetime(2026, 12, 7, 22, 0, tzinfo=SHANGHAI)
        ends_at = datetime(2026, 12, 8, 2, 0, tzinfo=SHANGHAI)

    template = Template("{% load ui %}{{ shift|time_span }} · {{ n|num }} · {{ d|long_date }}")
    with translation.override("zh-hans"):
        out = template.render(Context({"shift": Shift(), "n": 1758, "d": date(2026, 12, 7)}))
    assert out == "22:00–次日02:00 · 1,758 · 2026年12月7日"


@pytest.mark.parametrize(
    ("language", "same_day", "next_day"),
    [("zh-hans", "12:00", "次日02:00"), ("en", "12:00", "02:00 (next day)")],
)
def test_an_end_is_said_from_its_start(language, same_day, next_day):
    start = datetime(2026, 12, 7, 22, 0, tzinfo=SHANGHAI)
    with translation.override(language):
        assert formats.end_clock(datetime(2026, 12, 7, 8, 0, tzinfo=SHANGHAI), start.replace(hour=12)) == same_day
        assert formats.end_clock(start, datetime(2026, 12, 8, 2, 0, tzinfo=SHANGHAI)) == next_day


def test_the_hours_and_number_filters_group_thousands():
    template = Template("{% load ui %}{{ m|hours }} · {{ h|num:1 }} · {{ n|num }}")
    out = template.render(Context({"m": 100_000, "h": 1234, "n": 3297}))
    assert out == "1,666.7 · 1,234.0 · 3,297"


def test_the_filters_take_a_selectors_row_as_well_as_a_shift():
    template = Template("{% load ui %}{{ row|span }} | {{ row|ends }}")
    row = {
        "starts_at": datetime(2026, 12, 7, 22, 0, tzinfo=SHANGHAI),
        "ends_at": datetime(2026, 12, 8, 2, 0, tzinfo=SHANGHAI),
    }
    with translation.override("zh-hans"):
        out = template.render(Context({"row": row}))
    assert out.endswith("22:00–次日02:00 | 次日02:00")


def test_chart_labels_use_the_house_format(settings):
    from communities.render import charts

    with translation.override("zh-hans"):
        svg = charts.line_chart("c", [(date(2026, 12, 6), 1500), (date(2026, 12, 7), 3297.5)], title="T", empty="-")
    assert "3,297.5" in svg and "12月7日 周一" in svg and "12-07" not in svg and "2026-12-07" not in svg


@pytest.mark.parametrize(
    ("language", "night"),
    [("zh-hans", "22:00–次日02:00"), ("en", "22:00–02:00 (next day)")],
)
def test_hours_of_the_day_that_cross_midnight(language, night):
    from datetime import time

    template = Template("{% load ui %}{{ a|until:b }} · {{ c|until:d }}")
    with translation.override(language):
        out = template.render(Context({"a": time(8), "b": time(12), "c": time(22), "d": time(2)}))
    assert out == f"08:00–12:00 · {night}"
