from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from communities.rules.hours import credited_minutes, overlap_minutes, round_minutes


def at(day, hour, minute=0):
    return timezone.make_aware(datetime(2026, 3, day, hour, minute))


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [(0, 0), (15, 0), (16, 30), (45, 30), (46, 60), (60, 60), (75, 60), (76, 90), (140, 150), (166, 180)],
)
def test_rounding_per_started_hour(minutes, expected):
    assert round_minutes(minutes) == expected


def test_exact_rule_keeps_minutes():
    assert round_minutes(77, rule=[]) == 77


def test_only_time_inside_the_shift_counts():
    # Arrived 30 min early, left 20 min late: the shift's 4 h, no more.
    assert credited_minutes(at(1, 7, 30), at(1, 12, 20), at(1, 8), at(1, 12)) == 240


def test_partial_attendance_is_rounded():
    # 08:40-11:10 inside 08:00-12:00 = 2 h 30 min → 2.5 h.
    assert credited_minutes(at(1, 8, 40), at(1, 11, 10), at(1, 8), at(1, 12)) == 150
    # 08:10-09:00 = 50 min → 1 h.
    assert credited_minutes(at(1, 8, 10), at(1, 9), at(1, 8), at(1, 12)) == 60


def test_shift_across_midnight():
    start, end = at(1, 22), at(2, 2)
    assert overlap_minutes(at(1, 21, 50), at(2, 2, 5), start, end) == 240
    assert credited_minutes(at(1, 22, 5), at(2, 1, 40), start, end) == 210  # 3 h 35 → 3.5 h
    assert credited_minutes(at(1, 23), at(2, 6), start, end) == 180


def test_never_more_than_the_shift_even_when_rounding_up():
    # A 50-minute shift fully attended rounds to 60 but is capped at 50.
    start = at(1, 8)
    assert credited_minutes(start, start + timedelta(minutes=50), start, start + timedelta(minutes=50)) == 50


def test_no_overlap_credits_nothing():
    assert credited_minutes(at(1, 13), at(1, 14), at(1, 8), at(1, 12)) == 0
