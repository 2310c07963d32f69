"""The reserve in the order a dispatch picks it: near the community (its street, then its
district), then the skills its posts need, then fewest credited hours in the last 7 days."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from communities.models import Assignment
from communities.selectors import dispatch as selectors_dispatch
from communities.services import coordination
from tests.factories import (
    CommunityFactory,
    OrganizationFactory,
    OrganizationStaffFactory,
    PostFactory,
    PostTypeFactory,
    ShiftFactory,
    SkillFactory,
    StreetFactory,
    VolunteerFactory,
)
from volunteers.selectors import organization_subtree

pytestmark = pytest.mark.django_db


def worked(volunteer, hours: int, days_ago: int = 2):
    start = timezone.now() - timedelta(days=days_ago)
    shift = ShiftFactory(starts_at=start, ends_at=start + timedelta(hours=hours))
    Assignment.objects.create(
        shift=shift, volunteer=volunteer, status="completed", credited_minutes=hours * 60, hours_status="approved"
    )


def test_the_reserve_is_ranked_near_then_skilled_then_least_busy_and_the_dispatch_keeps_why():
    organization = OrganizationFactory()
    staff = OrganizationStaffFactory(organization=organization).user
    street = StreetFactory()
    community = CommunityFactory(street=street)
    first_aid = SkillFactory(code="first-aid")
    duty = PostTypeFactory()
    duty.required_skills.add(first_aid)
    PostFactory(community=community, post_type=duty)

    def reserve(name, **kwargs):
        return VolunteerFactory(organization=organization, status="reserve", real_name=name, **kwargs)

    reserve("远闲")
    far_skilled = reserve("远能")
    far_skilled.skills.add(first_aid)
    district_busy = reserve("区忙", residence_district=street.district)
    worked(district_busy, 8)
    district_idle = reserve("区闲", residence_district=street.district)
    worked(district_idle, 2)
    worked(district_idle, 20, days_ago=10)  # outside the 7 days: not counted
    reserve("社区", residence_community=community)
    street_skilled = reserve("街能", residence_street=street)
    street_skilled.skills.add(first_aid)
    VolunteerFactory(organization=OrganizationFactory(), status="reserve")  # out of scope
    VolunteerFactory(organization=organization, status="active")  # not in the reserve

    ranked = list(selectors_dispatch.reserve_ranked(community=community, organizations=organization_subtree(staff)))

    assert [v.real_name for v in ranked] == ["街能", "社区", "区闲", "区忙", "远能", "远闲"]
    assert [(v.near, v.skill_match, v.recent_minutes) for v in ranked] == [
        (0, 1, 0),
        (0, 0, 0),
        (1, 0, 120),
        (1, 0, 480),
        (2, 1, 0),
        (2, 0, 0),
    ]

    dispatch = coordination.dispatch_create(
        actor=staff, community=community, organizations=organization_subtree(staff), count=3
    )
    assert set(dispatch.volunteers.values_list("real_name", flat=True)) == {"街能", "社区", "区闲"}
    assert dispatch.criteria["picked"][str(district_idle.pk)] == {"near": 1, "skills": 0, "minutes_7d": 120}
