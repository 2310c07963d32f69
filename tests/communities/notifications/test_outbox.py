"""Notifications, eager: every kind's rows and text, channels, quiet hours, retries, the exactly-once rules.

The SMS backend is the real file backend writing under the test's tmp_path; the HTTP provider is
the one thing faked, by a local HTTP server. Quiet hours are off unless a test is about them, so
results do not depend on the time of day the suite runs.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.utils import timezone

from communities import tasks
from communities.models import Assignment, Notification, Shift
from communities.notifications import outbox
from communities.services import signup
from config.errors import ServiceError
from config.sms import backends
from tests.factories import (
    AssignmentFactory,
    CommunityFactory,
    PostFactory,
    ShiftFactory,
    TeamFactory,
    UserFactory,
    VolunteerFactory,
)

pytestmark = pytest.mark.django_db

State = Notification.State


@pytest.fixture(autouse=True)
def conf(settings, tmp_path):
    """Notification settings for one test: the file backend under tmp_path, no quiet hours."""
    settings.NOTIFICATIONS = {
        **settings.NOTIFICATIONS,
        "SMS_BACKEND": "config.sms.backends.FileSmsBackend",
        "SMS_FILE": str(tmp_path / "backends.jsonl"),
        "SMS_FILE_DELAY": 0,
        "SMS_FILE_FSYNC": False,
        "QUIET_HOURS_START": "",
        "QUIET_HOURS_END": "",
        "QUEUE": None,
    }
    return settings.NOTIFICATIONS


def configure(settings, **changes):
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, **changes}


def sms_outbox(conf) -> list[dict]:
    path = conf["SMS_FILE"]
    try:
        with open(path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
    except FileNotFoundError:
        return []


def at(day, hour, minute=0):
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour, minute))


def zh_when(shift: Shift) -> str:
    """The house format of a day shift in the texts: 12月8日 周二 08:00–12:00."""
    start, end = timezone.localtime(shift.starts_at), timezone.localtime(shift.ends_at)
    year = f"{start.year}年" if start.year != timezone.localdate().year else ""
    return f"{year}{start.month}月{start.day}日 周{'一二三四五六日'[start.weekday()]} {start:%H:%M}–{end:%H:%M}"


def rows_of(kind, **filters):
    return Notification.objects.filter(kind=kind, **filters).order_by("channel")


@pytest.fixture
def shift():
    post = PostFactory(name="东门检测点", community=CommunityFactory(name="金鸡湖社区"))
    return ShiftFactory(post=post)


@pytest.fixture
def volunteer():
    return VolunteerFactory(real_name="王小明", mobile="13912345678")


# --- Events -------------------------------------------------------------------------------


def test_sign_up_creates_the_rows_in_the_transaction_and_sends_the_sms_after_commit(
    conf, shift, volunteer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assignment = signup.shift_sign_up(shift_id=shift.pk, volunteer=volunteer)
        assert rows_of("confirmed").get(channel="sms").state == State.PENDING
        assert sms_outbox(conf) == []
    assert len(callbacks) == 1

    text = f"报名成功：金鸡湖社区 东门检测点，{zh_when(shift)}。请准时到岗扫码签到；不能参加请在应用中取消。"
    sms_row, inapp = rows_of("confirmed").get(channel="sms"), rows_of("confirmed").get(channel="inapp")
    assert (sms_row.key, sms_row.state, sms_row.attempts, sms_row.body) == (
        f"a{assignment.pk}:confirmed:sms:u{volunteer.user_id}",
        State.SENT,
        1,
        text,
    )
    assert (inapp.state, inapp.subject, inapp.body, inapp.read_at) == (State.SENT, "报名成功", text, None)
    assert [(line["key"], line["to"], line["text"]) for line in sms_outbox(conf)] == [
        (sms_row.key, "13912345678", text)
    ]
    assert len(text) <= 70  # one SMS


def test_refused_sign_up_leaves_no_rows_and_enqueues_nothing(shift, volunteer, django_capture_on_commit_callbacks):
    Shift.objects.filter(pk=shift.pk).update(status=Shift.Status.CANCELLED)
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(ServiceError):
        signup.shift_sign_up(shift_id=shift.pk, volunteer=volunteer)
    assert callbacks == []
    assert not Notification.objects.exists()


def test_channels_follow_the_volunteers_choice(conf, shift, django_capture_on_commit_callbacks):
    volunteer = VolunteerFactory(notify_by_sms=False, notify_by_email=True)
    volunteer.user.email = "wang@example.com"
    volunteer.user.save()
    with django_capture_on_commit_callbacks(execute=True):
        assignment = signup.shift_sign_up(shift_id=shift.pk, volunteer=volunteer)
    assert sorted(Notification.objects.values_list("channel", "state")) == [("email", "sent"), ("inapp", "sent")]
    assert sms_outbox(conf) == []
    [email] = mail.outbox
    assert (email.to, email.subject) == (["wang@example.com"], "报名成功")
    assert email.extra_headers["Message-ID"] == (
        f"<a{assignment.pk}.confirmed.email.u{volunteer.user_id}@volunteers.localhost>"
    )
    assert "金鸡湖社区" in email.body


def test_waitlist_then_promotion_then_cancellation_each_announced_once(conf, shift, django_capture_on_commit_callbacks):
    Shift.objects.filter(pk=shift.pk).update(capacity=1)
    first, second = VolunteerFactory(), VolunteerFactory()
    with django_capture_on_commit_callbacks(execute=True):
        held = signup.shift_sign_up(shift_id=shift.pk, volunteer=first)
        waiting = signup.shift_sign_up(shift_id=shift.pk, volunteer=second)
    waitlisted = rows_of("waitlisted").get(channel="sms")
    assert waitlisted.body == (
        f"已候补（第1位）：金鸡湖社区 东门检测点，{zh_when(shift)}。有空位时会通知您，现在无需到岗。"
    )
    with django_capture_on_commit_callbacks(execute=True):
        signup.assignment_cancel(assignment_id=held.pk)
    assert rows_of("cancelled").get(channel="sms").recipient_id == first.user_id
    promoted = rows_of("promoted").get(channel="sms")
    assert (promoted.recipient_id, promoted.assignment_id, promoted.state) == (second.user_id, waiting.pk, "sent")
    assert promoted.body.startswith("候补成功，您已确认参加：金鸡湖社区 东门检测点")
    keys = [line["key"] for line in sms_outbox(conf)]
    assert sorted(keys) == sorted(Notification.objects.filter(channel="sms").values_list("key", flat=True))
    assert len(keys) == len(set(keys)) == 4


def test_coordinator_assignment_reads_as_assigned(shift, volunteer, django_capture_on_commit_callbacks):
    coordinator = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        signup.shift_sign_up(
            shift_id=shift.pk, volunteer=volunteer, source=Assignment.Source.COORDINATOR, actor=coordinator
        )
    assert sorted(Notification.objects.values_list("kind", "channel")) == [("assigned", "inapp"), ("assigned", "sms")]
    assert rows_of("assigned").first().body.startswith("您已被安排到金鸡湖社区 东门检测点执勤")


@pytest.mark.parametrize(
    ("event", "text"),
    [
        ("shift_cancelled", "班次取消：金鸡湖社区 东门检测点，{when}。请勿前往岗位。"),
        ("no_show", "您已被记为缺勤：金鸡湖社区 东门检测点，{when}。如有误，请联系社区负责人更正。"),
        ("cancelled", "您的报名已取消：金鸡湖社区 东门检测点，{when}。无需到岗。"),
    ],
)
def test_event_texts(conf, shift, volunteer, event, text, django_capture_on_commit_callbacks):
    assignment = AssignmentFactory(shift=shift, volunteer=volunteer)
    with django_capture_on_commit_callbacks(execute=True):
        keys = outbox.assignment_event(event, assignment_id=assignment.pk)
    assert keys == [
        f"a{assignment.pk}:{event}:inapp:u{volunteer.user_id}",
        f"a{assignment.pk}:{event}:sms:u{volunteer.user_id}",
    ]
    assert [line["text"] for line in sms_outbox(conf)] == [text.format(when=zh_when(shift))]


def test_each_shift_change_is_announced_once(conf, shift, volunteer, django_capture_on_commit_callbacks):
    assignment = AssignmentFactory(shift=shift, volunteer=volunteer)
    with django_capture_on_commit_callbacks(execute=True):
        shift.starts_at += timedelta(hours=1)
        shift.ends_at += timedelta(hours=1)
        shift.save()
        outbox.assignment_event("shift_changed", assignment_id=assignment.pk)
        outbox.assignment_event("shift_changed", assignment_id=assignment.pk)  # reported twice
    with django_capture_on_commit_callbacks(execute=True):
        shift.starts_at += timedelta(hours=1)
        shift.ends_at += timedelta(hours=1)
        shift.save()
        outbox.assignment_event("shift_changed", assignment_id=assignment.pk)
    texts = [line["text"] for line in sms_outbox(conf)]
    assert len(texts) == 2
    assert texts[1] == f"班次变更：金鸡湖社区 东门检测点改为{zh_when(shift)}。新时间不能参加请在应用中取消。"


def test_unknown_event_is_a_programming_error(shift, volunteer):
    assignment = AssignmentFactory(shift=shift, volunteer=volunteer)
    with pytest.raises(ValueError, match="unknown notification event"):
        outbox.assignment_event("checked_in", assignment_id=assignment.pk)


def test_messages_render_in_the_configured_language(settings, conf, shift, volunteer):
    configure(settings, LANGUAGE="en")
    assignment = AssignmentFactory(shift=shift, volunteer=volunteer)
    outbox.assignment_event("shift_cancelled", assignment_id=assignment.pk)
    row = rows_of("shift_cancelled").get(channel="sms")
    start = timezone.localtime(shift.starts_at)
    assert row.subject == "Shift cancelled"
    assert row.body == (
        f"Shift cancelled: {shift.community.name}, 东门检测点, {start:%a} {start.day} {start:%b}"
        f"{' ' + str(start.year) if start.year != timezone.localdate().year else ''} {start:%H:%M}–12:00. "
        "Please do not go to the post."
    )


def test_a_volunteer_who_chose_english_reads_english_while_others_read_chinese(
    conf, shift, volunteer, django_capture_on_commit_callbacks
):
    english = VolunteerFactory(message_language="en")
    with django_capture_on_commit_callbacks(execute=True):
        signup.shift_sign_up(shift_id=shift.pk, volunteer=volunteer)
        signup.shift_sign_up(shift_id=shift.pk, user=english.user)
    bodies = dict(rows_of("confirmed", channel="sms").values_list("recipient_id", "body"))
    assert bodies[volunteer.user_id].startswith("报名成功：金鸡湖社区 东门检测点")
    assert bodies[english.user_id].startswith("Confirmed: 金鸡湖社区, 东门检测点, ")
    assert {line["to"]: line["text"][:10] for line in sms_outbox(conf)} == {
        volunteer.mobile: "报名成功：金鸡湖社区",
        english.mobile: "Confirmed:",
    }


# --- Time-driven: reminders, nudges, escalations ------------------------------------------


def confirmed_on(shift, volunteer=None, **fields):
    fields.setdefault("confirmed_at", shift.starts_at - timedelta(days=3))
    return AssignmentFactory(shift=shift, volunteer=volunteer or VolunteerFactory(), **fields)


def test_reminders_24h_and_2h_are_made_once_each(conf, shift, volunteer):
    assignment = confirmed_on(shift, volunteer)
    start = shift.starts_at
    assert outbox.sweep(now=start - timedelta(hours=24, minutes=1)) == {
        "reminders": 0,
        "nudges": 0,
        "escalations": 0,
    }
    assert outbox.sweep(now=start - timedelta(hours=23, minutes=59))["reminders"] == 2
    assert outbox.sweep(now=start - timedelta(hours=3))["reminders"] == 0
    assert outbox.sweep(now=start - timedelta(hours=2))["reminders"] == 2
    assert outbox.sweep(now=start - timedelta(minutes=1))["reminders"] == 0
    stamp = int(start.timestamp())
    assert list(Notification.objects.filter(channel="sms").order_by("id").values_list("key", flat=True)) == [
        f"a{assignment.pk}:reminder_24h.{stamp}:sms:u{volunteer.user_id}",
        f"a{assignment.pk}:reminder_2h.{stamp}:sms:u{volunteer.user_id}",
    ]
    reminder = rows_of("reminder_2h").get(channel="sms")
    assert reminder.body == (f"执勤提醒：金鸡湖社区 东门检测点，{zh_when(shift)}。请准时到岗并扫描岗位二维码签到。")
    assert len(reminder.body) <= 70


def test_the_sweep_writes_each_reminder_in_its_volunteers_language(settings, conf, shift):
    configure(settings, LANGUAGE="en")  # the programme's default, for those who chose nothing
    chinese = confirmed_on(shift, VolunteerFactory(message_language="zh-hans"))
    default = confirmed_on(shift, VolunteerFactory())
    english = confirmed_on(shift, VolunteerFactory(message_language="en"))
    assert outbox.sweep(now=shift.starts_at - timedelta(hours=2))["reminders"] == 6
    bodies = dict(rows_of("reminder_2h", channel="sms").values_list("assignment_id", "body"))
    assert bodies[chinese.pk] == f"执勤提醒：金鸡湖社区 东门检测点，{zh_when(shift)}。请准时到岗并扫描岗位二维码签到。"
    assert bodies[default.pk] == bodies[english.pk]
    assert bodies[english.pk].startswith("Reminder: 金鸡湖社区, 东门检测点, ")


def test_late_sweep_sends_only_the_reminder_that_still_applies(shift):
    confirmed_on(shift)
    outbox.sweep(now=shift.starts_at - timedelta(hours=1))
    assert set(Notification.objects.values_list("kind", flat=True)) == {"reminder_2h"}


def test_no_reminder_whose_moment_passed_before_the_volunteer_was_confirmed(shift):
    confirmed_on(shift, confirmed_at=shift.starts_at - timedelta(hours=20))
    outbox.sweep(now=shift.starts_at - timedelta(hours=19))
    assert not Notification.objects.exists()
    outbox.sweep(now=shift.starts_at - timedelta(hours=2))
    assert Notification.objects.filter(kind="reminder_2h").count() == 2


def test_reminders_only_for_confirmed_places_on_open_shifts(shift):
    confirmed_on(shift, status=Assignment.Status.WAITLISTED, waitlist_order=1)
    confirmed_on(shift, status=Assignment.Status.CANCELLED)
    cancelled_shift = ShiftFactory(status=Shift.Status.CANCELLED)
    confirmed_on(cancelled_shift)
    assert outbox.sweep(now=shift.starts_at - timedelta(hours=1))["reminders"] == 0


def test_reminder_lead_times_are_configurable(settings, shift):
    configure(settings, REMINDER_LEADS=[timedelta(minutes=90)])
    confirmed_on(shift)
    outbox.sweep(now=shift.starts_at - timedelta(hours=2))
    assert not Notification.objects.exists()
    outbox.sweep(now=shift.starts_at - timedelta(minutes=90))
    assert set(Notification.objects.values_list("kind", flat=True)) == {"reminder_90m"}


def test_a_moved_shift_gets_a_new_reminder_and_the_old_unsent_one_is_skipped(conf, shift):
    assignment = confirmed_on(shift)
    old_start = shift.starts_at
    outbox.sweep(now=old_start - timedelta(hours=2))
    assert outbox.claim(limit=10, now=old_start - timedelta(hours=2)) != []  # taken, not yet sent
    Notification.objects.filter(channel="sms").update(state=State.PENDING, claimed_at=None)
    Shift.objects.filter(pk=shift.pk).update(
        starts_at=old_start + timedelta(minutes=30), ends_at=shift.ends_at + timedelta(minutes=30)
    )
    outbox.sweep(now=old_start - timedelta(hours=1))
    assert Notification.objects.filter(kind="reminder_2h", channel="sms").count() == 2
    outbox.drain(seconds=5, now=old_start - timedelta(hours=1))
    states = dict(Notification.objects.filter(channel="sms").values_list("key", "state"))
    new_stamp, old_stamp = int(old_start.timestamp()) + 1800, int(old_start.timestamp())
    assert states == {
        f"a{assignment.pk}:reminder_2h.{old_stamp}:sms:u{assignment.volunteer.user_id}": "skipped",
        f"a{assignment.pk}:reminder_2h.{new_stamp}:sms:u{assignment.volunteer.user_id}": "sent",
    }
    assert len(sms_outbox(conf)) == 1


def test_check_in_nudge_after_10_minutes_for_those_not_checked_in(conf, shift, volunteer):
    missing = confirmed_on(shift, volunteer)
    confirmed_on(shift, checked_in_at=shift.starts_at)
    start = shift.starts_at
    assert outbox.sweep(now=start + timedelta(minutes=9))["nudges"] == 0
    assert outbox.sweep(now=start + timedelta(minutes=10))["nudges"] == 2
    assert outbox.sweep(now=start + timedelta(minutes=11))["nudges"] == 0
    nudge = rows_of("checkin_nudge").get(channel="sms")
    assert (nudge.assignment_id, nudge.recipient_id, nudge.urgent) == (missing.pk, volunteer.user_id, True)
    assert nudge.body == (
        "您尚未签到：金鸡湖社区 东门检测点已于08:00开始。请立即在岗位扫码签到；不能到岗请告知社区负责人。"
    )


def test_nudge_not_sent_once_the_volunteer_has_checked_in(conf, shift):
    assignment = confirmed_on(shift)
    outbox.sweep(now=shift.starts_at + timedelta(minutes=10))
    Assignment.objects.filter(pk=assignment.pk).update(checked_in_at=shift.starts_at + timedelta(minutes=11))
    outcome, finished = outbox.drain(seconds=5, now=shift.starts_at + timedelta(minutes=11))
    assert (outcome.skipped, outcome.sent, finished) == (1, 0, True)
    assert sms_outbox(conf) == []


def test_escalation_at_30_minutes_to_team_leader_and_coordinators(conf, shift):
    leader = VolunteerFactory(real_name="李队长")
    team = TeamFactory(leader=leader)
    missing = VolunteerFactory(real_name="王小明", mobile="13912345678", team=team)
    coordinator = UserFactory(email="coord@example.com")  # no volunteer profile: email and inbox
    shift.community.coordinators.add(coordinator)
    assignment = confirmed_on(shift, missing)
    start = shift.starts_at
    assert outbox.sweep(now=start + timedelta(minutes=29))["escalations"] == 0
    assert outbox.sweep(now=start + timedelta(minutes=30))["escalations"] == 4
    assert outbox.sweep(now=start + timedelta(minutes=31))["escalations"] == 0
    rows = Notification.objects.filter(kind="escalation")
    assert sorted(rows.values_list("recipient_id", "channel")) == sorted(
        [(leader.user_id, "inapp"), (leader.user_id, "sms"), (coordinator.pk, "inapp"), (coordinator.pk, "email")]
    )
    assert {row.assignment_id for row in rows} == {assignment.pk}
    assert rows.filter(channel="sms").get().body == (
        "开始30分钟仍未签到：王小明（13912345678），金鸡湖社区 东门检测点，08:00。请联系本人或安排替补。"
    )
    outbox.drain(seconds=5, now=start + timedelta(minutes=31))
    assert [(line["to"], line["key"].split(":")[1][:10]) for line in sms_outbox(conf)] == [
        (missing.mobile, "checkin_nu"),  # the nudge of minute 10, made by the sweep at minute 29
        (leader.mobile, "escalation"),
    ]
    assert [email.to for email in mail.outbox] == [["coord@example.com"]]


def test_escalation_texts_a_coordinator_with_a_staff_mobile(conf, shift):
    """A coordinator without a volunteer profile, with a mobile number on their account, gets the
    escalation by SMS too, not only in the inbox (and by email when an address is known)."""
    from volunteers.models import StaffContact

    missing = VolunteerFactory(real_name="王小明", mobile="13912345678")
    coordinator = UserFactory(email="")
    StaffContact.objects.create(user=coordinator, mobile="13600000001")
    shift.community.coordinators.add(coordinator)
    confirmed_on(shift, missing)
    start = shift.starts_at
    assert outbox.sweep(now=start + timedelta(minutes=30))["escalations"] == 2
    rows = Notification.objects.filter(kind="escalation")
    assert sorted(rows.values_list("recipient_id", "channel")) == [(coordinator.pk, "inapp"), (coordinator.pk, "sms")]
    outbox.drain(seconds=5, now=start + timedelta(minutes=31))
    assert [line["to"] for line in sms_outbox(conf) if ":escalation" in line["key"]] == ["13600000001"]
    assert rows.get(channel="sms").state == "sent"


def test_escalation_also_after_the_no_show_mark(shift):
    shift.community.coordinators.add(UserFactory())
    confirmed_on(shift, status=Assignment.Status.NO_SHOW)
    assert outbox.sweep(now=shift.starts_at + timedelta(minutes=40))["escalations"] == 1


def test_the_sweep_task_creates_and_sends(conf, shift, volunteer):
    confirmed_on(shift, volunteer)
    Shift.objects.filter(pk=shift.pk).update(
        starts_at=timezone.now() + timedelta(hours=1), ends_at=timezone.now() + timedelta(hours=3)
    )
    result = tasks.notifications_sweep.delay().get()
    assert result == {"reminders": 2, "nudges": 0, "escalations": 0, "call_outs": 0, "send_tasks": 1}
    assert [line["to"] for line in sms_outbox(conf)] == [volunteer.mobile]
    assert Notification.objects.get(channel="sms").state == State.SENT


def test_rows_whose_send_task_never_ran_are_sent_by_the_sweep(conf):
    """A broker that was down at commit time loses no message: the rows wait in the database."""
    shift = ShiftFactory(
        starts_at=timezone.now() + timedelta(days=3), ends_at=timezone.now() + timedelta(days=3, hours=4)
    )
    for _ in range(3):
        outbox.assignment_event("shift_cancelled", assignment_id=confirmed_on(shift).pk)
    assert Notification.objects.filter(channel="sms", state=State.PENDING).count() == 3  # nothing enqueued
    tasks.notifications_sweep.delay()
    assert Notification.objects.filter(channel="sms", state=State.SENT).count() == 3
    assert len(sms_outbox(conf)) == 3


def test_no_show_task_calls_the_attendance_sweep(settings, shift, django_capture_on_commit_callbacks):
    assignment = confirmed_on(shift)
    Shift.objects.filter(pk=shift.pk).update(
        starts_at=timezone.now() - timedelta(minutes=31), ends_at=timezone.now() + timedelta(hours=3)
    )
    with django_capture_on_commit_callbacks(execute=False):
        assert tasks.no_show_sweep.delay().get() == 1
    assignment.refresh_from_db()
    assert assignment.status == Assignment.Status.NO_SHOW
    assert Notification.objects.filter(kind="no_show", assignment=assignment).count() == 2


# --- Quiet hours --------------------------------------------------------------------------


@pytest.fixture
def quiet(settings):
    configure(settings, QUIET_HOURS_START="22:00", QUIET_HOURS_END="07:00")


def test_sms_in_quiet_hours_waits_until_7(quiet, conf, volunteer):
    day = timezone.localdate() + timedelta(days=3)
    shift = ShiftFactory(starts_at=at(day, 9), ends_at=at(day, 12))
    assignment = confirmed_on(shift, volunteer)
    late = at(day - timedelta(days=1), 23)
    outbox.assignment_event("shift_cancelled", assignment_id=assignment.pk, now=late)
    row = rows_of("shift_cancelled").get(channel="sms")
    assert (row.urgent, row.send_after) == (False, at(day, 7))
    assert rows_of("shift_cancelled").get(channel="inapp").state == State.SENT  # the inbox is not quiet
    assert outbox.claim(limit=10, now=at(day, 6, 59)) == []
    assert outbox.claim(limit=10, now=late + timedelta(days=1)) == []  # 23:00 again: still quiet
    [claimed] = outbox.claim(limit=10, now=at(day, 7))
    assert claimed.pk == row.pk


def test_quiet_hours_never_drop_a_message_deferred_past_midnight(quiet, volunteer):
    day = timezone.localdate() + timedelta(days=3)
    shift = ShiftFactory(starts_at=at(day, 9), ends_at=at(day, 12))
    outbox.assignment_event("cancelled", assignment_id=confirmed_on(shift, volunteer).pk, now=at(day, 0, 30))
    assert rows_of("cancelled").get(channel="sms").send_after == at(day, 7)


def test_urgent_messages_go_out_in_quiet_hours(quiet, conf):
    day = timezone.localdate() + timedelta(days=3)
    night = ShiftFactory(starts_at=at(day, 23), ends_at=at(day + timedelta(days=1), 3))
    confirmed_on(night)
    outbox.sweep(now=at(day, 23, 10))
    nudge = rows_of("checkin_nudge").get(channel="sms")
    assert (nudge.urgent, nudge.send_after) == (True, at(day, 23, 10))
    assert [row.pk for row in outbox.claim(limit=10, now=at(day, 23, 11))] == [nudge.pk]


def test_news_about_a_shift_that_starts_before_7_is_urgent(quiet):
    day = timezone.localdate() + timedelta(days=3)
    early = ShiftFactory(starts_at=at(day, 6), ends_at=at(day, 10))
    outbox.assignment_event("shift_cancelled", assignment_id=confirmed_on(early).pk, now=at(day, 1))
    row = rows_of("shift_cancelled").get(channel="sms")
    assert (row.urgent, row.send_after) == (True, at(day, 1))


def test_quiet_hours_are_configurable(settings):
    configure(settings, QUIET_HOURS_START="13:00", QUIET_HOURS_END="14:00")
    day = timezone.localdate()
    assert outbox.in_quiet_hours(at(day, 13, 30))
    assert not outbox.in_quiet_hours(at(day, 23))
    assert outbox.quiet_hours_end(at(day, 13, 30)) == at(day, 14)


# --- Claims, leases and the file backend --------------------------------------------------


def pending_rows(shift, count):
    for _ in range(count):
        outbox.assignment_event("shift_cancelled", assignment_id=confirmed_on(shift).pk)
    return Notification.objects.filter(channel="sms")


def test_two_claims_never_take_the_same_row(shift):
    pending_rows(shift, 5)
    first = outbox.claim(limit=3)
    second = outbox.claim(limit=3)
    assert len(first) == 3 and len(second) == 2
    assert not {row.pk for row in first} & {row.pk for row in second}
    assert outbox.claim(limit=3) == []
    assert set(Notification.objects.filter(channel="sms").values_list("state", "attempts")) == {("sending", 1)}


def test_a_row_left_by_a_dead_worker_is_claimed_again_after_the_lease(conf, shift):
    pending_rows(shift, 1)
    [taken] = outbox.claim(limit=10)
    assert outbox.claim(limit=10) == []  # within the lease nobody else takes it
    later = timezone.now() + conf["LEASE"] + timedelta(seconds=1)
    [again] = outbox.claim(limit=10, now=later)
    assert (again.pk, again.attempts) == (taken.pk, 2)
    # The first sender wakes up: its claim is no longer the row's, so it cannot mark it.
    assert outbox._mine([taken]).update(state=State.SENT) == 0
    assert outbox.deliver([again]).sent == 1
    assert len(sms_outbox(conf)) == 1


def test_provider_accepted_but_not_marked_then_resent_is_not_sent_twice(conf, shift):
    """The one window a lease cannot close: the provider's idempotency by key closes it."""
    pending_rows(shift, 2)
    [first, second] = outbox.claim(limit=10)
    backend = backends.get_backend()
    backend.send_messages([backends.SmsMessage(key=first.key, to="13900000000", text=first.body)])  # then killed
    later = timezone.now() + conf["LEASE"] + timedelta(seconds=1)
    outcome = outbox.deliver(outbox.claim(limit=10, now=later))
    assert (outcome.sent, outcome.duplicate) == (1, 1)
    keys, torn = backends.read_outbox(backend.path)
    assert sorted(keys) == sorted([first.key, second.key]) and torn == 0
    assert [json.loads(line)["key"] for line in backend.duplicates_path.read_text().splitlines()] == [first.key]
    assert set(Notification.objects.filter(channel="sms").values_list("state", flat=True)) == {"sent"}


def test_file_backend_ignores_a_torn_line_and_keeps_lines_whole(conf):
    backend = backends.FileSmsBackend()
    backend.path.write_bytes(b'{"key":"a1:x:sms:u1","to":"1","text":"t"}\n{"key":"a2:x:sm')  # killed mid-line
    results = backend.send_messages(
        [backends.SmsMessage("a1:x:sms:u1", "1", "t"), backends.SmsMessage("a2:x:sms:u1", "1", "t")]
    )
    assert [(r.ok, r.duplicate) for r in results] == [(True, True), (True, False)]
    keys, torn = backends.read_outbox(backend.path)
    assert (keys, torn) == (["a1:x:sms:u1", "a2:x:sms:u1"], 1)


def test_a_message_claimed_over_and_over_without_answer_is_failed(settings, conf, shift):
    configure(settings, MAX_ATTEMPTS=2)
    pending_rows(shift, 1)
    moment = timezone.now()
    for _ in range(2):
        moment += conf["LEASE"] + timedelta(seconds=1)
        assert len(outbox.claim(limit=10, now=moment)) == 1  # and the worker dies
    moment += conf["LEASE"] + timedelta(seconds=1)
    outcome = outbox.deliver(outbox.claim(limit=10, now=moment))
    row = Notification.objects.get(channel="sms")
    assert (outcome.failed, row.state, row.attempts, row.last_error) == (
        1,
        "failed",
        3,
        "no answer after repeated claims",
    )
    assert sms_outbox(conf) == []


def test_drain_sends_everything_due_in_batches(settings, conf, shift):
    configure(settings, BATCH_SIZE=4)
    pending_rows(shift, 10)
    outcome, finished = outbox.drain(seconds=30)
    assert (outcome.sent, finished) == (10, True)
    keys = [line["key"] for line in sms_outbox(conf)]
    assert len(keys) == len(set(keys)) == 10


def test_start_drains_enqueues_at_most_the_configured_number(settings, conf, shift):
    configure(settings, BATCH_SIZE=2, DRAIN_TASKS=2)
    pending_rows(shift, 7)
    assert outbox.start_drains() == 2  # eager: the first drain sends all seven
    assert len(sms_outbox(conf)) == 7
    assert outbox.start_drains() == 0


# --- The HTTP provider (faked by a local server) ------------------------------------------


class FakeProvider:
    def __init__(self, answers):
        self.answers = list(answers)
        self.requests: list[tuple[dict, dict]] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                provider.requests.append((dict(self.headers), body))
                code = provider.answers.pop(0) if provider.answers else 200
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b'{"error":"busy"}' if code >= 400 else b'{"ok":true}')

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def provider(settings):
    providers = []

    def start(*answers):
        fake = FakeProvider(answers)
        providers.append(fake)
        configure(
            settings,
            SMS_BACKEND="config.sms.backends.HttpSmsBackend",
            SMS_HTTP_URL=fake.url,
            SMS_HTTP_KEY="k-123",
            SMS_HTTP_TIMEOUT=5,
        )
        return fake

    yield start
    for fake in providers:
        fake.close()


def test_http_provider_gets_the_key_as_idempotency_key(provider, shift):
    fake = provider(200)
    [row] = pending_rows(shift, 1)
    assert outbox.send_due().sent == 1
    [(headers, body)] = fake.requests
    volunteer = row.recipient.volunteer
    assert body == {"to": volunteer.mobile, "text": row.body, "message_id": row.key}
    assert (headers["Idempotency-Key"], headers["Authorization"]) == (row.key, "Bearer k-123")
    assert Notification.objects.get(pk=row.pk).state == State.SENT


def test_provider_errors_are_retried_with_backoff_then_failed(settings, provider, conf, shift):
    configure(settings, MAX_ATTEMPTS=3)
    provider(503, 500, 503)
    [row] = pending_rows(shift, 1)
    moment = timezone.now()
    for attempt, wait in ((1, 60), (2, 120)):
        before = timezone.now()
        outcome = outbox.deliver(outbox.claim(limit=10, now=moment))
        row.refresh_from_db()
        assert (outcome.retry, row.state, row.attempts) == (1, "pending", attempt)
        assert row.last_error.startswith("HTTP 5")
        assert before + timedelta(seconds=wait) <= row.send_after <= timezone.now() + timedelta(seconds=wait)
        assert outbox.claim(limit=10, now=moment) == []  # not before the backoff
        moment = row.send_after
    outcome = outbox.deliver(outbox.claim(limit=10, now=moment))
    row.refresh_from_db()
    assert (outcome.failed, row.state, row.attempts, row.last_error) == (1, "failed", 3, 'HTTP 503: {"error":"busy"}')


def test_provider_refusal_fails_at_once_and_409_means_already_accepted(provider, shift):
    provider(400, 409)
    refused, accepted = pending_rows(shift, 2).order_by("send_after", "id")
    outcome = outbox.send_due()
    assert (outcome.failed, outcome.duplicate) == (1, 1)
    refused.refresh_from_db()
    accepted.refresh_from_db()
    assert (refused.state, refused.attempts, accepted.state) == ("failed", 1, "sent")


def test_unreachable_provider_is_retried(settings, shift):
    configure(settings, SMS_BACKEND="config.sms.backends.HttpSmsBackend", SMS_HTTP_URL="http://127.0.0.1:9/sms")
    [row] = pending_rows(shift, 1)
    assert outbox.send_due().retry == 1
    row.refresh_from_db()
    assert row.state == "pending" and row.last_error


# --- The community a failed message is about ---------------------------------------------------


def test_failed_messages_name_the_community_their_key_names(django_assert_num_queries):
    from communities.models import CommunityRequest, Dispatch, Recall

    shift = ShiftFactory()
    sent_to, left, asked, recalled_from = (CommunityFactory() for _ in range(4))
    volunteer = VolunteerFactory()
    dispatch = Dispatch.objects.create(community=sent_to, requested=1)
    recall = Recall.objects.create(community=recalled_from, volunteer=volunteer)
    day = timezone.localdate()
    request = CommunityRequest.objects.create(
        community=asked, wanted=2, date_from=day, date_to=day, time_from="08:00", time_to="09:00"
    )
    user = volunteer.user

    def failed(key, kind, shift=None):
        return Notification.objects.create(
            key=key, kind=kind, channel="sms", recipient=user, body="x", state="failed", shift=shift
        )

    expected = {
        failed("1:confirmed:sms", "confirmed", shift=shift).pk: shift.community,
        failed(f"d{dispatch.pk}:dispatched:sms:u{user.pk}", "dispatched").pk: sent_to,
        failed(f"d{dispatch.pk}:arriving:sms:u{user.pk}", "arriving").pk: sent_to,
        failed(f"d{dispatch.pk}.c{left.pk}:recall_leaving:sms:u{user.pk}", "recall_leaving").pk: left,
        failed(f"r{recall.pk}:recalled:sms:u{user.pk}", "recalled").pk: recalled_from,
        failed(f"r{recall.pk}:recall_leaving:sms:u{user.pk}", "recall_leaving").pk: recalled_from,
        failed(f"r{request.pk}:request_declined:sms:u{user.pk}", "request_declined").pk: asked,
        failed(f"b1:broadcast:sms:u{user.pk}", "broadcast").pk: None,
        failed(f"d{dispatch.pk + 1000}:dispatched:sms:u{user.pk}", "dispatched").pk: None,  # gone
    }
    rows = list(Notification.objects.select_related("shift__community").order_by("pk"))
    with django_assert_num_queries(4):  # communities left, dispatches, recalls, requests
        outbox.failed_communities_attach(rows)
    assert {row.pk: row.about_community for row in rows} == expected
