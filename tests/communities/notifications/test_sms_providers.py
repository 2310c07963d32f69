"""Aliyun and Tencent Cloud SMS through their official SDKs, against local fakes of their HTTP APIs.

The SDKs are real and sign their requests; only the provider is faked, by a server on 127.0.0.1
set as the SDK's endpoint (tests/communities/notifications/fake_sms_providers.py). Covered: templates and
parameters per kind, batching, error codes (deferred, permanent, retried), receipts (valid,
forged, repeated, unknown, batched) and a sender dying between the provider's answer and the
row's update.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from communities.models import Assignment, Notification
from communities.notifications import outbox
from config.sms import providers
from tests.communities.notifications.fake_sms_providers import FakeAliyun, FakeTencent
from tests.factories import (
    AssignmentFactory,
    CommunityFactory,
    PostFactory,
    ShiftFactory,
    UserFactory,
    VolunteerFactory,
)

pytestmark = pytest.mark.django_db

State = Notification.State


class WorkerKilled(BaseException):
    """Stands for SIGKILL: nothing after it runs in this sender (not caught as an Exception)."""


class DyingAliyun(providers.AliyunSmsBackend):
    def send_messages(self, messages):
        super().send_messages(messages)  # the provider has taken them …
        raise WorkerKilled  # … and the sender dies before recording its answer


class DyingTencent(providers.TencentSmsBackend):
    def send_messages(self, messages):
        super().send_messages(messages)
        raise WorkerKilled


def _templates(settings, aliyun: bool, tencent: bool) -> dict:
    base = settings.NOTIFICATIONS["SMS_TEMPLATES"]
    return {
        kind: {
            "params": base[kind]["params"],
            "aliyun": f"SMS_{number:03d}" if aliyun else "",
            "tencent": str(1000 + number) if tencent else "",
        }
        for number, kind in enumerate(base)
    }


@pytest.fixture
def conf(settings):
    settings.NOTIFICATIONS = {
        **settings.NOTIFICATIONS,
        "QUIET_HOURS_START": "",
        "QUIET_HOURS_END": "",
        "QUEUE": None,
        "SMS_SIGN_NAME": "金鸡湖志愿",
        "SMS_TEMPLATES": _templates(settings, aliyun=True, tencent=True),
    }
    return settings


@pytest.fixture
def aliyun(conf):
    fake = FakeAliyun(access_key="LTAI-test").start()
    conf.NOTIFICATIONS = {
        **conf.NOTIFICATIONS,
        "SMS_BACKEND": "config.sms.providers.AliyunSmsBackend",
        "SMS_ALIYUN": {
            "ACCESS_KEY_ID": "LTAI-test",
            "ACCESS_KEY_SECRET": "aliyun-secret",
            "ENDPOINT": fake.endpoint,
            "PROTOCOL": "http",
            "PARAM_MAX_LENGTH": 35,
            "RECEIPT_TOKEN": "aliyun-receipt-token",
        },
    }
    yield fake
    fake.close()


@pytest.fixture
def tencent(conf):
    fake = FakeTencent(access_key="AKID-test").start()
    conf.NOTIFICATIONS = {
        **conf.NOTIFICATIONS,
        "SMS_BACKEND": "config.sms.providers.TencentSmsBackend",
        "SMS_TENCENT": {
            "SECRET_ID": "AKID-test",
            "SECRET_KEY": "tencent-secret",
            "SDK_APP_ID": "1400000001",
            "REGION": "ap-guangzhou",
            "ENDPOINT": fake.endpoint,
            "PROTOCOL": "http",
            "PARAM_MAX_LENGTH": 20,
            "RECEIPT_TOKEN": "tencent-receipt-token",
        },
    }
    yield fake
    fake.close()


@pytest.fixture
def shift():
    post = PostFactory(name="东门检测点", community=CommunityFactory(name="金鸡湖社区"))
    return ShiftFactory(post=post)


def zh_when(shift) -> str:
    start, end = timezone.localtime(shift.starts_at), timezone.localtime(shift.ends_at)
    return f"{start.month}月{start.day}日 {start:%H:%M}–{end:%H:%M}"


def confirmed(shift, mobile: str) -> Notification:
    volunteer = VolunteerFactory(mobile=mobile)
    assignment = AssignmentFactory(shift=shift, volunteer=volunteer)
    outbox.assignment_event("confirmed", assignment_id=assignment.pk)
    return Notification.objects.get(assignment=assignment, channel="sms")


def reminders(shift, mobiles: list[str]) -> list[Notification]:
    for mobile in mobiles:
        AssignmentFactory(shift=shift, volunteer=VolunteerFactory(mobile=mobile))
    outbox.sweep(now=shift.starts_at - timedelta(hours=23))
    return list(Notification.objects.filter(channel="sms", kind="reminder_24h").order_by("pk"))


def send(now=None) -> outbox.Outcome:
    return outbox.send_due(now=now or timezone.now())


def waits(row: Notification, started, finished) -> bool:
    """Whether ``row.send_after`` lies between the wait counted from ``started`` and from ``finished``
    (a sender reads the clock when it records an answer)."""
    return started <= row.send_after <= finished


def state_of(row: Notification) -> tuple:
    row.refresh_from_db()
    return (row.state, row.attempts, row.deferrals, row.last_error)


# --- Aliyun -------------------------------------------------------------------------------


def test_aliyun_sends_the_template_with_named_parameters_and_the_key_as_out_id(aliyun, shift):
    row = confirmed(shift, "13900000001")

    outcome = send()

    assert (outcome.sent, aliyun.problems) == (1, [])
    [request] = aliyun.requests
    assert request["action"] == "SendSms"
    assert request["query"]["OutId"] == row.key
    [text] = aliyun.texts
    assert (text.phone, text.sign_name, text.template, text.outside_id) == (
        "13900000001",
        "金鸡湖志愿",
        "SMS_000",
        row.key,
    )
    assert text.params == {"community": "金鸡湖社区", "post": "东门检测点", "time": zh_when(shift)}
    row.refresh_from_db()
    assert (row.state, row.outside_id, row.provider_message_id) == (State.SENT, row.key, text.message_id)
    assert row.body.startswith("报名成功：金鸡湖社区 东门检测点")  # the inbox keeps the full text


def test_a_night_shift_keeps_the_short_template_parameter_while_the_inbox_says_next_day(aliyun, shift):
    day = timezone.localdate() + timedelta(days=1)
    starts_at = timezone.make_aware(timezone.datetime(day.year, day.month, day.day, 22))
    shift.starts_at, shift.ends_at = starts_at, starts_at + timedelta(hours=4)
    shift.save(update_fields=["starts_at", "ends_at"])
    after = day + timedelta(days=1)
    row = confirmed(shift, "13900000002")

    send()

    [text] = aliyun.texts
    # The approved template's parameter: both days in full, no weekday (docs/sms-templates.md).
    assert text.params["time"] == f"{day.month}月{day.day}日 22:00–{after.month}月{after.day}日 02:00"
    # What the volunteer reads: the house format, the end on the next day.
    row.refresh_from_db()
    assert f"周{'一二三四五六日'[day.weekday()]} 22:00–次日02:00" in row.body


def test_aliyun_batches_one_template_in_one_send_batch_sms(aliyun, shift):
    rows = reminders(shift, ["13900000001", "13900000002", "13900000003"])

    outcome = send(shift.starts_at - timedelta(hours=23))

    assert (outcome.sent, aliyun.problems) == (3, [])
    assert [request["action"] for request in aliyun.requests] == ["SendBatchSms"]
    assert json.loads(aliyun.requests[0]["form"]["PhoneNumberJson"]) == ["13900000001", "13900000002", "13900000003"]
    assert json.loads(aliyun.requests[0]["form"]["SignNameJson"]) == ["金鸡湖志愿"] * 3
    assert aliyun.phones() == ["13900000001", "13900000002", "13900000003"]
    assert {text.template for text in aliyun.texts} == {"SMS_008"}
    batch = f"{rows[0].key}+3"
    for row in rows:
        row.refresh_from_db()
        assert (row.state, row.outside_id, row.provider_message_id) == (State.SENT, batch, aliyun.texts[0].message_id)


@pytest.mark.parametrize(
    ("code", "state", "attempts", "deferrals"),
    [
        ("isv.BUSINESS_LIMIT_CONTROL", State.PENDING, 0, 1),  # flow control: later, not an attempt
        ("isv.MOBILE_NUMBER_ILLEGAL", State.FAILED, 1, 0),
        ("isv.SMS_TEMPLATE_ILLEGAL", State.FAILED, 1, 0),
        ("isv.SMS_SIGNATURE_ILLEGAL", State.FAILED, 1, 0),
        ("isp.SYSTEM_ERROR", State.PENDING, 1, 0),  # anything else: retried with backoff
    ],
)
def test_aliyun_error_codes(aliyun, shift, code, state, attempts, deferrals):
    row = confirmed(shift, "13900000001")
    aliyun.codes["13900000001"] = code
    now = timezone.now()

    outcome = send(now)

    row.refresh_from_db()
    assert (row.state, row.attempts, row.deferrals, row.outside_id) == (state, attempts, deferrals, "")
    assert row.last_error.startswith(f"aliyun {code}: ")
    assert aliyun.texts == []
    later = timezone.now()
    if code == "isv.BUSINESS_LIMIT_CONTROL":
        assert (outcome.deferred, outcome.failed, outcome.retry) == (1, 0, 0)
        assert waits(row, now + timedelta(minutes=5), later + timedelta(minutes=5))
    elif state == State.FAILED:
        assert outcome.failed == 1
        coordinator = UserFactory()
        shift.community.coordinators.add(coordinator)
        assert list(outbox.failed_list(user=coordinator)) == [row]
    else:
        assert outcome.retry == 1
        assert waits(row, now + timedelta(minutes=1), later + timedelta(minutes=1))


def test_aliyun_deferrals_back_off_and_never_fail_the_row(aliyun, shift, conf):
    row = confirmed(shift, "13900000001")
    aliyun.codes["13900000001"] = "isv.BUSINESS_LIMIT_CONTROL"
    for minutes in (5, 10, 20, 40, 60, 60, 60):  # more rounds than MAX_ATTEMPTS (5)
        started = timezone.now()
        send(row.send_after)
        row.refresh_from_db()
        assert waits(row, started + timedelta(minutes=minutes), timezone.now() + timedelta(minutes=minutes))
        now = row.send_after
    assert (row.state, row.attempts, row.deferrals) == (State.PENDING, 0, 7)

    del aliyun.codes["13900000001"]  # the limit lifts
    assert send(now).sent == 1
    assert state_of(row)[:2] == (State.SENT, 1)


def test_aliyun_batch_with_one_bad_number_sends_the_others(aliyun, shift):
    rows = reminders(shift, ["13900000001", "13900000002", "13900000003"])
    aliyun.codes["13900000002"] = "isv.MOBILE_NUMBER_ILLEGAL"

    outcome = send(shift.starts_at - timedelta(hours=23))

    assert (outcome.sent, outcome.failed) == (2, 1)
    assert [request["action"] for request in aliyun.requests] == ["SendBatchSms", "SendSms", "SendSms", "SendSms"]
    assert aliyun.phones() == ["13900000001", "13900000003"]
    assert [state_of(row)[0] for row in rows] == [State.SENT, State.FAILED, State.SENT]
    # Sent one by one, under their own keys.
    assert [text.outside_id for text in aliyun.texts] == [rows[0].key, rows[2].key]


def test_aliyun_unapproved_template_fails_the_whole_batch_at_once(aliyun, shift):
    rows = reminders(shift, ["13900000001", "13900000002"])
    aliyun.template_codes["SMS_008"] = "isv.SMS_TEMPLATE_ILLEGAL"

    assert send(shift.starts_at - timedelta(hours=23)).failed == 2
    assert [request["action"] for request in aliyun.requests] == ["SendBatchSms"]
    assert [state_of(row)[0] for row in rows] == [State.FAILED, State.FAILED]


def test_a_kind_without_a_template_fails_without_calling_the_provider(aliyun, shift, conf):
    conf.NOTIFICATIONS = {**conf.NOTIFICATIONS, "SMS_TEMPLATES": _templates(conf, aliyun=False, tencent=True)}
    row = confirmed(shift, "13900000001")

    assert send().failed == 1
    assert state_of(row) == (State.FAILED, 1, 0, "no aliyun template for 'confirmed'")
    assert aliyun.requests == []


def test_parameters_carry_no_link_and_no_full_name_and_fit_the_provider(aliyun, shift):
    coordinator = UserFactory()
    shift.community.coordinators.add(coordinator)
    VolunteerFactory(user=coordinator, mobile="13900000009")
    assignment = AssignmentFactory(shift=shift, volunteer=VolunteerFactory(real_name="欧阳小明", mobile="13900000001"))
    shift.post.name = "东门检测点 https://example.cn/x 请看"
    shift.post.save()
    now = shift.starts_at + timedelta(minutes=31)
    outbox.sweep(now=now)
    row = Notification.objects.get(assignment=assignment, kind="escalation", channel="sms")

    assert outbox.deliver(outbox.claim(limit=10, now=now), now=now).sent == 1

    [text] = aliyun.texts
    assert text.phone == "13900000009"
    assert text.params == {
        "minutes": "30",
        "name": "欧***",
        "community": "金鸡湖社区",
        "post": "东门检测点 请看",
        "start": f"{timezone.localtime(shift.starts_at):%H:%M}",
    }
    assert "13900000001" not in json.dumps(aliyun.requests[0]["query"])
    assert "13900000001" in row.body  # the inbox and the file backend keep the full text
    assert providers.clean_param("金鸡湖社区东门检测点第一临时核酸采样点位", 12) == "金鸡湖社区东门检测点第…"


def test_a_locked_code_check_in_reaches_the_coordinator_as_a_template(aliyun, shift):
    coordinator = UserFactory()
    shift.community.coordinators.add(coordinator)
    VolunteerFactory(user=coordinator, mobile="13900000009")
    assignment = AssignmentFactory(shift=shift, volunteer=VolunteerFactory(real_name="欧阳小明", mobile="13900000001"))
    now = shift.starts_at + timedelta(minutes=5)
    outbox.checkin_locked_event(assignment=assignment, failures=10, now=now)

    assert outbox.deliver(outbox.claim(limit=10, now=now), now=now).sent == 1

    [text] = aliyun.texts
    assert text.phone == "13900000009"
    assert text.params == {
        "name": "欧***",
        "community": "金鸡湖社区",
        "post": shift.post.name,
        "start": f"{timezone.localtime(shift.starts_at):%H:%M}",
    }
    assert "13900000001" not in json.dumps(aliyun.requests[0]["query"])


# --- Tencent ------------------------------------------------------------------------------


def test_tencent_batches_same_parameters_and_answers_each_number(tencent, shift):
    rows = reminders(shift, ["13900000001", "13900000002", "13900000003"])
    tencent.codes["13900000002"] = "LimitExceeded.PhoneNumberDailyLimit"
    tencent.codes["13900000003"] = "InvalidParameterValue.IncorrectPhoneNumber"
    now = shift.starts_at - timedelta(hours=23)

    outcome = send(now)

    assert tencent.problems == []
    [request] = tencent.requests
    assert request["body"]["PhoneNumberSet"] == ["+8613900000001", "+8613900000002", "+8613900000003"]
    assert request["body"]["TemplateParamSet"] == ["金鸡湖社区", "东门检测点", zh_when(shift)]
    assert (request["body"]["SignName"], request["body"]["TemplateId"]) == ("金鸡湖志愿", "1008")
    assert request["body"]["SessionContext"] == f"{rows[0].key}+3"
    assert (outcome.sent, outcome.deferred, outcome.failed) == (1, 1, 1)
    assert [state_of(row)[:3] for row in rows] == [(State.SENT, 1, 0), (State.PENDING, 0, 1), (State.FAILED, 1, 0)]
    rows[0].refresh_from_db()
    assert rows[0].provider_message_id == tencent.texts[0].message_id


def test_tencent_sends_one_message_under_its_key(tencent, shift):
    row = confirmed(shift, "13900000001")
    assert send().sent == 1
    assert tencent.requests[0]["body"]["SessionContext"] == row.key
    assert tencent.problems == []


@pytest.mark.parametrize(
    ("code", "state"),
    [
        ("FailedOperation.TemplateIncorrectOrUnapproved", State.FAILED),
        ("FailedOperation.SignatureIncorrectOrUnapproved", State.FAILED),
        ("RequestLimitExceeded", State.PENDING),
    ],
)
def test_tencent_request_errors(tencent, shift, code, state):
    rows = reminders(shift, ["13900000001", "13900000002"])
    tencent.template_codes["1008"] = code
    send(shift.starts_at - timedelta(hours=23))
    expected_deferrals = 1 if state == State.PENDING else 0
    assert [state_of(row)[:3] for row in rows] == [(state, 1 - expected_deferrals, expected_deferrals)] * 2


# --- Receipts -----------------------------------------------------------------------------


def post_receipts(provider: str, token: str, payload) -> object:
    return Client().post(
        f"/api/v1/sms/receipts/{provider}/?token={token}", json.dumps(payload), content_type="application/json"
    )


def aliyun_report(text, *, success=True, code="DELIVERED") -> dict:
    return {
        "phone_number": text.phone,
        "send_time": "2026-12-07 10:00:00",
        "report_time": "2026-12-07 10:00:05",
        "success": success,
        "err_code": code,
        "err_msg": "用户接收成功" if success else "失败",
        "sms_size": "1",
        "biz_id": text.message_id,
        "out_id": text.outside_id,
    }


def test_aliyun_receipts_mark_delivered_and_undelivered_idempotently(aliyun, shift):
    rows = reminders(shift, ["13900000001", "13900000002"])
    send(shift.starts_at - timedelta(hours=23))
    delivered, lost = aliyun.texts
    payload = [aliyun_report(delivered), aliyun_report(lost, success=False, code="MK:0001")]

    answer = post_receipts("aliyun", "aliyun-receipt-token", payload)

    assert (answer.status_code, answer.json()) == (200, {"code": 0, "msg": "接收成功"})
    first = [
        (row.state, row.delivery_code)
        for row in Notification.objects.filter(pk__in=[r.pk for r in rows]).order_by("pk")
    ]
    assert first == [(State.DELIVERED, "DELIVERED"), (State.UNDELIVERED, "MK:0001")]
    settled = list(Notification.objects.order_by("pk").values_list("pk", "state", "delivered_at"))

    again = post_receipts("aliyun", "aliyun-receipt-token", [aliyun_report(delivered, success=False, code="LATE")])
    assert again.status_code == 200
    assert list(Notification.objects.order_by("pk").values_list("pk", "state", "delivered_at")) == settled

    coordinator = UserFactory()
    shift.community.coordinators.add(coordinator)
    assert [row.pk for row in outbox.failed_list(user=coordinator)] == [rows[1].pk]


def test_a_forged_receipt_is_refused_and_changes_nothing(aliyun, tencent, shift):
    row = confirmed(shift, "13900000001")
    send()
    before = list(Notification.objects.order_by("pk").values_list("pk", "state", "delivery_code"))
    report = [{"phone_number": "13900000001", "success": True, "err_code": "DELIVERED", "out_id": row.key}]
    for provider, token in (("aliyun", "wrong"), ("aliyun", ""), ("tencent", "aliyun-receipt-token")):
        answer = post_receipts(provider, token, report)
        assert answer.status_code == 403
        assert answer.json()["code"] == "permission_denied"
        assert set(answer.json()) == {"code", "message", "details"}
    assert list(Notification.objects.order_by("pk").values_list("pk", "state", "delivery_code")) == before


def test_a_receipt_for_an_unknown_message_is_answered_and_ignored(aliyun, shift):
    before = list(Notification.objects.values_list("pk", "state"))
    report = [{"phone_number": "13900000001", "success": True, "err_code": "DELIVERED", "out_id": "a1:nothing:sms:u1"}]
    assert post_receipts("aliyun", "aliyun-receipt-token", report).status_code == 200
    assert list(Notification.objects.values_list("pk", "state")) == before
    assert post_receipts("aliyun", "aliyun-receipt-token", {"not": "a list"}).status_code == 400


def test_tencent_receipts_find_the_row_by_serial_number(tencent, shift):
    rows = reminders(shift, ["13900000001", "13900000002"])
    send(shift.starts_at - timedelta(hours=23))
    first, second = tencent.texts
    payload = [
        {
            "user_receive_time": "2026-12-07 10:00:05",
            "nationcode": "86",
            "mobile": text.phone,
            "report_status": status,
            "errmsg": code,
            "description": "",
            "sid": text.message_id,
        }
        for text, status, code in ((first, "SUCCESS", "DELIVRD"), (second, "FAIL", "MN:0001"))
    ]
    answer = post_receipts("tencent", "tencent-receipt-token", payload)
    assert (answer.status_code, answer.json()) == (200, {"result": 0, "errmsg": "OK"})
    assert [state_of(row)[0] for row in rows] == [State.DELIVERED, State.UNDELIVERED]
    assert [row.delivery_code for row in Notification.objects.filter(pk__in=[r.pk for r in rows]).order_by("pk")] == [
        "DELIVRD",
        "MN:0001",
    ]


def test_undelivered_can_be_sent_again_from_the_failed_list(aliyun, shift):
    row = confirmed(shift, "13900000001")
    send()
    post_receipts("aliyun", "aliyun-receipt-token", [aliyun_report(aliyun.texts[0], success=False, code="MK:0001")])
    coordinator = UserFactory()
    shift.community.coordinators.add(coordinator)

    outbox.notification_retry(user=coordinator, notification_id=row.pk)
    assert send().sent == 1
    assert len(aliyun.texts) == 2
    row.refresh_from_db()
    assert (row.state, row.delivery_code, row.delivered_at) == (State.SENT, "", None)


# --- A sender dying between the provider's answer and the row's update --------------------


@pytest.mark.parametrize(("fixture", "backend"), [("aliyun", DyingAliyun), ("tencent", DyingTencent)])
def test_a_sender_killed_after_the_provider_took_the_texts_never_sends_them_again(
    request, conf, shift, fixture, backend
):
    fake = request.getfixturevalue(fixture)
    now = shift.starts_at - timedelta(hours=23)
    rows = reminders(shift, ["13900000001", "13900000002"])
    conf.NOTIFICATIONS = {**conf.NOTIFICATIONS, "SMS_BACKEND": f"{__name__}.{backend.__name__}"}

    with pytest.raises(WorkerKilled):
        send(now)
    assert len(fake.texts) == 2  # the provider took them (and would send a resubmission again)
    assert [state_of(row)[0] for row in rows] == [State.SENDING, State.SENDING]

    # Past the lease another sender, alive, claims them again.
    conf.NOTIFICATIONS = {
        **conf.NOTIFICATIONS,
        "SMS_BACKEND": f"config.sms.providers.{backend.__mro__[1].__name__}",
    }
    outcome = send(now + conf.NOTIFICATIONS["LEASE"] + timedelta(seconds=1))

    assert (outcome.not_resent, outcome.sent) == (2, 0)
    assert len(fake.texts) == 2 and len(fake.requests) == 1  # nothing submitted twice
    assert [state_of(row)[0] for row in rows] == [State.SENT, State.SENT]

    # The receipt, naming the outside id (or the provider's id), settles what became of them.
    text = fake.texts[0]
    if fixture == "aliyun":
        payload = [aliyun_report(text)]
    else:
        payload = [
            {
                "mobile": text.phone,
                "report_status": "SUCCESS",
                "errmsg": "DELIVRD",
                "sid": "",
                "ext": {"SessionContext": text.outside_id},
            }
        ]
    assert post_receipts(fixture, f"{fixture}-receipt-token", payload).status_code == 200
    assert [state_of(row)[0] for row in rows] == [State.DELIVERED, State.SENT]


def test_a_transient_failure_is_sent_again_under_a_fresh_outside_id(aliyun, shift):
    row = confirmed(shift, "13900000001")
    aliyun.codes["13900000001"] = "isp.SYSTEM_ERROR"
    now = timezone.now()
    send(now)
    assert state_of(row)[0] == State.PENDING and Notification.objects.get(pk=row.pk).outside_id == ""
    del aliyun.codes["13900000001"]
    assert send(now + timedelta(minutes=2)).sent == 1
    assert len(aliyun.texts) == 1


def test_file_backend_rows_get_no_outside_id(conf, shift, tmp_path):
    conf.NOTIFICATIONS = {
        **conf.NOTIFICATIONS,
        "SMS_BACKEND": "config.sms.backends.FileSmsBackend",
        "SMS_FILE": str(tmp_path / "sms.jsonl"),
        "SMS_FILE_FSYNC": False,
    }
    row = confirmed(shift, "13900000001")
    assert send().sent == 1
    row.refresh_from_db()
    assert (row.state, row.outside_id) == (State.SENT, "")
    assert Assignment.objects.count() == 1


# --- Call-outs: the summary within the limit, the link to the whole message ---------------------


def call_out(subject: str, message: str, mobiles: list[str]):
    from communities.services import broadcasts

    community = CommunityFactory()
    for mobile in mobiles:
        VolunteerFactory(mobile=mobile, deployed_community=community, status="active")
    sender = UserFactory(is_superuser=True)
    target = broadcasts.broadcast_target(actor=sender, audience="community", community_id=community.pk)
    sent = broadcasts.broadcast_create(actor=sender, target=target, subject=subject, message=message, by_sms=True)
    broadcasts.broadcast_fan_out(broadcast_id=sent.pk)
    return sent


LONG_ZH = "明早8点在金鸡湖社区东门集合，带好身份证和口罩，领取防护服后分组到各封控点执勤，中午统一送餐。"


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_a_call_out_texts_a_summary_within_the_limit_and_its_short_link(aliyun, conf, language, client):
    conf.NOTIFICATIONS = {**conf.NOTIFICATIONS, "LANGUAGE": language}
    conf.SITE_URL = "https://zyz.example.cn"
    message = (
        LONG_ZH
        if language == "zh-hans"
        else (
            "Meet at the east gate at 8 tomorrow with your ID card; gowns are handed out, lunch is brought to each post."
        )
    )
    sent = call_out("集合通知" if language == "zh-hans" else "Assembly", message, ["13900000011", "13900000012"])

    assert send().sent == 2
    texts = sorted(aliyun.texts, key=lambda text: text.phone)
    assert [text.phone for text in texts] == ["13900000011", "13900000012"]
    summary = texts[0].params["message"]
    assert texts[0].params == {"message": summary, "code": str(sent.pk)}
    assert len(summary) == 35 and summary.endswith("…")  # cut at Aliyun's limit, and says so
    separator = "：" if language == "zh-hans" else ": "
    assert (f"{sent.subject}{separator}{message}").startswith(summary[:-1])
    # The SMS row holds the text exactly as the approved template makes it from those parameters.
    rows = Notification.objects.filter(channel="sms", kind="broadcast").order_by("pk")
    link = f"https://zyz.example.cn/m/{sent.pk}/"
    frame = "志愿服务通知：{} 详情：{}" if language == "zh-hans" else "Volunteer notice: {} Details: {}"
    assert {row.body for row in rows} == {frame.format(summary, link)}
    # The inbox keeps the whole message; the link opens it for the person it was sent to.
    inbox = Notification.objects.get(channel="inapp", recipient__volunteer__mobile="13900000011")
    assert inbox.body == message
    client.force_login(inbox.recipient)
    page = client.get(f"/m/{sent.pk}/")
    assert page.status_code == 200 and message in page.content.decode()


def test_a_short_call_out_is_texted_whole_and_tencent_cuts_at_its_own_limit(tencent, conf):
    conf.SITE_URL = "https://zyz.example.cn"
    sent = call_out("通知", "明早8点集合", ["13900000021"])
    send()
    [text] = tencent.texts
    # Tencent's personal-account limit here is 20 characters: "通知：明早8点集合" fits whole.
    assert text.params == ["通知：明早8点集合", str(sent.pk)]  # {1}, {2} in the template's order
    row = Notification.objects.get(channel="sms", kind="broadcast")
    assert row.body == f"志愿服务通知：通知：明早8点集合 详情：https://zyz.example.cn/m/{sent.pk}/"
