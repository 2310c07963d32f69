"""Log-in lockout (web and token endpoint alike), request throttling, and token reset."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db.models import F
from django.test import RequestFactory
from django.utils import timezone
from rest_framework.authtoken.models import Token

from config.client import client_ip
from config.errors import ServiceError
from tests.factories import UserFactory, VolunteerFactory
from volunteers.auth import lockout_retry_after, login_lockout_clear
from volunteers.models import LoginFailure, LoginUnlock

pytestmark = pytest.mark.django_db

PASSWORD = "pass-Word-123"


@pytest.fixture(autouse=True)
def fresh_throttle_counts():
    cache.clear()
    yield
    cache.clear()


def token_request(api_client, username, password, ip="127.0.0.1"):
    return api_client.post(
        "/api/v1/auth/token/",
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=ip,
        HTTP_ACCEPT_LANGUAGE="en",
    )


def failures(**filters):
    return LoginFailure.objects.filter(**filters).count()


def test_the_lockout_backend_comes_first():
    assert settings.AUTHENTICATION_BACKENDS[0] == "volunteers.auth.LockoutModelBackend"


def test_five_failures_lock_the_account_even_for_the_right_password(api_client):
    volunteer = VolunteerFactory()
    for _ in range(5):
        response = token_request(api_client, volunteer.mobile, "wrong")
        assert (response.status_code, response.json()["code"]) == (401, "authentication_failed")
    assert list(LoginFailure.objects.values_list("username", "ip_address")) == [(volunteer.mobile, "127.0.0.1")] * 5

    response = token_request(api_client, volunteer.mobile, PASSWORD)

    assert response.status_code == 429
    assert response.json() == {
        "code": "login_locked",
        "message": "Too many failed log-ins. Please wait and try again.",
        "details": {"retry_after_seconds": 900},
    }
    assert response["Retry-After"] == "900"
    assert not Token.objects.filter(user=volunteer.user).exists()
    assert failures() == 5  # refused attempts are not counted again


def test_the_wait_counts_from_the_oldest_failure_in_the_window(api_client):
    volunteer = VolunteerFactory()
    for seconds_ago in (100, 90, 80, 70, 60):
        LoginFailure.objects.create(
            username=volunteer.mobile,
            ip_address="127.0.0.1",
            created_at=timezone.now() - timedelta(seconds=seconds_ago),
        )
    response = token_request(api_client, volunteer.mobile, PASSWORD)
    assert response.status_code == 429
    assert response.json()["details"] == {"retry_after_seconds": 800}


def test_failures_older_than_the_window_do_not_count(api_client):
    volunteer = VolunteerFactory()
    for _ in range(5):
        LoginFailure.objects.create(
            username=volunteer.mobile, ip_address="127.0.0.1", created_at=timezone.now() - timedelta(seconds=901)
        )
    response = token_request(api_client, volunteer.mobile, PASSWORD)
    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=volunteer.user).key}


def test_a_success_clears_the_accounts_failures_from_that_address_only(api_client):
    volunteer = VolunteerFactory()
    LoginFailure.objects.create(username="someone-else", ip_address="127.0.0.1")
    LoginFailure.objects.create(username=volunteer.mobile, ip_address="10.9.9.9")
    for _ in range(4):
        assert token_request(api_client, volunteer.mobile, "wrong").status_code == 401
    assert token_request(api_client, volunteer.mobile, PASSWORD).status_code == 200
    assert failures(username=volunteer.mobile, ip_address="127.0.0.1") == 0
    # A guesser elsewhere does not get a fresh start from the owner's log-in.
    assert failures(username=volunteer.mobile, ip_address="10.9.9.9") == 1
    assert failures(username="someone-else") == 1


def test_usernames_are_counted_case_insensitively():
    UserFactory(username="Alice")
    for variant in ("alice", "ALICE", " Alice", "aLiCe", "Alice"):
        assert authenticate(None, username=variant, password="wrong") is None
    assert list(LoginFailure.objects.values_list("username", flat=True).distinct()) == ["alice"]
    assert authenticate(None, username="Alice", password=PASSWORD) is None
    assert failures() == 5


def test_an_address_with_twenty_failures_is_locked_for_every_account(api_client):
    volunteer = VolunteerFactory()
    for n in range(20):
        assert token_request(api_client, f"guess{n}", "wrong", ip="10.1.1.1").status_code == 401
    response = token_request(api_client, volunteer.mobile, PASSWORD, ip="10.1.1.1")
    assert (response.status_code, response.json()["code"]) == (429, "login_locked")
    assert token_request(api_client, volunteer.mobile, PASSWORD, ip="10.2.2.2").status_code == 200


def test_limits_come_from_settings(api_client, settings):
    settings.LOGIN_LOCKOUT = {"CLIENT_FAILURES": 2, "IP_FAILURES": 50, "WINDOW_SECONDS": 60}
    volunteer = VolunteerFactory()
    for _ in range(2):
        token_request(api_client, volunteer.mobile, "wrong")
    response = token_request(api_client, volunteer.mobile, PASSWORD)
    body = response.json()
    # The wait counts down from the 60-second window; a loaded machine may take a second or two.
    retry_after = body["details"].pop("retry_after_seconds")
    assert 55 <= retry_after <= 60
    assert body == {
        "code": "login_locked",
        "message": "Too many failed log-ins. Please wait and try again.",
        "details": {},
    }


def test_the_web_log_in_is_locked_too(client):
    admin_user = UserFactory(username="admin", is_staff=True, is_superuser=True)
    for _ in range(5):
        response = client.post("/admin/login/?next=/admin/", {"username": "admin", "password": "wrong"})
        assert response.status_code == 200
    response = client.post("/admin/login/?next=/admin/", {"username": "admin", "password": PASSWORD})
    assert response.status_code == 200  # the form again, not a redirect
    assert "_auth_user_id" not in client.session
    assert failures(username="admin") == 5

    LoginFailure.objects.update(created_at=timezone.now() - timedelta(minutes=16))
    response = client.post("/admin/login/?next=/admin/", {"username": "admin", "password": PASSWORD})
    assert (response.status_code, response["Location"]) == (302, "/admin/")
    assert client.session["_auth_user_id"] == str(admin_user.pk)
    assert failures(username="admin") == 0


def test_lockout_retry_after_without_failures_is_zero():
    assert lockout_retry_after(username="nobody", ip="10.0.0.1") == 0
    assert lockout_retry_after(username="", ip=None) == 0


@pytest.mark.parametrize(("proxies", "expected"), [(0, "3.3.3.3"), (1, "2.2.2.2"), (2, "1.1.1.1"), (5, "1.1.1.1")])
def test_client_address_trusts_only_the_configured_proxies(settings, proxies, expected):
    settings.NUM_PROXIES = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="3.3.3.3", HTTP_X_FORWARDED_FOR="1.1.1.1, 2.2.2.2")
    assert client_ip(request) == expected


def test_a_forwarded_entry_that_is_no_address_falls_back_to_the_proxy(settings):
    settings.NUM_PROXIES = 1
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.1.1.1, unknown")
    assert client_ip(request) == "10.0.0.2"
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2")
    assert client_ip(request) == "10.0.0.2"


PROXY = "10.0.0.2"


def via_proxy(api_client, username, password, client):
    """A token request as the TLS proxy passes it on: from the proxy, naming the client."""
    return api_client.post(
        "/api/v1/auth/token/",
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=f"{client}",
        HTTP_ACCEPT_LANGUAGE="en",
    )


def test_a_lockout_behind_a_proxy_hits_only_the_attackers_address(api_client, settings):
    settings.NUM_PROXIES = 1
    volunteer = VolunteerFactory()
    for n in range(20):
        assert via_proxy(api_client, f"guess{n}", "wrong", client="203.0.113.9").status_code == 401
    assert set(LoginFailure.objects.values_list("ip_address", flat=True)) == {"203.0.113.9"}

    response = via_proxy(api_client, volunteer.mobile, PASSWORD, client="203.0.113.9")
    assert (response.status_code, response.json()["code"]) == (429, "login_locked")
    # Another client behind the same proxy logs in; a forged first entry does not help the attacker.
    response = via_proxy(api_client, volunteer.mobile, PASSWORD, client="198.51.100.7")
    assert response.status_code == 200
    response = via_proxy(api_client, volunteer.mobile, PASSWORD, client="198.51.100.8, 203.0.113.9")
    assert (response.status_code, response.json()["code"]) == (429, "login_locked")


def test_the_throttle_behind_a_proxy_counts_each_client(api_client, settings):
    settings.NUM_PROXIES = 1
    for _ in range(30):
        assert via_proxy(api_client, "", "", client="203.0.113.9").status_code == 400
    assert via_proxy(api_client, "", "", client="203.0.113.9").status_code == 429
    assert via_proxy(api_client, "", "", client="198.51.100.7").status_code == 400


def test_the_access_log_names_the_client_not_the_proxy(settings):
    from datetime import timedelta as duration
    from types import SimpleNamespace

    from gunicorn.config import Config

    from config.gunicorn_logging import ClientAddressLogger

    settings.NUM_PROXIES = 1
    environ = {
        "REMOTE_ADDR": PROXY,
        "HTTP_X_FORWARDED_FOR": "198.51.100.7",
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    response = SimpleNamespace(status="200 OK", sent=0, headers=[])
    request = SimpleNamespace(headers=[])
    atoms = ClientAddressLogger(Config()).atoms(response, request, environ, duration(milliseconds=3))
    assert atoms["h"] == "198.51.100.7"


def test_the_token_endpoint_is_throttled(api_client):
    for _ in range(30):
        response = api_client.post("/api/v1/auth/token/", {}, format="json", HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 400
    response = api_client.post("/api/v1/auth/token/", {}, format="json", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 429
    body = response.json()
    assert (body["code"], body["message"]) == ("throttled", "Too many requests. Please wait and try again.")
    assert 1 <= body["details"]["retry_after_seconds"] <= 60
    assert failures() == 0


def test_token_reset_replaces_the_callers_token(api_client):
    volunteer = VolunteerFactory()
    old = Token.objects.create(user=volunteer.user)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {old.key}")

    response = api_client.post("/api/v1/auth/token/reset/")

    assert response.status_code == 200
    new = Token.objects.get(user=volunteer.user)
    assert response.json() == {"token": new.key}
    assert new.key != old.key
    assert api_client.get("/api/v1/me/").status_code == 401
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {new.key}")
    assert api_client.get("/api/v1/me/").status_code == 200


def test_token_reset_needs_authentication(api_client):
    response = api_client.post("/api/v1/auth/token/reset/")
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")
    assert Token.objects.count() == 0


def test_a_token_authenticates_its_user_with_every_field_loaded(api_client, django_assert_num_queries):
    volunteer = VolunteerFactory()
    token = Token.objects.create(user=volunteer.user)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    request = RequestFactory().get("/", HTTP_AUTHORIZATION=f"Token {token.key}")
    from volunteers.authentication import TokenAuthentication

    with django_assert_num_queries(1):
        user, auth = TokenAuthentication().authenticate(request)
    expected = type(user).objects.get(pk=volunteer.user_id)
    fields = [field.attname for field in type(user)._meta.concrete_fields]
    assert [getattr(user, name) for name in fields] == [getattr(expected, name) for name in fields]
    assert (auth.key, auth.user_id, auth.created, auth.user) == (token.key, token.user_id, token.created, user)
    assert api_client.get("/api/v1/me/").json()["volunteer_number"] == volunteer.volunteer_number


@pytest.mark.parametrize(
    ("language", "unknown", "inactive"),
    [("en", "Invalid token.", "User inactive or deleted."), ("zh-hans", "认证令牌无效。", "用户未激活或者已删除。")],
)
def test_an_unknown_token_or_an_inactive_user_is_refused_in_words(api_client, language, unknown, inactive):
    api_client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40, HTTP_ACCEPT_LANGUAGE=language)
    response = api_client.get("/api/v1/me/")
    assert (response.status_code, response.json()["code"], response.json()["message"]) == (
        401,
        "authentication_failed",
        unknown,
    )
    user = UserFactory(is_active=False)
    token = Token.objects.create(user=user)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}", HTTP_ACCEPT_LANGUAGE=language)
    response = api_client.get("/api/v1/me/")
    assert (response.status_code, response.json()["message"]) == (401, inactive)


def test_five_wrong_passwords_lock_the_account_only_from_that_address(api_client):
    """An attacker who names the coordinator locks themself out, not the coordinator."""
    UserFactory(username="coordinator")
    for _ in range(5):
        assert token_request(api_client, "coordinator", "wrong", ip="203.0.113.9").status_code == 401

    response = token_request(api_client, "coordinator", PASSWORD, ip="203.0.113.9")
    assert (response.status_code, response.json()["code"]) == (429, "login_locked")
    response = token_request(api_client, "coordinator", PASSWORD, ip="198.51.100.7")
    assert response.status_code == 200
    assert failures(username="coordinator", ip_address="203.0.113.9") == 5


def test_guesses_from_many_addresses_slow_the_account_but_never_shut_it(api_client):
    UserFactory(username="coordinator")
    for n in range(10):
        assert token_request(api_client, "coordinator", "wrong", ip=f"203.0.113.{n}").status_code == 401

    # The account's password is now checked at most once a minute, from anywhere, owner included.
    for ip, password in (("203.0.113.50", "wrong"), ("198.51.100.7", PASSWORD)):
        response = token_request(api_client, "coordinator", password, ip=ip)
        assert (response.status_code, response.json()["code"]) == (429, "login_locked")
        assert 58 <= response.json()["details"]["retry_after_seconds"] <= 60
    assert failures(username="coordinator") == 10

    LoginFailure.objects.update(created_at=F("created_at") - timedelta(seconds=61))
    assert token_request(api_client, "coordinator", "wrong", ip="203.0.113.51").status_code == 401
    assert token_request(api_client, "coordinator", PASSWORD, ip="198.51.100.7").status_code == 429
    LoginFailure.objects.update(created_at=F("created_at") - timedelta(seconds=61))
    response = token_request(api_client, "coordinator", PASSWORD, ip="198.51.100.7")
    assert response.status_code == 200
    assert failures(username="coordinator") == 11


def test_however_many_failures_the_account_waits_at_most_the_delay(api_client):
    UserFactory(username="coordinator")
    now = timezone.now()
    LoginFailure.objects.bulk_create(
        LoginFailure(username="coordinator", ip_address=f"203.0.113.{n}", created_at=now - timedelta(seconds=61 + n))
        for n in range(200)
    )
    assert token_request(api_client, "coordinator", PASSWORD, ip="198.51.100.7").status_code == 200


def staff_with_unlock_permission(username="desk"):
    user = UserFactory(username=username, is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="delete_loginfailure"))
    return type(user).objects.get(pk=user.pk)  # a fresh object: permissions are cached


def test_staff_lift_a_lockout_and_it_is_recorded(api_client):
    UserFactory(username="coordinator")
    for _ in range(5):
        token_request(api_client, "coordinator", "wrong", ip="203.0.113.9")
    LoginFailure.objects.create(username="someone-else", ip_address="203.0.113.9")
    staff = staff_with_unlock_permission()

    unlock = login_lockout_clear(actor=staff, username=" Coordinator")

    assert (unlock.actor, unlock.username, unlock.failures_cleared) == (staff, "coordinator", 5)
    assert list(LoginUnlock.objects.values_list("username", "failures_cleared")) == [("coordinator", 5)]
    assert list(LoginFailure.objects.values_list("username", flat=True)) == ["someone-else"]
    assert token_request(api_client, "coordinator", PASSWORD, ip="203.0.113.9").status_code == 200


@pytest.mark.parametrize("kind", ["plain", "staff without the permission", "inactive"])
def test_a_lockout_is_lifted_only_by_staff_who_may(kind):
    for _ in range(5):
        authenticate(None, username="coordinator", password="wrong")
    if kind == "inactive":
        actor = staff_with_unlock_permission()
        actor.is_active = False
    else:
        actor = UserFactory(username="someone", is_staff=kind != "plain")

    with pytest.raises(ServiceError) as refused:
        login_lockout_clear(actor=actor, username="coordinator")

    assert refused.value.code == "permission_denied"
    assert failures(username="coordinator") == 5
    assert LoginUnlock.objects.count() == 0


def test_the_admin_unlocks_the_selected_accounts(client):
    for username in ("coordinator", "leader"):
        for _ in range(5):
            authenticate(None, username=username, password="wrong")
    LoginFailure.objects.create(username="someone-else", ip_address="203.0.113.9")
    admin_user = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin_user)
    selected = list(
        LoginFailure.objects.filter(username__in=["coordinator", "leader"]).order_by("pk").values_list("pk", flat=True)
    )

    response = client.post(
        "/admin/volunteers/loginfailure/",
        {"action": "unlock_accounts", "_selected_action": [selected[0], selected[-1]]},
        HTTP_ACCEPT_LANGUAGE="en",
        follow=True,
    )

    assert response.status_code == 200
    assert [str(message) for message in response.context["messages"]] == ["2 accounts unlocked."]
    assert list(LoginFailure.objects.values_list("username", flat=True)) == ["someone-else"]
    assert sorted(LoginUnlock.objects.values_list("actor__username", "username", "failures_cleared")) == [
        ("root", "coordinator", 5),
        ("root", "leader", 5),
    ]


NEW_PASSWORD = "Wu-Jiang-2022!"


def test_a_password_change_revokes_the_accounts_api_tokens(client, api_client):
    volunteer = VolunteerFactory()
    token = Token.objects.create(user=volunteer.user)
    other = Token.objects.create(user=VolunteerFactory().user)
    client.force_login(volunteer.user)

    response = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert (response.status_code, response["Location"]) == (302, "/accounts/password/done/")
    assert list(Token.objects.values_list("key", flat=True)) == [other.key]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api_client.get("/api/v1/me/").status_code == 401
    assert client.get("/me/profile/").status_code == 200  # this session goes on
    volunteer.user.refresh_from_db()
    assert volunteer.user.check_password(NEW_PASSWORD)


@pytest.mark.parametrize("usable", [True, False])
def test_a_password_set_in_the_admin_revokes_the_accounts_api_tokens(client, usable):
    volunteer = VolunteerFactory()
    Token.objects.create(user=volunteer.user)
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    data = {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}
    if not usable:
        data = {"usable_password": "false", "unset-password": "1"}

    response = client.post(f"/admin/auth/user/{volunteer.user_id}/password/", data)

    assert response.status_code == 302
    assert Token.objects.count() == 0
    volunteer.user.refresh_from_db()
    assert volunteer.user.check_password(NEW_PASSWORD) is usable
    assert volunteer.user.has_usable_password() is usable
