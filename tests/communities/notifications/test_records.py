"""Expiry notices and the staff's weekly digest (communities.notifications.records)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from communities.models import Assignment, Notification
from communities.notifications import records
from tests.factories import (
    OrganizationFactory,
    OrganizationStaffFactory,
    PostFactory,
    PostTypeFactory,
    QualificationFactory,
    QualificationTypeFactory,
    ShiftFactory,
    VolunteerFactory,
)
from volunteers.models import Volunteer

pytestmark = pytest.mark.django_db


def noon(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time())) + timedelta(hours=12)


def inbox(volunteer) -> list[str]:
    return sorted(
        Notification.objects.filter(recipient=volunteer.user, channel="inapp", kind="expiry_notice").values_list(
            "key", flat=True
        )
    )


def test_each_item_is_announced_once_per_threshold_and_date():
    today = timezone.localdate()
    volunteer = VolunteerFactory(insurance_valid_until=today + timedelta(days=30))
    first_aid = QualificationTypeFactory(code="first_aid", name="急救员证")
    QualificationFactory(volunteer=volunteer, qualification_type=first_aid, valid_until=today + timedelta(days=6))
    later = VolunteerFactory(insurance_valid_until=today + timedelta(days=31))  # not yet
    suspended = VolunteerFactory(insurance_valid_until=today + timedelta(days=3), status="suspended")

    assert records.expiry_sweep(now=noon(today)) == 1
    insurance_until = (today + timedelta(days=30)).isoformat()
    qualification_until = (today + timedelta(days=6)).isoformat()
    assert inbox(volunteer) == sorted(
        [
            f"v{volunteer.pk}:expiry_notice.insurance.{insurance_until}.30:inapp:u{volunteer.user_id}",
            f"v{volunteer.pk}:expiry_notice.q-first_aid.{qualification_until}.7:inapp:u{volunteer.user_id}",
        ]
    )
    body = Notification.objects.get(key__contains="q-first_aid", channel="inapp").body
    assert "急救员证" in body and qualification_until in body
    assert Notification.objects.filter(recipient=volunteer.user, channel="sms", kind="expiry_notice").count() == 2
    assert inbox(suspended) == []

    # Run again the same day and the next: nothing new for the first (until the 7-day
    # threshold); the second reaches the 30-day one the next day.
    count = Notification.objects.count()
    assert records.expiry_sweep(now=noon(today)) == 0
    assert Notification.objects.count() == count
    assert inbox(later) == []
    assert records.expiry_sweep(now=noon(today + timedelta(days=1))) == 1
    assert len(inbox(later)) == 1 and len(inbox(volunteer)) == 2
    records.expiry_sweep(now=noon(today + timedelta(days=23)))
    assert len(inbox(volunteer)) == 3
    assert f"v{volunteer.pk}:expiry_notice.insurance.{insurance_until}.7:inapp:u{volunteer.user_id}" in inbox(volunteer)

    # A renewal to a new date starts over.
    Volunteer.objects.filter(pk=volunteer.pk).update(insurance_valid_until=today + timedelta(days=50))
    records.expiry_sweep(now=noon(today + timedelta(days=23)))
    assert len(inbox(volunteer)) == 4


def test_the_sms_parameters_hold_no_personal_data():
    today = timezone.localdate()
    volunteer = VolunteerFactory(insurance_valid_until=today + timedelta(days=7))
    records.expiry_sweep(now=noon(today))
    row = Notification.objects.get(recipient=volunteer.user, channel="sms")
    params = records.record_template_params(row)
    assert params == {"item": "意外保险", "date": (today + timedelta(days=7)).isoformat(), "days": 7}


def test_staff_get_one_digest_a_week_with_the_shifts_at_risk():
    today = timezone.localdate()
    org = OrganizationFactory()
    staff = OrganizationStaffFactory(organization=org).user
    OrganizationStaffFactory(organization=OrganizationFactory())  # nothing expiring there
    volunteer = VolunteerFactory(organization=org, insurance_valid_until=today + timedelta(days=10))
    checkpoint = PostTypeFactory(requires_insurance=True)
    starts = timezone.now() + timedelta(days=12)
    shift = ShiftFactory(post=PostFactory(post_type=checkpoint), starts_at=starts, ends_at=starts + timedelta(hours=4))
    Assignment.objects.create(shift=shift, volunteer=volunteer, status="confirmed")

    assert records.expiry_digest(now=noon(today)) == 1
    assert records.expiry_digest(now=noon(today)) == 1  # the same week: the same key, nothing new
    rows = Notification.objects.filter(recipient=staff, kind="expiry_digest")
    assert rows.count() == 1
    assert "1" in rows.get().body
    assert rows.get().key.startswith(f"s{staff.pk}:expiry_digest.")
