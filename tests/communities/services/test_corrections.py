"""Reported errors in service records: a volunteer reports one of their places, the community's
coordinators are told and answer, the volunteer is told; every refusal changes nothing."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone

from communities.models import Assignment, AuditEntry, Notification, RecordCorrection
from communities.notifications import outbox
from communities.services import corrections
from config.errors import ServiceError
from tests.factories import CommunityFactory, PostFactory, ShiftFactory, UserFactory, VolunteerFactory
from tests.test_access_control import fingerprint


@pytest.fixture
def scene(db):
    """A community with its coordinator, and a volunteer marked absent on yesterday's shift there
    (``missed``): the reports' tests on every floor start here."""
    coordinator = UserFactory(username="coord-records")
    community = CommunityFactory(name="金鸡湖社区")
    community.coordinators.add(coordinator)
    start = timezone.now() - timedelta(days=1)
    shift = ShiftFactory(
        post=PostFactory(community=community, name="东门封控点"), starts_at=start, ends_at=start + timedelta(hours=4)
    )
    volunteer = VolunteerFactory(real_name="王芳")
    missed = Assignment.objects.create(shift=shift, volunteer=volunteer, status="no_show", no_show_at=start)
    return {
        "coordinator": coordinator,
        "community": community,
        "post": shift.post,
        "shift": shift,
        "volunteer": volunteer,
        "missed": missed,
    }


def refused(code, call):
    before = fingerprint()
    with pytest.raises(ServiceError) as caught:
        call()
    assert caught.value.code == code
    assert fingerprint() == before
    return caught.value


def test_a_volunteer_reports_an_error_and_the_coordinators_are_told(scene):
    volunteer, missed = scene["volunteer"], scene["missed"]
    correction = corrections.correction_report(
        user=volunteer.user, assignment_id=missed.pk, message="我 8 点就到岗了，但被记为缺勤"
    )
    assert (correction.status, correction.message, correction.assignment_id) == (
        "pending",
        "我 8 点就到岗了，但被记为缺勤",
        missed.pk,
    )
    entry = AuditEntry.objects.get(action="correction_reported")
    assert (entry.actor, entry.assignment_id, entry.after["correction"]) == (volunteer.user, missed.pk, correction.pk)
    told = Notification.objects.get(recipient=scene["coordinator"], kind="correction_reported", channel="inapp")
    assert "王芳" in told.body and volunteer.volunteer_number in told.body and "8 点就到岗" in told.body
    assert told.key == f"c{correction.pk}:correction_reported:inapp:u{scene['coordinator'].pk}"


def test_the_coordinators_text_names_no_person(scene):
    from communities.models import Notification as N
    from volunteers.models import StaffContact

    StaffContact.objects.create(user=scene["coordinator"], mobile="13566667777")
    correction = corrections.correction_report(
        user=scene["volunteer"].user, assignment_id=scene["missed"].pk, message="记录有误"
    )
    text = N.objects.get(key=f"c{correction.pk}:correction_reported:sms:u{scene['coordinator'].pk}")
    assert set(text.params) == {"community", "time"} and text.params["community"] == "金鸡湖社区"
    assert outbox.template_params([text])[text.pk] == text.params


def test_reports_are_refused_where_they_do_not_apply_and_change_nothing(scene):
    volunteer, missed, shift = scene["volunteer"], scene["missed"], scene["shift"]
    refused("invalid", lambda: corrections.correction_report(user=volunteer.user, assignment_id=missed.pk, message=" "))
    refused(
        "invalid",
        lambda: corrections.correction_report(user=volunteer.user, assignment_id=missed.pk, message="长" * 301),
    )
    other = VolunteerFactory()
    refused("not_found", lambda: corrections.correction_report(user=other.user, assignment_id=missed.pk, message="x"))
    staff = UserFactory()
    refused(
        "not_a_volunteer",
        lambda: corrections.correction_report(user=staff, assignment_id=missed.pk, message="x"),
    )
    cancelled = Assignment.objects.create(shift=shift, volunteer=other, status="cancelled")
    refused(
        "correction_not_applicable",
        lambda: corrections.correction_report(user=other.user, assignment_id=cancelled.pk, message="x"),
    )
    coming = Assignment.objects.create(
        shift=ShiftFactory(post=shift.post, starts_at=timezone.now() + timedelta(days=2)),
        volunteer=volunteer,
        status="confirmed",
    )
    refused(
        "shift_not_started",
        lambda: corrections.correction_report(user=volunteer.user, assignment_id=coming.pk, message="x"),
    )
    corrections.correction_report(user=volunteer.user, assignment_id=missed.pk, message="第一次")
    refused(
        "correction_pending",
        lambda: corrections.correction_report(user=volunteer.user, assignment_id=missed.pk, message="第二次"),
    )


def test_a_coordinator_answers_and_the_volunteer_is_told(scene):
    volunteer, coordinator = scene["volunteer"], scene["coordinator"]
    correction = corrections.correction_report(
        user=volunteer.user, assignment_id=scene["missed"].pk, message="记录有误"
    )
    elsewhere = UserFactory()
    CommunityFactory().coordinators.add(elsewhere)
    refused(
        "not_found", lambda: corrections.correction_answer(actor=elsewhere, correction_id=correction.pk, corrected=True)
    )
    refused(
        "invalid",
        lambda: corrections.correction_answer(actor=coordinator, correction_id=correction.pk, corrected=False),
    )

    answered = corrections.correction_answer(
        actor=coordinator, correction_id=correction.pk, corrected=False, answer="签到记录显示 9:40 才到"
    )
    assert (answered.status, answered.answer, answered.answered_by) == (
        "declined",
        "签到记录显示 9:40 才到",
        coordinator,
    )
    told = Notification.objects.get(recipient=volunteer.user, kind="correction_declined", channel="inapp")
    assert "签到记录显示 9:40 才到" in told.body
    entry = AuditEntry.objects.get(action="correction_decided")
    assert (entry.actor, entry.before["status"], entry.after["status"], entry.reason) == (
        coordinator,
        "pending",
        "declined",
        "签到记录显示 9:40 才到",
    )
    refused(
        "correction_not_pending",
        lambda: corrections.correction_answer(actor=coordinator, correction_id=correction.pk, corrected=True),
    )
    # Answered, the place may be reported again.
    again = corrections.correction_report(user=volunteer.user, assignment_id=scene["missed"].pk, message="补充说明")
    corrections.correction_answer(actor=coordinator, correction_id=again.pk, corrected=True)
    assert Notification.objects.filter(recipient=volunteer.user, kind="correction_corrected", channel="inapp").exists()


@pytest.mark.django_db(transaction=True)
def test_two_reports_of_one_place_at_once_leave_one_open():
    community = CommunityFactory()
    start = timezone.now() - timedelta(hours=6)
    shift = ShiftFactory(post=PostFactory(community=community), starts_at=start, ends_at=start + timedelta(hours=4))
    volunteer = VolunteerFactory()
    place = Assignment.objects.create(shift=shift, volunteer=volunteer, status="no_show", no_show_at=start)
    barrier = threading.Barrier(2)
    results = []

    def report(message):
        try:
            barrier.wait()
            results.append(corrections.correction_report(user=volunteer.user, assignment_id=place.pk, message=message))
        except ServiceError as error:
            results.append(error.code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=report, args=(m,)) for m in ("一", "二")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert sorted(r if isinstance(r, str) else "created" for r in results) == ["correction_pending", "created"]
    assert RecordCorrection.objects.filter(assignment=place, status="pending").count() == 1
    assert AuditEntry.objects.filter(action="correction_reported").count() == 1


def test_a_wrong_no_show_is_corrected_and_answered_in_one_step(scene):
    volunteer, coordinator, missed, shift = scene["volunteer"], scene["coordinator"], scene["missed"], scene["shift"]
    correction = corrections.correction_report(user=volunteer.user, assignment_id=missed.pk, message="我到岗了")
    # A time the attendance rules refuse (before the check-in opens) refuses the whole step.
    refused(
        "invalid",
        lambda: corrections.correction_correct(
            actor=coordinator,
            correction_id=correction.pk,
            attended=(shift.starts_at - timedelta(hours=5), shift.ends_at),
        ),
    )
    refused("invalid", lambda: corrections.correction_correct(actor=coordinator, correction_id=correction.pk))

    answered = corrections.correction_correct(
        actor=coordinator,
        correction_id=correction.pk,
        attended=(shift.starts_at, shift.ends_at - timedelta(hours=1)),
        answer="已按现场记录补签",
    )
    missed.refresh_from_db()
    assert (missed.status, missed.checked_in_at, missed.checked_out_at, missed.credited_minutes) == (
        "completed",
        shift.starts_at,
        shift.ends_at - timedelta(hours=1),
        180,
    )
    assert (answered.status, answered.answer) == ("corrected", "已按现场记录补签")
    actions = list(AuditEntry.objects.filter(assignment=missed).order_by("pk").values_list("action", "reason"))
    assert actions[-3:] == [
        ("manual_check_in", "已按现场记录补签"),
        ("manual_check_out", "已按现场记录补签"),
        ("correction_decided", "已按现场记录补签"),
    ]
    assert Notification.objects.filter(recipient=volunteer.user, kind="correction_corrected").exists()


def test_an_attended_places_credited_time_is_corrected(scene):
    volunteer, coordinator, shift = scene["volunteer"], scene["coordinator"], scene["shift"]
    place = Assignment.objects.create(
        shift=ShiftFactory(post=shift.post, starts_at=shift.starts_at - timedelta(days=1)),
        volunteer=volunteer,
        status="completed",
        checked_in_at=shift.starts_at - timedelta(days=1),
        credited_minutes=60,
        hours_status="approved",
    )
    correction = corrections.correction_report(user=volunteer.user, assignment_id=place.pk, message="少算了时长")
    refused(
        "hours_out_of_range",
        lambda: corrections.correction_correct(actor=coordinator, correction_id=correction.pk, credited_minutes=9999),
    )
    corrections.correction_correct(actor=coordinator, correction_id=correction.pk, credited_minutes=210)
    place.refresh_from_db()
    assert (place.credited_minutes, place.hours_status) == (210, "approved")
    entry = AuditEntry.objects.filter(assignment=place, action="hours_adjusted").get()
    assert entry.reason == "根据志愿者反映更正"
