"""The shift pages: browse, detail, sign up, cancel, my shifts, week, check-in, inbox."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from communities.models import Assignment, CheckinCodeAttempts, CheckinCodeGuard, Notification, Shift
from communities.rules import checkin_codes
from config.errors import ERRORS
from tests.factories import (
    AssignmentFactory,
    CommunityFactory,
    PostFactory,
    PostTypeFactory,
    ShiftFactory,
    SkillFactory,
    UserFactory,
    VolunteerFactory,
)

pytestmark = pytest.mark.django_db

VOLUNTEER_PAGES = ["shift-list", "my-shifts", "my-week", "check-in", "inbox"]


@pytest.fixture
def volunteer():
    return VolunteerFactory()


@pytest.fixture
def logged_in(client, volunteer):
    client.force_login(volunteer.user)
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def said(code: str, language: str = "zh-hans") -> str:
    """The error's own message as a person reads it in ``language``."""
    with translation.override(language):
        return str(ERRORS[code][1])


@pytest.mark.parametrize("name", VOLUNTEER_PAGES)
def test_pages_need_a_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={reverse(name)}"


@pytest.mark.parametrize("name", VOLUNTEER_PAGES)
def test_pages_render_for_a_volunteer(logged_in, name):
    ShiftFactory()
    response = logged_in.get(reverse(name))
    assert response.status_code == 200
    assert b"<h1>" in response.content


def test_volunteer_only_pages_refuse_staff_without_a_volunteer_profile(client):
    client.force_login(UserFactory())
    response = client.get(reverse("my-shifts"))
    assert response.status_code == 403
    assert "只有注册志愿者" in response.content.decode()


def test_shift_detail_is_404_for_an_unknown_shift(logged_in):
    assert logged_in.get(reverse("shift-detail", args=[999_999])).status_code == 404


# --- Browse ---------------------------------------------------------------------------------


def test_browse_filters_by_community_and_space(logged_in):
    here, there = CommunityFactory(), CommunityFactory()
    open_here = ShiftFactory(post=PostFactory(community=here))
    ShiftFactory(post=PostFactory(community=there))
    full_here = ShiftFactory(post=PostFactory(community=here), capacity=1)
    AssignmentFactory(shift=full_here)
    Shift.objects.filter(pk=full_here.pk).update(confirmed_count=1)

    response = logged_in.get(reverse("shift-list"), {"community": here.pk, "has_space": "on"})

    assert [s.pk for s in response.context["page"].object_list] == [open_here.pk]


def test_browse_filters_by_date_and_post_type(logged_in):
    duty = PostTypeFactory()
    tomorrow = ShiftFactory(post=PostFactory(post_type=duty))
    ShiftFactory(post=PostFactory(post_type=duty), starts_at=tomorrow.starts_at + timedelta(days=1))
    ShiftFactory()  # another duty, same day
    day = timezone.localtime(tomorrow.starts_at).date().isoformat()

    response = logged_in.get(reverse("shift-list"), {"date": day, "post_type": duty.pk})

    assert [s.pk for s in response.context["page"].object_list] == [tomorrow.pk]


def test_browse_eligible_filter_hides_shifts_needing_a_missing_skill(logged_in):
    needs_skill = PostTypeFactory()
    needs_skill.required_skills.add(SkillFactory())
    ShiftFactory(post=PostFactory(post_type=needs_skill))
    open_to_all = ShiftFactory()

    response = logged_in.get(reverse("shift-list"), {"eligible": "on"})

    assert [s.pk for s in response.context["page"].object_list] == [open_to_all.pk]


def test_browse_shows_my_waitlist_position(logged_in, volunteer):
    shift = ShiftFactory(capacity=1)
    AssignmentFactory(shift=shift, status=Assignment.Status.WAITLISTED, waitlist_order=1)
    AssignmentFactory(shift=shift, volunteer=volunteer, status=Assignment.Status.WAITLISTED, waitlist_order=2)

    content = logged_in.get(reverse("shift-list")).content.decode()

    assert "排第 2 位" in content


def test_browse_query_count_is_pinned_and_does_not_grow(logged_in, volunteer, django_assert_num_queries):
    for _ in range(3):
        AssignmentFactory(volunteer=volunteer, shift=ShiftFactory())
    ShiftFactory()
    # session, user with volunteer, count, shifts, my assignments, streets with districts, duty
    # choices, the offers (one statement for the page's refusals), roles (team leader,
    # coordinator, staff: one query), unread messages
    with django_assert_num_queries(10):
        logged_in.get(reverse("shift-list"))
    for _ in range(10):
        ShiftFactory()
    with django_assert_num_queries(10):
        response = logged_in.get(reverse("shift-list"))
    assert len(response.context["page"].object_list) == 14


def test_browse_paginates_and_keeps_filters(logged_in):
    community = CommunityFactory()
    for _ in range(25):
        ShiftFactory(post=PostFactory(community=community))

    first = logged_in.get(reverse("shift-list"), {"community": community.pk})
    second = logged_in.get(reverse("shift-list"), {"community": community.pk, "page": 2})

    assert len(first.context["page"].object_list) == 20
    assert f"?community={community.pk}&amp;page=2" in first.content.decode()
    assert len(second.context["page"].object_list) == 5


# --- Sign up and cancel ---------------------------------------------------------------------


def test_sign_up_confirms_and_says_so(logged_in, volunteer):
    shift = ShiftFactory(capacity=2)

    response = logged_in.post(reverse("shift-sign-up", args=[shift.pk]), follow=True)

    assignment = Assignment.objects.get(shift=shift, volunteer=volunteer)
    assert assignment.status == Assignment.Status.CONFIRMED
    shift.refresh_from_db()
    assert shift.confirmed_count == 1
    assert response.redirect_chain == [(reverse("shift-detail", args=[shift.pk]), 302)]
    assert messages_of(response)[0].startswith("报名成功")


def test_a_message_waits_through_api_requests_that_never_read_it(logged_in, volunteer, monkeypatch):
    from django.contrib.messages import storage

    built = []
    original = storage.default_storage
    monkeypatch.setattr(
        "config.middleware.default_storage", lambda request: built.append(request.path) or original(request)
    )
    shift = ShiftFactory(capacity=2)
    logged_in.post(reverse("shift-sign-up", args=[shift.pk]))  # the message is stored, not yet shown
    assert built == [reverse("shift-sign-up", args=[shift.pk])]

    api = logged_in.get("/api/v1/me/")  # the same session, through the API: no storage built
    assert api.status_code == 200 and len(built) == 1

    response = logged_in.get(reverse("shift-detail", args=[shift.pk]))
    assert messages_of(response)[0].startswith("报名成功")
    assert messages_of(logged_in.get(reverse("shift-detail", args=[shift.pk]))) == []  # shown once


def test_sign_up_on_a_full_shift_joins_the_waitlist_with_position(logged_in, volunteer):
    shift = ShiftFactory(capacity=1)
    AssignmentFactory(shift=shift)
    Shift.objects.filter(pk=shift.pk).update(confirmed_count=1)
    back = reverse("shift-list") + "?has_space="

    response = logged_in.post(reverse("shift-sign-up", args=[shift.pk]), {"next": back}, follow=True)

    assignment = Assignment.objects.get(shift=shift, volunteer=volunteer)
    assert assignment.status == Assignment.Status.WAITLISTED
    assert response.redirect_chain == [(back, 302)]
    assert "您在候补名单中排第 1 位" in messages_of(response)[0]


def test_refused_sign_up_explains_the_missing_skill_and_changes_nothing(logged_in, volunteer):
    skill = SkillFactory(name="急救", name_en="First aid")
    duty = PostTypeFactory()
    duty.required_skills.add(skill)
    shift = ShiftFactory(post=PostFactory(post_type=duty))

    response = logged_in.post(reverse("shift-sign-up", args=[shift.pk]), follow=True)

    assert not Assignment.objects.filter(shift=shift).exists()
    shift.refresh_from_db()
    assert (shift.confirmed_count, shift.waitlist_count) == (0, 0)
    assert messages_of(response) == [said("not_eligible") + "\n该岗位需要您尚未登记的技能：急救。"]


def test_refused_sign_up_in_english_names_the_overlapping_shift(logged_in, volunteer):
    mine = ShiftFactory()
    AssignmentFactory(shift=mine, volunteer=volunteer)
    clash = ShiftFactory(starts_at=mine.starts_at + timedelta(hours=1))
    logged_in.cookies["django_language"] = "en"

    response = logged_in.post(reverse("shift-sign-up", args=[clash.pk]), follow=True)

    assert not Assignment.objects.filter(shift=clash).exists()
    (message,) = messages_of(response)
    assert message.startswith(
        "You already have a confirmed shift at the same time.\nIt overlaps your confirmed shift: "
    )
    assert mine.community.display_name in message


def test_sign_up_needs_post(logged_in):
    shift = ShiftFactory()
    assert logged_in.get(reverse("shift-sign-up", args=[shift.pk])).status_code == 405
    assert not Assignment.objects.filter(shift=shift).exists()


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/", "²", "my-shifts", "a.b"])
def test_sign_up_refuses_a_next_url_that_is_no_path_on_this_site(logged_in, next_url):
    shift = ShiftFactory()
    response = logged_in.post(reverse("shift-sign-up", args=[shift.pk]), {"next": next_url})
    assert response.status_code == 302
    assert response.url == reverse("shift-detail", args=[shift.pk])


def test_cancel_frees_the_place_and_promotes_the_waitlist(logged_in, volunteer):
    shift = ShiftFactory(capacity=1)
    mine = AssignmentFactory(shift=shift, volunteer=volunteer)
    waiting = AssignmentFactory(shift=shift, status=Assignment.Status.WAITLISTED, waitlist_order=1)
    Shift.objects.filter(pk=shift.pk).update(confirmed_count=1, waitlist_count=1, waitlist_seq=1)

    response = logged_in.post(reverse("assignment-cancel", args=[mine.pk]), follow=True)

    mine.refresh_from_db()
    waiting.refresh_from_db()
    assert mine.status == Assignment.Status.CANCELLED
    assert waiting.status == Assignment.Status.CONFIRMED
    assert response.redirect_chain == [(reverse("my-shifts"), 302)]
    assert messages_of(response)[0].startswith("已取消")


def test_cancel_after_the_cutoff_is_refused_with_the_deadline(logged_in, volunteer):
    soon = timezone.now() + timedelta(hours=1)
    mine = AssignmentFactory(shift=ShiftFactory(starts_at=soon, ends_at=soon + timedelta(hours=3)), volunteer=volunteer)
    Shift.objects.filter(pk=mine.shift_id).update(confirmed_count=1)

    response = logged_in.post(reverse("assignment-cancel", args=[mine.pk]), follow=True)

    mine.refresh_from_db()
    assert mine.status == Assignment.Status.CONFIRMED
    (message,) = messages_of(response)
    assert message.startswith(said("cancel_cutoff_passed") + "\n取消截止时间为 ")


def test_cannot_cancel_someone_elses_place(logged_in):
    other = AssignmentFactory()
    assert logged_in.post(reverse("assignment-cancel", args=[other.pk])).status_code == 404
    other.refresh_from_db()
    assert other.status == Assignment.Status.CONFIRMED


# --- My shifts and the week -----------------------------------------------------------------


def test_my_shifts_lists_upcoming_and_past_with_the_calendar_link(logged_in, volunteer):
    upcoming = AssignmentFactory(volunteer=volunteer)
    past_shift = ShiftFactory(
        starts_at=timezone.now() - timedelta(days=2), ends_at=timezone.now() - timedelta(days=2, hours=-3)
    )
    past = AssignmentFactory(volunteer=volunteer, shift=past_shift, status=Assignment.Status.COMPLETED)

    response = logged_in.get(reverse("my-shifts"))

    assert [a.pk for a in response.context["upcoming"]] == [upcoming.pk]
    assert [a.pk for a in response.context["past"].object_list] == [past.pk]
    assert f"calendar.ics?token={volunteer.calendar_token}" in response.content.decode()


def test_calendar_reset_changes_the_token(logged_in, volunteer):
    old = volunteer.calendar_token
    response = logged_in.post(reverse("calendar-reset"))
    volunteer.refresh_from_db()
    assert response.url == reverse("my-shifts")
    assert volunteer.calendar_token != old


def test_week_shows_my_shifts_on_their_days_and_moves_by_week(logged_in, volunteer):
    mine = AssignmentFactory(volunteer=volunteer)
    day = timezone.localtime(mine.shift.starts_at).date()

    response = logged_in.get(reverse("my-week"), {"week": day.isoformat()})

    days = response.context["days"]
    assert [d["date"].weekday() for d in days] == list(range(7))
    (with_shift,) = [d for d in days if d["items"]]
    assert with_shift["date"] == day
    assert f"?week={(days[0]['date'] + timedelta(days=7)).isoformat()}" in response.content.decode()


def test_week_shows_a_night_shift_on_both_days(logged_in, volunteer):
    start = timezone.make_aware(timezone.datetime(2030, 3, 5, 22, 0))
    AssignmentFactory(volunteer=volunteer, shift=ShiftFactory(starts_at=start, ends_at=start + timedelta(hours=6)))

    days = logged_in.get(reverse("my-week"), {"week": "2030-03-05"}).context["days"]

    assert [(d["date"].day, [i["continued"] for i in d["items"]]) for d in days if d["items"]] == [
        (5, [False]),
        (6, [True]),
    ]


# --- Check-in -------------------------------------------------------------------------------


def _starting_soon(volunteer):
    start = timezone.now() + timedelta(minutes=10)
    return AssignmentFactory(
        volunteer=volunteer, shift=ShiftFactory(starts_at=start, ends_at=start + timedelta(hours=2))
    )


def test_check_in_page_offers_a_form_for_a_shift_starting_soon(logged_in, volunteer):
    assignment = _starting_soon(volunteer)
    response = logged_in.get(reverse("check-in"), {"code": "123456"})
    content = response.content.decode()
    assert f'name="assignment" value="{assignment.pk}"' in content
    assert 'value="123456"' in content
    assert 'inputmode="numeric"' in content


def test_check_in_page_says_when_nothing_is_open(logged_in, volunteer):
    AssignmentFactory(volunteer=volunteer)  # tomorrow
    content = logged_in.get(reverse("check-in")).content.decode()
    assert "签到在班次开始前 30 分钟开放" in content


def test_check_in_with_the_right_code(logged_in, volunteer):
    assignment = _starting_soon(volunteer)
    code, _ = checkin_codes.current_code(assignment.shift.checkin_secret)

    response = logged_in.post(reverse("check-in"), {"assignment": assignment.pk, "code": code}, follow=True)

    assignment.refresh_from_db()
    assert assignment.checked_in_at is not None
    assert messages_of(response)[0].startswith("已于")


def test_check_in_with_a_wrong_code_is_refused(logged_in, volunteer):
    assignment = _starting_soon(volunteer)
    code, _ = checkin_codes.current_code(assignment.shift.checkin_secret)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"

    response = logged_in.post(reverse("check-in"), {"assignment": assignment.pk, "code": wrong}, follow=True)

    assignment.refresh_from_db()
    assert assignment.checked_in_at is None
    assert messages_of(response) == [said("checkin_code_invalid") + "\n还可尝试4次，之后须等待下一个签到码。"]


def test_check_in_after_too_many_wrong_codes_says_how_long_to_wait(logged_in, volunteer):
    assignment = _starting_soon(volunteer)
    step = int(timezone.now().timestamp() // 60)
    taken = {checkin_codes.code_for_step(assignment.shift.checkin_secret, s) for s in (step - 1, step, step + 1)}
    wrong = next(code for code in ("000000", "111111", "222222", "333333") if code not in taken)
    # Five wrong codes within one step, from a guard row as the service leaves it.
    CheckinCodeGuard.objects.create(volunteer=volunteer, step=step, failures=5)
    CheckinCodeAttempts.objects.create(assignment=assignment, failures=5)

    response = logged_in.post(reverse("check-in"), {"assignment": assignment.pk, "code": wrong}, follow=True)

    assignment.refresh_from_db()
    assert (assignment.checked_in_at, CheckinCodeAttempts.objects.get(assignment=assignment).failures) == (None, 5)
    [message] = messages_of(response)
    if int(timezone.now().timestamp() // 60) == step:  # not across a step's end meanwhile
        assert message.startswith(said("checkin_too_many_attempts") + "\n请在")
        assert message.endswith("秒后，用岗位上届时显示的签到码重试。")


def test_check_in_page_offers_no_code_form_once_code_check_in_is_locked(logged_in, volunteer):
    assignment = _starting_soon(volunteer)
    open_one = _starting_soon(volunteer)
    CheckinCodeAttempts.objects.create(assignment=assignment, failures=10, locked_at=timezone.now())
    content = logged_in.get(reverse("check-in")).content.decode()
    assert f'name="assignment" value="{assignment.pk}"' not in content
    assert f'name="assignment" value="{open_one.pk}"' in content
    assert content.count(said("checkin_locked")) == 1


def test_check_out_is_offered_and_taken_only_from_the_start(logged_in, volunteer):
    assignment = _starting_soon(volunteer)
    Assignment.objects.filter(pk=assignment.pk).update(checked_in_at=timezone.now())
    content = logged_in.get(reverse("my-shifts")).content.decode()
    assert reverse("check-out", args=[assignment.pk]) not in content
    assert "班次开始后才能签退。" in content

    response = logged_in.post(reverse("check-out", args=[assignment.pk]), follow=True)

    start = timezone.localtime(assignment.shift.starts_at)
    weekday = "一二三四五六日"[start.weekday()]
    assert messages_of(response) == [
        said("shift_not_started") + f"\n班次开始时间：{start:%-m月%-d日} 周{weekday} {start:%H:%M}。"
    ]
    assignment.refresh_from_db()
    assert (assignment.status, assignment.checked_out_at, assignment.credited_minutes) == ("confirmed", None, None)

    Shift.objects.filter(pk=assignment.shift_id).update(starts_at=timezone.now() - timedelta(minutes=1))
    content = logged_in.get(reverse("my-shifts")).content.decode()
    assert reverse("check-out", args=[assignment.pk]) in content
    assert "班次开始后才能签退。" not in content


def test_check_in_with_a_malformed_code_shows_the_field_error(logged_in, volunteer):
    assignment = _starting_soon(volunteer)
    response = logged_in.post(reverse("check-in"), {"assignment": assignment.pk, "code": "12ab"})
    assert response.status_code == 200
    assert "请输入岗位上显示的 6 位数字。" in response.content.decode()


# --- Inbox ----------------------------------------------------------------------------------


def _notice(user, **kwargs):
    return Notification.objects.create(
        key=f"test-{Notification.objects.count()}",
        kind="reminder",
        channel=kwargs.pop("channel", Notification.Channel.INAPP),
        recipient=user,
        subject=kwargs.pop("subject", "明天 08:00 的班次"),
        body="请准时到岗。",
        **kwargs,
    )


def test_inbox_lists_only_my_in_app_messages(logged_in, volunteer):
    mine = _notice(volunteer.user)
    _notice(volunteer.user, channel=Notification.Channel.SMS)
    _notice(UserFactory())

    response = logged_in.get(reverse("inbox"))

    assert [n.pk for n in response.context["page"].object_list] == [mine.pk]


def test_mark_read_only_touches_my_messages(logged_in, volunteer):
    mine, theirs = _notice(volunteer.user), _notice(UserFactory())

    assert logged_in.post(reverse("inbox-read", args=[mine.pk])).url == reverse("inbox")
    assert logged_in.post(reverse("inbox-read", args=[theirs.pk])).status_code == 404

    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.read_at is not None
    assert theirs.read_at is None


def test_mark_all_read(logged_in, volunteer):
    _notice(volunteer.user)
    _notice(volunteer.user)
    logged_in.post(reverse("inbox-read-all"))
    assert not Notification.objects.filter(recipient=volunteer.user, read_at__isnull=True).exists()


def test_staff_without_a_volunteer_profile_can_browse_but_not_sign_up(client):
    client.force_login(UserFactory())
    shift = ShiftFactory()

    listing = client.get(reverse("shift-list"))
    detail = client.get(reverse("shift-detail", args=[shift.pk]))
    refused = client.post(reverse("shift-sign-up", args=[shift.pk]))

    assert listing.status_code == 200
    assert [s.pk for s in listing.context["page"].object_list] == [shift.pk]
    assert f'action="{reverse("shift-sign-up", args=[shift.pk])}"' not in listing.content.decode()
    assert "只有注册志愿者可以报名。" in detail.content.decode()
    assert refused.status_code == 403
    assert not Assignment.objects.filter(shift=shift).exists()


def test_browse_finds_communities_by_name_or_code(logged_in):
    from tests.factories import CommunityFactory, PostFactory

    wanted = CommunityFactory(name="三香社区", code="GS0101")
    mine = ShiftFactory(post=PostFactory(community=wanted))
    ShiftFactory()
    for text in ("三香", "gs0101", str(wanted.pk)):
        page = logged_in.get(reverse("shift-list"), {"community": text}).context["page"]
        assert [shift.pk for shift in page.object_list] == [mine.pk]
    assert list(logged_in.get(reverse("shift-list"), {"community": "不存在"}).context["page"].object_list) == []


def test_browse_offers_a_button_only_where_the_sign_up_would_take_me(logged_in, volunteer):
    from tests.html import parse

    needs_skill = PostTypeFactory()
    needs_skill.required_skills.add(SkillFactory(name="急救"))
    takeable = ShiftFactory()
    not_for_me = ShiftFactory(post=PostFactory(post_type=needs_skill))
    full = ShiftFactory(capacity=1, starts_at=takeable.starts_at + timedelta(days=2))
    AssignmentFactory(shift=full)
    Shift.objects.filter(pk=full.pk).update(confirmed_count=1)

    main = parse(logged_in.get(reverse("shift-list")).content).find("main")
    forms = main.find_all("form", action=True)
    sign_ups = sorted(f["action"] for f in forms if f["action"].endswith("/sign-up/"))
    assert sign_ups == sorted([f"/shifts/{takeable.pk}/sign-up/", f"/shifts/{full.pk}/sign-up/"])
    [greyed] = main.find_all("li", cls="shift-unavailable")
    assert greyed.find("a")["href"] == f"/shifts/{not_for_me.pk}/"
    assert "该岗位需要您尚未登记的技能：急救。" in greyed.text()


def test_browse_starts_near_home_with_headings(client):
    from tests.html import parse

    home = CommunityFactory()
    volunteer = VolunteerFactory(residence_community=home)
    elsewhere = ShiftFactory()
    mine = ShiftFactory(post=PostFactory(community=home), starts_at=elsewhere.starts_at + timedelta(days=3))
    client.force_login(volunteer.user)
    main = parse(client.get(reverse("shift-list")).content).find("main")
    assert main.find("h1").text() == "附近的班次"
    headings = [h.text() for h in main.find_all("h2", cls="near-heading")]
    assert headings == ["本社区", "更远"]
    titles = [a["href"] for a in main.find_all("h3")[0].find_all("a")] + [
        a["href"] for a in main.find_all("h3")[1].find_all("a")
    ]
    assert titles == [f"/shifts/{mine.pk}/", f"/shifts/{elsewhere.pk}/"]
    # Soonest first on request.
    main = parse(client.get(reverse("shift-list"), {"order": "soon"}).content).find("main")
    assert [a["href"] for h in main.find_all("h3") for a in h.find_all("a")] == [
        f"/shifts/{elsewhere.pk}/",
        f"/shifts/{mine.pk}/",
    ]


def test_browse_near_me_query_count_is_pinned(client, django_assert_num_queries):
    home = CommunityFactory()
    volunteer = VolunteerFactory(residence_community=home)
    client.force_login(volunteer.user)
    for days in range(3):
        ShiftFactory(post=PostFactory(community=home), starts_at=timezone.now() + timedelta(days=days + 1))
    # as the page without a place, and the place (the residence community's street and district)
    with django_assert_num_queries(11):
        client.get(reverse("shift-list"))
    for _ in range(10):
        ShiftFactory()
    with django_assert_num_queries(11):
        response = client.get(reverse("shift-list"))
    assert len(response.context["page"].object_list) == 13


# --- A call-out's short link ------------------------------------------------------------------


def test_a_call_outs_short_link_opens_the_whole_message_for_its_reader_only(client, volunteer):
    from communities.services import broadcasts

    volunteer.deployed_community = CommunityFactory()
    volunteer.status = "active"
    volunteer.save()
    sender = UserFactory(is_superuser=True)
    target = broadcasts.broadcast_target(
        actor=sender, audience="community", community_id=volunteer.deployed_community_id
    )
    message = "明早8点在金鸡湖社区东门集合，带好身份证和口罩，领取防护服后分组到各封控点执勤。"
    sent = broadcasts.broadcast_create(actor=sender, target=target, subject="集合通知", message=message, by_sms=True)
    broadcasts.broadcast_fan_out(broadcast_id=sent.pk)

    anonymous = client.get(f"/m/{sent.pk}/")
    assert anonymous.status_code == 302 and anonymous["Location"].endswith(f"?next=/m/{sent.pk}/")
    client.force_login(volunteer.user)
    page = client.get(f"/m/{sent.pk}/")
    assert page.status_code == 200
    assert page.context["notice"].recipient_id == volunteer.user_id
    assert "集合通知" in page.content.decode() and message in page.content.decode()
    assert client.get(f"/m/{sent.pk + 1}/").status_code == 404
    client.force_login(VolunteerFactory().user)  # not in the audience
    assert client.get(f"/m/{sent.pk}/").status_code == 404
