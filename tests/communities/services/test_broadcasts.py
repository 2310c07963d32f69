"""Call-outs: who may write to whom, the audience preview, the rows each person gets (inbox
always, SMS when chosen, quiet hours unless urgent), a linked shift, and refusals."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from communities.models import Assignment, Broadcast, Notification
from communities.services import broadcasts
from config.errors import ServiceError
from tests.factories import (
    CommunityFactory,
    OrganizationFactory,
    OrganizationStaffFactory,
    PostFactory,
    ShiftFactory,
    TeamFactory,
    UserFactory,
    VolunteerFactory,
)
from volunteers.models import Volunteer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def conf(settings, tmp_path):
    settings.NOTIFICATIONS = {
        **settings.NOTIFICATIONS,
        "SMS_BACKEND": "config.sms.backends.FileSmsBackend",
        "SMS_FILE": str(tmp_path / "sms.jsonl"),
        "SMS_FILE_DELAY": 0,
        "SMS_FILE_FSYNC": False,
        "QUIET_HOURS_START": "",
        "QUIET_HOURS_END": "",
        "QUEUE": None,
        "SMS_SIGN_NAME": "",
        "SMS_PRICE_YUAN": Decimal("0.05"),
    }
    return settings.NOTIFICATIONS


@pytest.fixture
def world():
    org, other_org = OrganizationFactory(), OrganizationFactory()
    community = CommunityFactory()
    coordinator = UserFactory()
    community.coordinators.add(coordinator)
    staff = OrganizationStaffFactory(organization=org).user
    team = TeamFactory(organization=org)
    members = [VolunteerFactory(organization=org, team=team, status="reserve") for _ in range(3)]
    Volunteer.objects.filter(pk=members[2].pk).update(notify_by_sms=False)
    outsider = VolunteerFactory(organization=other_org, deployed_community=community, status="active")
    insider = VolunteerFactory(organization=org, deployed_community=community, status="active")
    shift = ShiftFactory(post=PostFactory(community=community))
    for volunteer in (members[0], outsider):
        Assignment.objects.create(shift=shift, volunteer=volunteer, status="confirmed")
    return {
        "org": org,
        "community": community,
        "coordinator": coordinator,
        "staff": staff,
        "team": team,
        "members": members,
        "outsider": outsider,
        "insider": insider,
        "shift": shift,
    }


def people(target):
    return sorted(broadcasts.broadcast_people(target).values_list("pk", flat=True))


def test_a_coordinator_reaches_everyone_on_their_shift_and_in_their_community(world):
    shift = broadcasts.broadcast_target(actor=world["coordinator"], audience="shift", shift_id=world["shift"].pk)
    assert people(shift) == sorted([world["members"][0].pk, world["outsider"].pk])
    community = broadcasts.broadcast_target(
        actor=world["coordinator"], audience="community", community_id=world["community"].pk
    )
    assert people(community) == sorted([world["outsider"].pk, world["insider"].pk])


def test_staff_reach_only_their_organizations_volunteers(world):
    shift = broadcasts.broadcast_target(actor=world["staff"], audience="shift", shift_id=world["shift"].pk)
    assert people(shift) == [world["members"][0].pk]
    community = broadcasts.broadcast_target(
        actor=world["staff"], audience="community", community_id=world["community"].pk
    )
    assert people(community) == [world["insider"].pk]
    team = broadcasts.broadcast_target(actor=world["staff"], audience="team", team_id=world["team"].pk)
    assert people(team) == sorted(v.pk for v in world["members"])
    reserve = broadcasts.broadcast_target(actor=world["staff"], audience="reserve", organization_id=world["org"].pk)
    assert people(reserve) == sorted(v.pk for v in world["members"])


@pytest.mark.parametrize(
    "who, audience, target, code",
    [
        ("coordinator", "team", "team", "permission_denied"),
        ("coordinator", "reserve", "org", "permission_denied"),
        ("coordinator", "community", "other_community", "not_found"),
        ("staff", "team", "other_team", "not_found"),
        ("staff", "reserve", "other_org", "not_found"),
        ("volunteer", "shift", "shift", "permission_denied"),
    ],
)
def test_out_of_reach_is_refused(world, who, audience, target, code):
    actors = {
        "coordinator": world["coordinator"],
        "staff": world["staff"],
        "volunteer": world["members"][0].user,
    }
    ids = {
        "team": world["team"].pk,
        "org": world["org"].pk,
        "other_community": CommunityFactory().pk,
        "other_team": TeamFactory().pk,
        "other_org": OrganizationFactory().pk,
        "shift": world["shift"].pk,
    }
    field = {"team": "team_id", "reserve": "organization_id", "community": "community_id", "shift": "shift_id"}
    with pytest.raises(ServiceError) as refused:
        broadcasts.broadcast_target(actor=actors[who], audience=audience, **{field[audience]: ids[target]})
    assert refused.value.code == code


def test_the_preview_counts_people_texts_and_cost(world, settings):
    settings.SITE_URL = "https://zyz.example.cn"
    target = broadcasts.broadcast_target(actor=world["staff"], audience="team", team_id=world["team"].pk)
    short = broadcasts.broadcast_preview(target=target, subject="集合", message="明早8点集合", by_sms=True)
    text = "志愿服务通知：集合：明早8点集合 详情：https://zyz.example.cn/m/1/"
    assert short == {
        "people": 3,
        "texts": 2,
        "parts_per_text": 1,
        "estimated_cost": Decimal("0.10"),
        "sms_text": text,
        "sms_characters": len(text),
        "sms_cut": False,
    }
    # The file backend sends the text itself, whole: 120 characters and the frame are 3 parts.
    long = broadcasts.broadcast_preview(target=target, subject="集合", message="字" * 120, by_sms=True)
    assert (long["parts_per_text"], long["estimated_cost"], long["sms_cut"]) == (3, Decimal("0.30"), False)
    assert broadcasts.broadcast_preview(target=target, message="x", by_sms=False)["texts"] == 0


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_the_preview_shows_the_text_a_provider_sends_and_that_it_is_cut(world, conf, settings, language):
    settings.SITE_URL = "https://zyz.example.cn"
    settings.NOTIFICATIONS = {
        **conf,
        "SMS_BACKEND": "config.sms.providers.AliyunSmsBackend",
        "SMS_SIGN_NAME": "金鸡湖志愿",
        "LANGUAGE": language,
    }
    target = broadcasts.broadcast_target(actor=world["staff"], audience="team", team_id=world["team"].pk)
    message = "Meet at the east gate at 8 tomorrow, ID card and mask, lunch at the post."
    preview = broadcasts.broadcast_preview(target=target, subject="Assembly", message=message, by_sms=True)
    # Within Aliyun's 35 characters, ending with the ellipsis, no English word split.
    if language == "zh-hans":
        summary, frame = "Assembly：Meet at the east gate at…", "志愿服务通知：{} 详情：{}"
    else:
        summary, frame = "Assembly: Meet at the east gate at…", "Volunteer notice: {} Details: {}"
    assert preview["sms_text"] == frame.format(summary, "https://zyz.example.cn/m/1/")
    assert (preview["sms_cut"], preview["sms_characters"]) == (True, len(preview["sms_text"]) + len("【金鸡湖志愿】"))
    fits = broadcasts.broadcast_preview(target=target, subject="集合", message="明早8点东门集合", by_sms=True)
    assert fits["sms_cut"] is False and "集合" in fits["sms_text"]
    # What is sent is what the preview showed, under the call-out's own number.
    sent = broadcasts.broadcast_create(
        actor=world["staff"], target=target, subject="Assembly", message=message, by_sms=True
    )
    broadcasts.broadcast_fan_out(broadcast_id=sent.pk)
    expected = frame.format(summary, f"https://zyz.example.cn/m/{sent.pk}/")
    assert set(Notification.objects.filter(channel="sms").values_list("body", flat=True)) == {expected}
    assert set(Notification.objects.filter(channel="inapp").values_list("body", flat=True)) == {message}
    assert sent.texts == 2 * broadcasts.sms_parts(len(expected) + len("【金鸡湖志愿】"))


def test_each_person_gets_the_inbox_row_and_a_text_if_they_take_texts(world, settings):
    target = broadcasts.broadcast_target(actor=world["staff"], audience="team", team_id=world["team"].pk)
    later = ShiftFactory()
    sent = broadcasts.broadcast_create(
        actor=world["staff"], target=target, subject="集合", message="明早8点集合", by_sms=True, link_shift_id=later.pk
    )
    assert (sent.recipients, sent.texts) == (3, 2)
    assert broadcasts.broadcast_fan_out(broadcast_id=sent.pk) == 5
    rows = Notification.objects.filter(kind="broadcast")
    assert sorted(rows.values_list("recipient_id", "channel")) == sorted(
        [(v.user_id, "inapp") for v in world["members"]] + [(v.user_id, "sms") for v in world["members"][:2]]
    )
    assert set(rows.exclude(channel="sms").values_list("shift_id", "subject", "body")) == {
        (later.pk, "集合", "明早8点集合")
    }
    sms = f"志愿服务通知：集合：明早8点集合 详情：{settings.SITE_URL}/m/{sent.pk}/"
    assert set(rows.filter(channel="sms").values_list("shift_id", "subject", "body")) == {(later.pk, "集合", sms)}
    assert broadcasts.broadcast_fan_out(broadcast_id=sent.pk) == 0  # written out already
    sent.refresh_from_db()
    assert sent.fanned_out_at is not None


def test_quiet_hours_hold_texts_unless_staff_mark_the_call_out_urgent(world, settings):
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, "QUIET_HOURS_START": "00:00", "QUIET_HOURS_END": "23:59"}
    target = broadcasts.broadcast_target(actor=world["staff"], audience="team", team_id=world["team"].pk)
    now = timezone.make_aware(datetime.combine(timezone.localdate(), datetime.min.time())) + timedelta(hours=3)
    calm = broadcasts.broadcast_create(actor=world["staff"], target=target, subject="a", message="b", by_sms=True)
    urgent = broadcasts.broadcast_create(
        actor=world["staff"], target=target, subject="a", message="b", by_sms=True, urgent=True
    )
    broadcasts.broadcast_fan_out(broadcast_id=calm.pk, now=now)
    broadcasts.broadcast_fan_out(broadcast_id=urgent.pk, now=now)
    held = Notification.objects.filter(key__startswith=f"b{calm.pk}:", channel="sms")
    assert all(row.send_after > now for row in held) and held.count() == 2
    at_once = Notification.objects.filter(key__startswith=f"b{urgent.pk}:", channel="sms")
    assert all(row.send_after == now and row.urgent for row in at_once) and at_once.count() == 2


def test_a_coordinator_may_not_mark_a_call_out_urgent_and_nothing_is_kept(world):
    target = broadcasts.broadcast_target(actor=world["coordinator"], audience="shift", shift_id=world["shift"].pk)
    with pytest.raises(ServiceError) as refused:
        broadcasts.broadcast_create(
            actor=world["coordinator"], target=target, subject="a", message="b", by_sms=True, urgent=True
        )
    assert (refused.value.code, list(refused.value.details)) == ("invalid", ["urgent"])
    assert Broadcast.objects.count() == 0


def test_an_empty_audience_is_refused(world):
    empty = TeamFactory(organization=world["org"])
    target = broadcasts.broadcast_target(actor=world["staff"], audience="team", team_id=empty.pk)
    with pytest.raises(ServiceError) as refused:
        broadcasts.broadcast_create(actor=world["staff"], target=target, subject="a", message="b")
    assert refused.value.code == "audience_empty"
    assert Broadcast.objects.count() == 0


def test_the_sweep_writes_out_a_call_out_whose_task_never_ran(world):
    target = broadcasts.broadcast_target(actor=world["staff"], audience="team", team_id=world["team"].pk)
    sent = broadcasts.broadcast_create(actor=world["staff"], target=target, subject="a", message="b")
    assert broadcasts.broadcast_pending_sweep() == 0  # within its grace
    assert broadcasts.broadcast_pending_sweep(now=timezone.now() + timedelta(minutes=2)) == 1
    assert Notification.objects.filter(key__startswith=f"b{sent.pk}:").count() == 3


def test_staff_reach_the_known_applicants_of_a_call_in_their_organizations(world):
    from datetime import date

    from tests.factories import RecruitmentCallFactory
    from volunteers.idcard import make_id_number
    from volunteers.models import CallApplication

    call = RecruitmentCallFactory(organization=world["org"])

    def answer(n, volunteer=None, status="pending"):
        application = CallApplication(
            call=call,
            agreement=call.agreements.get(),
            agreement_accepted_at=timezone.now(),
            mobile=f"1360000001{n}",
            real_name=f"报名者{n}",
            birth_date=date(1996, 1, n),
            gender="female",
            organization=world["org"],
            emergency_contact_name="家人",
            emergency_contact_mobile="13600000099",
            volunteer=volunteer,
            status=status,
            reject_reason="名额已满" if status == "rejected" else "",
        )
        application.set_id_number(make_id_number("320506", date(1996, 1, n), 70 + n))
        application.save()

    answer(1, world["members"][0])  # an existing volunteer, recognised
    answer(2, world["members"][1], status="approved")
    answer(3, world["members"][2], status="rejected")
    answer(4)  # not registered yet: no inbox to reach
    target = broadcasts.broadcast_target(actor=world["staff"], audience="call", call_id=call.pk)
    assert people(target) == sorted([world["members"][0].pk, world["members"][1].pk])
    with pytest.raises(ServiceError) as refused:
        broadcasts.broadcast_target(actor=world["coordinator"], audience="call", call_id=call.pk)
    assert refused.value.code == "permission_denied"
    other = RecruitmentCallFactory()
    with pytest.raises(ServiceError) as refused:
        broadcasts.broadcast_target(actor=world["staff"], audience="call", call_id=other.pk)
    assert refused.value.code == "not_found"
