"""The pages for everyone and about the volunteer: log-in, language, errors, home, hours, profile."""

from datetime import timedelta

import pytest
from django.template.loader import render_to_string
from django.test import Client, override_settings
from django.urls import NoReverseMatch, path, reverse
from django.utils import timezone, translation

from communities.models import Assignment, Notification
from config import urls as root_urls
from tests.factories import AssignmentFactory, ShiftFactory, UserFactory, VolunteerFactory
from volunteers.models import LoginFailure, Volunteer

pytestmark = pytest.mark.django_db

PAGES = ["profile", "my-hours", "password_change"]


@pytest.fixture
def volunteer():
    return VolunteerFactory()


@pytest.fixture
def logged_in(client, volunteer):
    client.force_login(volunteer.user)
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- Log in, log out, password, language ----------------------------------------------------


def test_login_with_mobile_number_lands_on_the_volunteer_home(client, volunteer):
    response = client.post(reverse("login"), {"username": volunteer.mobile, "password": "pass-Word-123"}, follow=True)
    assert response.redirect_chain == [(reverse("home"), 302)]
    assert response.context["user"] == volunteer.user
    assert f"你好，{volunteer.real_name}" in response.content.decode()


def test_login_follows_next(client, volunteer):
    response = client.post(
        reverse("login") + "?next=/my/shifts/", {"username": volunteer.mobile, "password": "pass-Word-123"}
    )
    assert response.url == "/my/shifts/"


def test_login_form_is_labelled_and_refuses_a_wrong_password(client, volunteer):
    page = client.get(reverse("login")).content.decode()
    assert '<label for="id_username">手机号或用户名</label>' in page
    assert '<label for="id_password">密码</label>' in page

    response = client.post(reverse("login"), {"username": volunteer.mobile, "password": "wrong"})

    assert response.status_code == 200
    assert not response.context["user"].is_authenticated
    assert response.context["form"].non_field_errors()


@override_settings(LOGIN_LOCKOUT={"CLIENT_FAILURES": 2, "IP_FAILURES": 100, "WINDOW_SECONDS": 900})
def test_login_says_when_the_account_is_locked(client, volunteer):
    for _ in range(2):
        client.post(reverse("login"), {"username": volunteer.mobile, "password": "wrong"})

    response = client.post(reverse("login"), {"username": volunteer.mobile, "password": "pass-Word-123"})

    assert not response.context["user"].is_authenticated
    assert response.context["form"].non_field_errors() == ["登录失败次数过多，请 15 分钟后再试。"]


def test_logout_is_a_post_and_returns_to_the_login_page(logged_in):
    assert logged_in.get(reverse("logout")).status_code == 405
    response = logged_in.post(reverse("logout"))
    assert response.url == reverse("login")
    assert logged_in.get(reverse("profile")).status_code == 302


def test_password_change(logged_in, volunteer):
    response = logged_in.post(
        reverse("password_change"),
        {"old_password": "pass-Word-123", "new_password1": "Wu-Jiang-2022!", "new_password2": "Wu-Jiang-2022!"},
        follow=True,
    )
    assert response.redirect_chain == [(reverse("password_change_done"), 302)]
    assert messages_of(response) == ["密码已修改。"]
    volunteer.user.refresh_from_db()
    assert volunteer.user.check_password("Wu-Jiang-2022!")


def test_password_change_refusal_shows_the_field_error(logged_in, volunteer):
    response = logged_in.post(
        reverse("password_change"),
        {"old_password": "nope", "new_password1": "Wu-Jiang-2022!", "new_password2": "Wu-Jiang-2022!"},
    )
    assert response.status_code == 200
    assert response.context["form"].errors["old_password"]
    volunteer.user.refresh_from_db()
    assert volunteer.user.check_password("pass-Word-123")


def test_old_password_guesses_count_towards_the_lockout(logged_in, volunteer):
    """The password-change page checks a password: it is a log-in like any other."""
    new = {"new_password1": "Wu-Jiang-2022!", "new_password2": "Wu-Jiang-2022!"}
    for _ in range(5):
        response = logged_in.post(reverse("password_change"), {"old_password": "guess", **new})
        assert response.context["form"].errors["old_password"] == ["你的旧密码不正确。请重新输入。"]
    assert list(LoginFailure.objects.values_list("username", "ip_address")) == [(volunteer.mobile, "127.0.0.1")] * 5

    response = logged_in.post(reverse("password_change"), {"old_password": "pass-Word-123", **new})

    assert response.status_code == 200
    assert response.context["form"].errors["old_password"] == ["登录失败次数过多，请 15 分钟后再试。"]
    volunteer.user.refresh_from_db()
    assert volunteer.user.check_password("pass-Word-123")
    assert LoginFailure.objects.count() == 5


def test_language_switch_without_javascript_returns_to_the_page(logged_in):
    page = logged_in.get(reverse("profile")).content.decode()
    assert '<html lang="zh-hans">' in page
    assert 'name="language" value="en"' in page

    response = logged_in.post(reverse("set_language"), {"language": "en", "next": reverse("profile")}, follow=True)

    assert response.redirect_chain == [(reverse("profile"), 302)]
    content = response.content.decode()
    assert '<html lang="en">' in content
    assert "<h1>Profile</h1>" in content
    assert 'name="language" value="zh-hans"' in content


# --- Error pages ----------------------------------------------------------------------------


def test_404_page_is_the_project_page(logged_in):
    response = logged_in.get("/no-such-page/")
    assert response.status_code == 404
    assert "页面不存在" in response.content.decode()
    assert "css/app.css" in response.content.decode()


def test_403_page_says_why(client):
    client.force_login(UserFactory())
    response = client.get(reverse("profile"))
    assert response.status_code == 403
    assert "只有注册志愿者才能使用此页面。" in response.content.decode()


def test_csrf_failure_page_explains_what_to_do(volunteer):
    client = Client(enforce_csrf_checks=True)
    client.force_login(volunteer.user)
    response = client.post(reverse("set_language"), {"language": "en"})
    assert response.status_code == 403
    assert "页面已过期" in response.content.decode()


def test_500_template_renders_without_any_context(settings):
    # In the default language: an earlier request on this thread may have left another active.
    with translation.override(settings.LANGUAGE_CODE):
        html = render_to_string("500.html")
    assert "出错了" in html
    assert "/static/css/app.css" in html


def _boom(request):
    raise RuntimeError("boom")


urlpatterns = [path("boom/", _boom), *root_urls.urlpatterns]


@override_settings(ROOT_URLCONF=__name__)
def test_500_page_is_served_on_a_crash(client):
    client.raise_request_exception = False
    response = client.get("/boom/")
    assert response.status_code == 500
    assert "出错了" in response.content.decode()


# --- Home -----------------------------------------------------------------------------------


def test_anonymous_home_offers_login(client):
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert f'href="{reverse("login")}"' in response.content.decode()


def test_volunteer_home_shows_next_shifts_and_waitlist_position(logged_in, volunteer):
    confirmed = AssignmentFactory(volunteer=volunteer)
    waitlisted_shift = ShiftFactory(starts_at=confirmed.shift.starts_at + timedelta(days=2), capacity=1)
    AssignmentFactory(shift=waitlisted_shift, status=Assignment.Status.WAITLISTED, waitlist_order=1)
    AssignmentFactory(
        shift=waitlisted_shift, volunteer=volunteer, status=Assignment.Status.WAITLISTED, waitlist_order=2
    )

    response = logged_in.get(reverse("home"))

    assert [a.shift_id for a in response.context["upcoming"]] == [confirmed.shift_id, waitlisted_shift.pk]
    assert response.context["check_in_now"] == []
    assert "候补排第 2 位" in response.content.decode()


def test_volunteer_home_asks_to_check_in_when_a_shift_starts_within_30_minutes(logged_in, volunteer):
    start = timezone.now() + timedelta(minutes=20)
    soon = AssignmentFactory(
        volunteer=volunteer, shift=ShiftFactory(starts_at=start, ends_at=start + timedelta(hours=2))
    )
    later_start = timezone.now() + timedelta(minutes=45)
    AssignmentFactory(
        volunteer=volunteer, shift=ShiftFactory(starts_at=later_start, ends_at=later_start + timedelta(hours=2))
    )

    response = logged_in.get(reverse("home"))

    assert [a.pk for a in response.context["check_in_now"]] == [soon.pk]
    assert f'href="{reverse("check-in")}?shift={soon.shift_id}"' in response.content.decode()


def test_volunteer_home_announces_a_promotion_from_the_waitlist(logged_in, volunteer):
    now = timezone.now()
    AssignmentFactory(volunteer=volunteer, created_at=now - timedelta(hours=3), confirmed_at=now - timedelta(minutes=5))
    direct = AssignmentFactory(volunteer=volunteer, shift=ShiftFactory(starts_at=timezone.now() + timedelta(days=3)))
    Assignment.objects.filter(pk=direct.pk).update(confirmed_at=direct.created_at - timedelta(microseconds=1))

    response = logged_in.get(reverse("home"))

    assert len(response.context["promoted"]) == 1
    assert "候补成功，您已获得名额" in response.content.decode()


def test_volunteer_home_lists_unread_messages(logged_in, volunteer):
    Notification.objects.create(
        key="home-1", kind="promoted", channel="inapp", recipient=volunteer.user, subject="候补成功", body="…"
    )
    content = logged_in.get(reverse("home")).content.decode()
    assert "候补成功" in content
    assert '<span class="count">1' in content


# --- Profile, preferences, hours ------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
def test_pages_need_a_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response.url == f"{reverse('login')}?next={reverse(name)}"


@pytest.mark.parametrize("name", PAGES)
def test_pages_render_for_a_volunteer(logged_in, name):
    assert logged_in.get(reverse(name)).status_code == 200


def test_profile_shows_only_masked_identifiers(logged_in, volunteer):
    content = logged_in.get(reverse("profile")).content.decode()
    assert volunteer.id_number_masked in content
    assert volunteer.mobile_masked in content
    assert volunteer.id_number not in content
    assert volunteer.mobile not in content


def test_preferences_are_saved_through_the_service(logged_in, volunteer):
    assert (volunteer.notify_by_sms, volunteer.notify_by_email) == (True, False)

    response = logged_in.post(reverse("profile"), {"notify_by_email": "on", "message_language": "en"}, follow=True)

    volunteer.refresh_from_db()
    assert (volunteer.notify_by_sms, volunteer.notify_by_email, volunteer.message_language) == (False, True, "en")
    assert messages_of(response) == ["通知设置已保存。"]
    assert response.context["form"].initial == {
        "notify_by_sms": False,
        "notify_by_email": True,
        "message_language": "en",
    }


def test_a_language_not_offered_is_refused_and_nothing_changes(logged_in, volunteer):
    response = logged_in.post(reverse("profile"), {"notify_by_email": "on", "message_language": "fr"})
    assert response.status_code == 200
    assert response.context["form"].errors["message_language"]
    volunteer.refresh_from_db()
    assert (volunteer.notify_by_sms, volunteer.notify_by_email, volunteer.message_language) == (True, False, "")


def test_preferences_form_is_labelled_and_offers_the_programmes_language_first(logged_in):
    content = logged_in.get(reverse("profile")).content.decode()
    assert '<label for="id_notify_by_sms">短信</label>' in content
    assert '<label for="id_notify_by_email">电子邮件</label>' in content
    assert '<label for="id_message_language">消息语言</label>' in content
    assert '<option value="zh-hans" selected>简体中文</option>' in content


def test_hours_page_counts_approved_hours_and_stars(logged_in, volunteer):
    past = ShiftFactory(
        starts_at=timezone.now() - timedelta(days=3), ends_at=timezone.now() - timedelta(days=2, hours=12)
    )
    AssignmentFactory(
        volunteer=volunteer,
        shift=past,
        status=Assignment.Status.COMPLETED,
        credited_minutes=101 * 60,
        hours_status=Assignment.HoursStatus.APPROVED,
    )
    pending_shift = ShiftFactory(
        starts_at=timezone.now() - timedelta(days=1), ends_at=timezone.now() - timedelta(hours=20)
    )
    AssignmentFactory(
        volunteer=volunteer,
        shift=pending_shift,
        status=Assignment.Status.COMPLETED,
        credited_minutes=90,
        hours_status=Assignment.HoursStatus.PENDING,
    )

    response = logged_in.get(reverse("my-hours"))

    assert response.context["total_hours"] == 101.0
    assert response.context["stars"] == 1
    assert response.context["next_threshold"] == 300
    content = response.content.decode()
    assert "再服务 199 小时，累计达到 300 小时即可升星。" in content
    assert "1.5 小时" in content  # the pending shift, listed with its state
    assert len(response.context["page"].object_list) == 2


def test_hours_page_links_the_certificate_only_when_the_download_exists(logged_in):
    response = logged_in.get(reverse("my-hours"))
    try:
        expected = reverse("certificate-download")
    except NoReverseMatch:
        expected = None
    assert response.context["certificate_url"] == expected


def test_calendar_reset_needs_post(logged_in, volunteer):
    assert logged_in.get(reverse("calendar-reset")).status_code == 405
    assert Volunteer.objects.get(pk=volunteer.pk).calendar_token == volunteer.calendar_token
