"""Coordinator and team-leader pages: scope, the same services as the API, reasons required."""

from datetime import timedelta

import pytest
from django.utils import timezone

from communities.models import Assignment, AuditEntry, CheckinCodeAttempts, Notification, Shift
from tests.factories import CommunityFactory, PostFactory, ShiftFactory, TeamFactory, UserFactory, VolunteerFactory
from tests.test_access_control import fingerprint

pytestmark = pytest.mark.django_db


@pytest.fixture
def coordinator():
    return UserFactory(username="coord-page")


@pytest.fixture
def community(coordinator):
    community = CommunityFactory(name="金鸡湖社区")
    community.coordinators.add(coordinator)
    return community


@pytest.fixture
def post(community):
    return PostFactory(community=community, name="东门封控点")


def running(post, minutes_ago=5, **kwargs):
    start = timezone.now() - timedelta(minutes=minutes_ago)
    return ShiftFactory(post=post, starts_at=start, ends_at=start + timedelta(hours=4), **kwargs)


def place(shift, volunteer=None, **fields):
    fields.setdefault("status", "confirmed")
    assignment = Assignment.objects.create(shift=shift, volunteer=volunteer or VolunteerFactory(), **fields)
    Shift.objects.filter(pk=shift.pk).update(confirmed_count=shift.confirmed_count + 1)
    shift.confirmed_count += 1
    return assignment


def test_today_lists_my_communities_with_fill_and_missing(client, coordinator, community, post):
    shift = running(post, capacity=2)
    place(shift)
    client.force_login(coordinator)
    page = client.get("/coordinator/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "金鸡湖社区" in html
    assert "东门封控点" in html
    assert "1 missing" in html or "1 人未到" in html


def test_pages_refuse_non_coordinators(client):
    client.force_login(VolunteerFactory().user)
    assert client.get("/coordinator/").status_code == 403
    assert client.get("/coordinator/hours/").status_code == 403


def test_other_communities_are_404(client, coordinator, post):
    foreign = running(PostFactory())
    assignment = place(foreign)
    client.force_login(coordinator)
    assert client.get(f"/coordinator/communities/{foreign.community_id}/roster/").status_code == 404
    assert client.get(f"/coordinator/shifts/{foreign.pk}/code/").status_code == 404
    response = client.post(f"/coordinator/attendance/{assignment.pk}/check-in/", {"reason": "x"})
    assert response.status_code == 404
    assignment.refresh_from_db()
    assert assignment.checked_in_at is None


def test_roster_shows_mobile_and_checks_in_by_hand_with_reason(client, coordinator, community, post):
    shift = running(post)
    assignment = place(shift)
    client.force_login(coordinator)
    page = client.get(f"/coordinator/communities/{community.pk}/roster/")
    assert assignment.volunteer.mobile in page.content.decode()
    refused = client.post(f"/coordinator/attendance/{assignment.pk}/check-in/", {"reason": ""}, follow=True)
    assert refused.status_code == 200
    assignment.refresh_from_db()
    assert assignment.checked_in_at is None
    client.post(f"/coordinator/attendance/{assignment.pk}/check-in/", {"reason": "忘带手机"})
    assignment.refresh_from_db()
    assert assignment.checkin_method == "manual"
    assert AuditEntry.objects.get(assignment=assignment).reason == "忘带手机"


def test_roster_page_of_a_past_day_masks_mobiles_of_volunteers_whose_shifts_are_over(client, coordinator, post):
    shift = running(post, minutes_ago=3 * 24 * 60)
    volunteer = place(shift).volunteer
    client.force_login(coordinator)
    day = timezone.localtime(shift.starts_at).date()
    html = client.get(f"/coordinator/communities/{post.community_id}/roster/?date={day}").content.decode()
    assert volunteer.mobile not in html
    assert volunteer.mobile_masked in html


def test_code_page_shows_the_current_code_and_refreshes(client, coordinator, post):
    from communities.rules import checkin_codes

    shift = running(post)
    client.force_login(coordinator)
    page = client.get(f"/coordinator/shifts/{shift.pk}/code/")
    html = page.content.decode()
    assert page["Cache-Control"] == "no-store"
    assert 'http-equiv="refresh"' in html
    assert "<svg" in html
    code = checkin_codes.current_code(shift.checkin_secret)[0]
    assert code in html or checkin_codes.code_is_valid(shift.checkin_secret, code)


def test_rota_form_creates_shifts(client, coordinator, community, post):
    day = timezone.localdate() + timedelta(days=2)
    client.force_login(coordinator)
    response = client.post(
        f"/coordinator/communities/{community.pk}/rota/",
        {
            "post": post.pk,
            "date_from": day,
            "date_to": day + timedelta(days=1),
            "slots": "08:00-12:00\n22:00-02:00",
            "capacity": 2,
        },
    )
    assert response.status_code == 302
    assert Shift.objects.filter(post=post).count() == 4


def test_rota_form_rejects_bad_slots_and_creates_nothing(client, coordinator, community, post):
    day = timezone.localdate() + timedelta(days=2)
    client.force_login(coordinator)
    response = client.post(
        f"/coordinator/communities/{community.pk}/rota/",
        {"post": post.pk, "date_from": day, "date_to": day, "slots": "eight to noon", "capacity": 2},
    )
    assert response.status_code == 200
    assert not Shift.objects.exists()


def test_assign_from_candidates(client, coordinator, community, post):
    shift = ShiftFactory(post=post, capacity=1)
    first, second = VolunteerFactory(deployed_community=community), VolunteerFactory()
    client.force_login(coordinator)
    page = client.get(f"/coordinator/shifts/{shift.pk}/candidates/")
    assert first.real_name in page.content.decode()
    client.post(f"/coordinator/shifts/{shift.pk}/candidates/", {"volunteer_ids": [first.pk, second.pk]})
    assert dict(Assignment.objects.values_list("volunteer_id", "status")) == {
        first.pk: "confirmed",
        second.pk: "waitlisted",
    }


def test_hours_approval_page(client, coordinator, post):
    start = timezone.now() - timedelta(hours=6)
    shift = ShiftFactory(post=post, starts_at=start, ends_at=start + timedelta(hours=4))
    assignment = place(shift, checked_in_at=start, checked_out_at=start + timedelta(hours=4))
    Assignment.objects.filter(pk=assignment.pk).update(status="completed", credited_minutes=240, hours_status="pending")
    client.force_login(coordinator)
    assert assignment.volunteer.real_name in client.get("/coordinator/hours/").content.decode()
    page = client.get("/coordinator/hours/").content.decode()
    assert "4 小时" in page  # shown in hours and minutes, as it is edited
    assert 'name="hours" type="number" min="0" max="24" step="1" value="4"' in page
    assert 'name="minutes" type="number" min="0" max="59" step="1" value="0"' in page
    client.post(f"/coordinator/hours/{assignment.pk}/adjust/", {"hours": "3", "minutes": "30", "reason": "提前离岗"})
    assignment.refresh_from_db()
    assert (assignment.credited_minutes, assignment.hours_status) == (210, "approved")


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("https://evil.example/phish", "/coordinator/hours/"),
        ("//evil.example/phish", "/coordinator/hours/"),
        ("/\\evil.example/phish", "/coordinator/hours/"),
        ("javascript:alert(1)", "/coordinator/hours/"),
        ("²", "/coordinator/hours/"),  # redirect() would look it up as a URL name: a 500
        ("coordinator-today", "/coordinator/hours/"),
        ("/coordinator/hours/?page=2", "/coordinator/hours/?page=2"),
    ],
)
def test_hours_approval_goes_back_only_within_the_site(client, coordinator, post, next_url, expected):
    start = timezone.now() - timedelta(hours=6)
    shift = ShiftFactory(post=post, starts_at=start, ends_at=start + timedelta(hours=4))
    assignment = place(shift, checked_in_at=start, checked_out_at=start + timedelta(hours=4))
    Assignment.objects.filter(pk=assignment.pk).update(status="completed", credited_minutes=240, hours_status="pending")
    client.force_login(coordinator)
    response = client.post(f"/coordinator/hours/{assignment.pk}/approve/", {"next": next_url})
    assert response.status_code == 302
    assert response["Location"] == expected
    assignment.refresh_from_db()
    assert assignment.hours_status == "approved"


def test_team_leader_sees_the_team(client, post):
    team = TeamFactory()
    leader = VolunteerFactory(team=team)
    team.leader = leader
    team.save()
    member = VolunteerFactory(team=team)
    place(ShiftFactory(post=post), member)
    client.force_login(leader.user)
    page = client.get("/team/")
    assert page.status_code == 200
    assert member.real_name in page.content.decode()
    client.force_login(VolunteerFactory().user)
    assert client.get("/team/").status_code == 403


def test_committee_dispatches_reserve_volunteers_from_the_page(client):
    from tests.factories import OrganizationFactory, OrganizationStaffFactory
    from volunteers.models import Volunteer

    organization = OrganizationFactory()
    staff = OrganizationStaffFactory(organization=organization).user
    community = CommunityFactory(code="GS0099")
    reserves = [VolunteerFactory(organization=organization, status="reserve") for _ in range(3)]
    client.force_login(staff)
    assert client.get("/committee/dispatch/").status_code == 200
    # The community is chosen by id from a name search; a code typed by hand is not a choice.
    typed = client.post("/committee/dispatch/", {"community": "GS0099", "count": 2})
    assert typed.status_code == 200 and not Volunteer.objects.filter(deployed_community=community).exists()
    response = client.post("/committee/dispatch/", {"community": community.pk, "count": 2})
    assert response.status_code == 302
    assert Volunteer.objects.filter(pk__in=[v.pk for v in reserves], deployed_community=community).count() == 2
    refused = client.post("/committee/dispatch/", {"community": community.pk, "count": 5}, follow=True)
    assert refused.status_code == 200
    assert Volunteer.objects.filter(deployed_community=community).count() == 2
    client.force_login(VolunteerFactory().user)
    assert client.get("/committee/dispatch/").status_code == 403


@pytest.mark.parametrize(
    "language, words",
    [
        ("en", ["The rota lists the same time slot more than once.", "Listed more than once: 08:00-12:00."]),
        ("zh-hans", ["排班中同一时段出现了不止一次。", "重复的时段：08:00-12:00。"]),
    ],
)
def test_rota_form_refuses_a_repeated_slot_in_words(client, coordinator, community, post, language, words):
    day = timezone.localdate() + timedelta(days=2)
    client.force_login(coordinator)
    response = client.post(
        f"/coordinator/communities/{community.pk}/rota/",
        {"post": post.pk, "date_from": day, "date_to": day, "slots": "08:00-12:00\n08:00-12:00", "capacity": 2},
        HTTP_ACCEPT_LANGUAGE=language,
        follow=True,
    )
    html = response.content.decode()
    for sentence in words:
        assert sentence in html
    assert not Shift.objects.exists()


def _roster(client, community):
    return client.get(f"/coordinator/communities/{community.pk}/roster/").content.decode()


def test_roster_offers_check_out_and_no_show_only_when_the_service_takes_them(client, coordinator, community, post):
    client.force_login(coordinator)
    start = timezone.now() + timedelta(minutes=10)
    soon = ShiftFactory(post=post, starts_at=start, ends_at=start + timedelta(hours=2))
    early_bird = place(soon, checked_in_at=timezone.now())
    expected = place(soon)
    page = _roster(client, community)
    assert f"/coordinator/attendance/{early_bird.pk}/check-out/" not in page
    assert "班次开始后才能签退。" in page
    assert f"/coordinator/attendance/{expected.pk}/no-show/" not in page
    assert f"/coordinator/attendance/{expected.pk}/check-in/" in page  # check-in is open
    later = ShiftFactory(post=post, starts_at=start + timedelta(hours=1), ends_at=start + timedelta(hours=3))
    not_yet = place(later)
    page = _roster(client, community)
    assert f"/coordinator/attendance/{not_yet.pk}/check-in/" not in page  # opens 30 min before

    just_started = running(post, minutes_ago=1)
    late = place(just_started)
    page = _roster(client, community)
    grace_ends = timezone.localtime(just_started.starts_at + timedelta(minutes=30))
    assert f"/coordinator/attendance/{late.pk}/no-show/" in page
    assert f"{grace_ends:%H:%M}前未签到即为缺勤。" in page
    assert 'type="checkbox" name="early"' in page

    refused = client.post(f"/coordinator/attendance/{late.pk}/no-show/", {"reason": "没来"}, follow=True)
    messages = [str(m) for m in refused.context["messages"]]
    assert messages[0].startswith("现在标记缺勤为时过早")
    late.refresh_from_db()
    assert late.status == "confirmed"
    client.post(f"/coordinator/attendance/{late.pk}/no-show/", {"reason": "本人来电请病假", "early": "on"})
    late.refresh_from_db()
    assert late.status == "no_show"
    entry = AuditEntry.objects.get(assignment=late, action="no_show")
    assert (entry.reason, entry.after["early"]) == ("本人来电请病假", True)

    past_grace = running(post, minutes_ago=31)
    absent = place(past_grace)
    page = _roster(client, community)
    form_start = page.index(f"/coordinator/attendance/{absent.pk}/no-show/")
    assert 'name="early"' not in page[form_start : page.index("</form>", form_start)]


def test_roster_flags_location_and_locks_and_reopens_a_check_out(client, coordinator, community, post):
    client.force_login(coordinator)
    shift = running(post, minutes_ago=60)
    far = place(shift, checked_in_at=shift.starts_at, checkin_flagged=True, checkin_distance_m=1112)
    unknown = place(shift, checked_in_at=shift.starts_at, checkin_flagged=True)
    locked = place(shift)
    CheckinCodeAttempts.objects.create(assignment=locked, failures=10, locked_at=timezone.now())
    done = place(
        shift,
        status="completed",
        checked_in_at=shift.starts_at,
        checked_out_at=shift.starts_at,
        credited_minutes=0,
        hours_status="pending",
    )
    page = _roster(client, community)
    assert "距岗位1112米" in page
    assert page.count("无定位") == 1  # the one checked in without a location
    assert page.count("扫码签到已锁定") == 1  # the locked one
    assert [f"/coordinator/attendance/{a.pk}/reopen/" in page for a in (far, unknown, locked, done)] == [
        False,
        False,
        False,
        True,
    ]

    client.post(f"/coordinator/attendance/{done.pk}/reopen/", {"reason": "误点签退"})
    done.refresh_from_db()
    assert (done.status, done.checked_out_at, done.credited_minutes, done.hours_status) == (
        "confirmed",
        None,
        None,
        "none",
    )
    assert AuditEntry.objects.get(assignment=done).action == "reopened"


# --- Messages not delivered ------------------------------------------------------------------


def failed_message(shift, volunteer, key: str, **fields) -> Notification:
    assignment = place(shift, volunteer)
    fields.setdefault("state", "failed")
    return Notification.objects.create(
        key=key,
        kind="reminder_2h",
        channel="sms",
        recipient=volunteer.user,
        assignment=assignment,
        shift=shift,
        subject="班次提醒",
        body="x",
        **fields,
    )


def test_failed_messages_page_lists_what_did_not_reach_my_communities_volunteers(client, coordinator, post):
    shift = ShiftFactory(
        post=post, starts_at=timezone.now() + timedelta(hours=3), ends_at=timezone.now() + timedelta(hours=6)
    )
    refused = failed_message(shift, VolunteerFactory(real_name="李青"), "f-1", last_error="isv.MOBILE_NUMBER_ILLEGAL")
    undelivered = failed_message(
        shift, VolunteerFactory(real_name="王芳"), "f-2", state="undelivered", delivery_code="MK:0001"
    )
    failed_message(shift, VolunteerFactory(real_name="赵雷"), "f-3", state="sent")
    elsewhere = ShiftFactory(starts_at=shift.starts_at, ends_at=shift.ends_at)
    failed_message(elsewhere, VolunteerFactory(real_name="别处"), "f-4")
    client.force_login(coordinator)

    response = client.get("/coordinator/messages/failed/", HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    assert [row.pk for row in response.context["page"].object_list] == [undelivered.pk, refused.pk]
    html = response.content.decode()
    assert "李青" in html and "王芳" in html and "赵雷" not in html and "别处" not in html
    assert "isv.MOBILE_NUMBER_ILLEGAL" in html and "MK:0001" in html
    assert "Messages not delivered" in html


def test_a_coordinator_sends_a_failed_message_again_from_the_page(client, coordinator, post):
    shift = ShiftFactory(
        post=post, starts_at=timezone.now() + timedelta(hours=3), ends_at=timezone.now() + timedelta(hours=6)
    )
    row = failed_message(shift, VolunteerFactory(), "f-5", state="undelivered", delivery_code="MK:0001", attempts=3)
    client.force_login(coordinator)

    response = client.post(f"/coordinator/messages/failed/{row.pk}/retry/")

    assert response.status_code == 302 and response["Location"] == "/coordinator/messages/failed/"
    row.refresh_from_db()
    assert (row.state, row.attempts, row.delivery_code) == ("pending", 0, "")


def test_a_failed_message_of_another_community_cannot_be_sent_again(client, coordinator, post):
    elsewhere = ShiftFactory(starts_at=timezone.now() + timedelta(hours=3), ends_at=timezone.now() + timedelta(hours=6))
    row = failed_message(elsewhere, VolunteerFactory(), "f-6")
    client.force_login(coordinator)

    assert client.post(f"/coordinator/messages/failed/{row.pk}/retry/").status_code == 404
    row.refresh_from_db()
    assert row.state == "failed"


def test_a_rota_lands_on_its_first_day_with_shifts(client, coordinator, community, post):
    start = timezone.localdate() + timedelta(days=1)
    while start.isoweekday() != 6:  # a Saturday, and the rota only on weekdays
        start += timedelta(days=1)
    client.force_login(coordinator)
    response = client.post(
        f"/coordinator/communities/{community.pk}/rota/",
        {
            "post": post.pk,
            "date_from": start,
            "date_to": start + timedelta(days=6),
            "slots": "08:00-12:00",
            "capacity": 2,
            "weekdays": [1, 2, 3, 4, 5],
        },
    )
    monday = start + timedelta(days=2)
    assert response["Location"] == f"/coordinator/communities/{community.pk}/roster/?date={monday.isoformat()}"
    first = Shift.objects.filter(post=post).order_by("starts_at").first()
    assert timezone.localtime(first.starts_at).date() == monday


def test_the_roster_asks_one_reason_for_check_in_or_no_show(client, coordinator, community, post):
    late = place(running(post, minutes_ago=40))
    client.force_login(coordinator)
    page = _roster(client, community)
    assert page.count('name="reason"') == 1
    form = page[page.index(f'id="re-{late.pk}"') - 600 : page.index("</form>", page.index(f'id="re-{late.pk}"'))]
    assert f'formaction="/coordinator/attendance/{late.pk}/check-in/"' in form
    assert f'formaction="/coordinator/attendance/{late.pk}/no-show/"' in form
    client.post(f"/coordinator/attendance/{late.pk}/no-show/", {"reason": "未到岗"})
    late.refresh_from_db()
    assert late.status == "no_show"


def test_every_input_on_the_coordinator_pages_has_a_type(client, coordinator, community, post):
    import re

    shift = running(post, minutes_ago=40)
    place(shift)
    done = place(running(post, minutes_ago=300), status="completed", credited_minutes=200, hours_status="pending")
    client.force_login(coordinator)
    for url in [
        "/coordinator/",
        f"/coordinator/communities/{community.pk}/roster/",
        f"/coordinator/communities/{community.pk}/rota/",
        f"/coordinator/shifts/{shift.pk}/candidates/",
        f"/coordinator/shifts/{shift.pk}/edit/",
        "/coordinator/hours/",
    ]:
        html = client.get(url).content.decode()
        untyped = [tag for tag in re.findall(r"<input\b[^>]*>", html) if " type=" not in tag]
        assert untyped == [], url
    assert "3 小时 20 分钟" in client.get("/coordinator/hours/").content.decode()
    assert done.volunteer.real_name


def test_approve_all_hours_of_a_shift_from_the_page(client, coordinator, community, post):
    shift = running(post, minutes_ago=300)
    first = place(shift, status="completed", credited_minutes=240, hours_status="pending")
    second = place(shift, status="completed", credited_minutes=180, hours_status="pending")
    other = place(running(post, minutes_ago=300), status="completed", credited_minutes=240, hours_status="pending")
    client.force_login(coordinator)
    page = client.get("/coordinator/hours/").content.decode()
    assert "全部通过本班次 2 条" in page
    assert f'action="/coordinator/shifts/{shift.pk}/approve-hours/"' in page

    response = client.post(f"/coordinator/shifts/{shift.pk}/approve-hours/", follow=True)

    assert [str(m) for m in response.context["messages"]] == ["已审核通过 2 条服务时长。"]
    statuses = dict(Assignment.objects.values_list("pk", "hours_status"))
    assert (statuses[first.pk], statuses[second.pk], statuses[other.pk]) == ("approved", "approved", "pending")


def test_edit_a_shift_from_the_page_then_cancel_it_with_a_confirmation(client, coordinator, community, post):
    shift = ShiftFactory(post=post, capacity=3)
    held = place(shift)
    client.force_login(coordinator)
    page = client.get(f"/coordinator/shifts/{shift.pk}/edit/").content.decode()
    assert 'name="capacity"' in page and 'value="3"' in page
    day = timezone.localtime(shift.starts_at).date() + timedelta(days=1)
    response = client.post(
        f"/coordinator/shifts/{shift.pk}/edit/",
        {"day": day.isoformat(), "start": "22:00", "end": "02:00", "capacity": "5", "notes": "带手电", "reason": ""},
    )
    assert response["Location"] == f"/coordinator/communities/{community.pk}/roster/?date={day.isoformat()}"
    shift.refresh_from_db()
    start, end = timezone.localtime(shift.starts_at), timezone.localtime(shift.ends_at)
    assert (start.date(), start.hour, end.date(), end.hour) == (day, 22, day + timedelta(days=1), 2)
    assert (shift.capacity, shift.notes) == (5, "带手电")
    assert AuditEntry.objects.filter(action="shift_changed", shift=shift).exists()

    # Without the ticked confirmation nothing is cancelled.
    refused = client.post(f"/coordinator/shifts/{shift.pk}/cancel/", {"reason": "封控解除"}, follow=True)
    assert [str(m) for m in refused.context["messages"]][-1] == "取消班次须填写理由并勾选确认。"
    shift.refresh_from_db()
    assert shift.status == "open"

    client.post(f"/coordinator/shifts/{shift.pk}/cancel/", {"reason": "封控解除", "confirm": "on"})
    shift.refresh_from_db()
    held.refresh_from_db()
    assert (shift.status, held.status) == ("cancelled", "cancelled")
    assert AuditEntry.objects.get(action="shift_cancelled", shift=shift).reason == "封控解除"


def test_cancelling_a_shift_under_way_says_who_is_checked_out_and_credits_them(client, coordinator, post):
    shift = running(post, minutes_ago=90, capacity=3)
    at_post = place(shift, checked_in_at=shift.starts_at, checkin_method="manual")
    away = place(shift)
    client.force_login(coordinator)
    page = client.get(f"/coordinator/shifts/{shift.pk}/edit/").content.decode()
    assert "在岗的 1 名志愿者将立即签退，已服务的时长照常计入。" in page
    assert "已确认的 1 名志愿者及所有候补人员将被释放并收到通知。" in page

    client.post(f"/coordinator/shifts/{shift.pk}/cancel/", {"reason": "提前撤岗", "confirm": "on"})
    at_post.refresh_from_db()
    away.refresh_from_db()
    assert (at_post.status, away.status) == ("completed", "cancelled")
    assert at_post.credited_minutes > 0


def test_a_shift_with_attendance_offers_its_capacity_and_notes_but_not_its_times(client, coordinator, post):
    shift = running(post, minutes_ago=30, capacity=3)
    place(shift, checked_in_at=shift.starts_at, checkin_method="manual")
    client.force_login(coordinator)
    page = client.get(f"/coordinator/shifts/{shift.pk}/edit/")
    form = page.context["form"]
    readonly = [name for name in ("day", "start", "end", "capacity") if form.fields[name].widget.attrs.get("readonly")]
    assert readonly == ["day", "start", "end"]
    assert "本班次已有考勤记录，时间不可再改。" in page.content.decode()
    start, end = timezone.localtime(shift.starts_at), timezone.localtime(shift.ends_at)
    unchanged = {"day": start.date().isoformat(), "start": f"{start:%H:%M}", "end": f"{end:%H:%M}"}
    # A time changed anyway (a tampered form, or a check-in since the page was drawn) is refused.
    before = fingerprint()
    response = client.post(
        f"/coordinator/shifts/{shift.pk}/edit/",
        {"day": "2099-01-01", "start": "08:00", "end": "09:00", "capacity": "5", "notes": "", "reason": ""},
        follow=True,
    )
    assert [str(m) for m in response.context["messages"]] == ["该班次已有签到或缺勤记录，不能再修改时间。"]
    assert fingerprint() == before
    # The times as shown (minutes; the shift's seconds aside), with a new capacity: saved.
    response = client.post(
        f"/coordinator/shifts/{shift.pk}/edit/", {**unchanged, "capacity": "5", "notes": "", "reason": ""}
    )
    assert response.status_code == 302
    before_start = shift.starts_at
    shift.refresh_from_db()
    assert (shift.capacity, shift.starts_at) == (5, before_start)


def test_another_communitys_shift_cannot_be_edited_or_cancelled(client, post):
    shift = ShiftFactory(post=post)
    outsider = UserFactory(username="elsewhere-page")
    CommunityFactory().coordinators.add(outsider)
    client.force_login(outsider)
    assert client.get(f"/coordinator/shifts/{shift.pk}/edit/").status_code == 404
    assert client.post(f"/coordinator/shifts/{shift.pk}/cancel/", {"reason": "x", "confirm": "on"}).status_code == 404
    shift.refresh_from_db()
    assert shift.status == "open"


def test_failed_messages_page_lists_failed_dispatch_texts_to_volunteers_sent_to_my_community(
    client, coordinator, community
):
    from communities.models import Dispatch

    here = Dispatch.objects.create(community=community, requested=1)
    there = Dispatch.objects.create(community=CommunityFactory(), requested=1)
    rows = {}
    for dispatch, name in ((here, "钱派"), (there, "孙派")):
        user = VolunteerFactory(real_name=name).user
        rows[name] = Notification.objects.create(
            key=f"d{dispatch.pk}:dispatched:sms:u{user.pk}",
            kind="dispatched",
            channel="sms",
            recipient=user,
            subject="您已被派遣",
            body="x",
            state="failed",
            last_error="isv.BUSINESS_LIMIT_CONTROL",
        )
    client.force_login(coordinator)

    response = client.get("/coordinator/messages/failed/")

    assert [row.pk for row in response.context["page"].object_list] == [rows["钱派"].pk]
    html = response.content.decode()
    assert "钱派" in html and "您已被派遣" in html and "孙派" not in html
    # A dispatch text names no shift: the card names the dispatch's community.
    assert community.name in html
