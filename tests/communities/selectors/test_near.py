"""Shifts near me: the volunteer's community first, then street, district and the rest; nearest
first where coordinates exist; filters by district and street."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from communities.selectors import shifts as shift_selectors
from tests.factories import (
    CommunityFactory,
    DistrictFactory,
    PostFactory,
    ShiftFactory,
    StreetFactory,
    VolunteerFactory,
)

pytestmark = pytest.mark.django_db


def _at(days: int, hour: int = 8):
    day = timezone.localdate() + timedelta(days=days)
    return timezone.make_aware(timezone.datetime(day.year, day.month, day.day, hour))


def _shift(community, days):
    return ShiftFactory(post=PostFactory(community=community), starts_at=_at(days))


@pytest.fixture
def city():
    gusu, wuzhong = DistrictFactory(name="姑苏区"), DistrictFactory(name="吴中区")
    canglang, pingjiang, changqiao = (
        StreetFactory(district=gusu, name="沧浪街道"),
        StreetFactory(district=gusu, name="平江街道"),
        StreetFactory(district=wuzhong, name="长桥街道"),
    )

    def community(street, lat=None, lng=None):
        return CommunityFactory(
            street=street,
            latitude=Decimal(lat) if lat else None,
            longitude=Decimal(lng) if lng else None,
        )

    home = community(canglang, "31.290000", "120.600000")
    return {
        "gusu": gusu,
        "canglang": canglang,
        "home": home,
        "same_street_far": community(canglang, "31.310000", "120.600000"),  # 2.2 km north
        "same_street_near": community(canglang, "31.295000", "120.600000"),  # 0.6 km north
        "same_district": community(pingjiang, "31.320000", "120.630000"),
        "elsewhere_near": community(changqiao, "31.280000", "120.600000"),  # 1.1 km south
        "elsewhere_unknown": community(changqiao),
    }


def test_the_list_starts_at_home_then_street_district_and_nearest_elsewhere(city):
    volunteer = VolunteerFactory(residence_community=city["home"])
    # Later shifts nearer home come before earlier ones farther away.
    expected = [
        _shift(city["home"], 5),
        _shift(city["same_street_near"], 6),
        _shift(city["same_street_far"], 2),
        _shift(city["same_district"], 1),
        _shift(city["elsewhere_near"], 3),
        _shift(city["elsewhere_unknown"], 1),
    ]
    place = shift_selectors.volunteer_place(volunteer)
    listed = list(shift_selectors.shift_list(volunteer=volunteer, near=place))
    assert [s.pk for s in listed] == [s.pk for s in expected]
    assert [s.nearness for s in listed] == [0, 1, 1, 2, 3, 3]
    assert [round(s.distance_km, 1) if s.distance_km is not None else None for s in listed] == [
        0.0,
        0.6,
        2.2,
        4.4,
        1.1,
        None,
    ]


def test_without_coordinates_each_ring_is_in_start_order(city):
    home = CommunityFactory(street=city["canglang"])
    volunteer = VolunteerFactory(residence_community=home)
    later_home, earlier_street = _shift(home, 5), _shift(city["same_street_far"], 1)
    earliest_elsewhere = _shift(city["elsewhere_near"], 0)
    listed = list(shift_selectors.shift_list(volunteer=volunteer, near=shift_selectors.volunteer_place(volunteer)))
    assert [s.pk for s in listed] == [later_home.pk, earlier_street.pk, earliest_elsewhere.pk]
    assert not hasattr(listed[0], "distance_km")


def test_the_place_is_the_residence_else_the_deployment(city):
    both = VolunteerFactory(residence_street=city["canglang"], deployed_community=city["elsewhere_near"])
    assert shift_selectors.volunteer_place(both) == shift_selectors.Place(
        community_id=None, street_id=city["canglang"].pk, district_id=city["gusu"].pk
    )
    deployed = VolunteerFactory(deployed_community=city["home"])
    assert shift_selectors.volunteer_place(deployed) == shift_selectors.Place(
        city["home"].pk, city["canglang"].pk, city["gusu"].pk, 31.29, 120.6
    )
    only_district = VolunteerFactory(residence_district=city["gusu"])
    assert shift_selectors.volunteer_place(only_district) == shift_selectors.Place(district_id=city["gusu"].pk)
    assert shift_selectors.volunteer_place(VolunteerFactory()) is None
    assert shift_selectors.volunteer_place(None) is None


def test_district_and_street_filters(city):
    at_home, on_street, in_district, elsewhere = (
        _shift(city["home"], 1),
        _shift(city["same_street_far"], 2),
        _shift(city["same_district"], 3),
        _shift(city["elsewhere_near"], 4),
    )
    by_district = shift_selectors.shift_list(volunteer=None, district=city["gusu"].pk)
    assert [s.pk for s in by_district] == [at_home.pk, on_street.pk, in_district.pk]
    by_street = shift_selectors.shift_list(volunteer=None, street=city["canglang"].pk)
    assert [s.pk for s in by_street] == [at_home.pk, on_street.pk]
    assert elsewhere.pk not in [s.pk for s in by_district]
