"""Log-in by a texted code (volunteers/login_codes.py): the code request, the token endpoint with
a code, every refusal, and setting an optional password afterwards."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token

from communities.models import Notification
from config.errors import ServiceError
from tests.factories import UserFactory, VolunteerFactory
from tests.waiting import wait_until
from volunteers import crypto
from volunteers.login_codes import login_code_request
from volunteers.models import LoginCode, StaffContact

# Real commits: the code is texted after commit.
pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def fresh_limits():
    cache.clear()
    yield
    cache.clear()


class Outbox:
    """The file backend's lines written since the test began."""

    def __init__(self):
        self.path = Path(settings.NOTIFICATIONS["SMS_FILE"])
        self.start = self.path.stat().st_size if self.path.exists() else 0

    def lines(self) -> list[dict]:
        if not self.path.exists():
            return []
        with open(self.path, "rb") as handle:
            handle.seek(self.start)
            data = handle.read()
        return [json.loads(line) for line in data.splitlines() if line.strip()]

    def codes(self, mobile: str) -> list[str]:
        return [
            re.search(r"[0-9]{6}", line["text"]).group(0)
            for line in self.lines()
            if line["to"] == mobile and line["key"].startswith("login-code:")
        ]


@pytest.fixture
def outbox():
    return Outbox()


def ask(api_client, mobile, ip="203.0.113.5"):
    return api_client.post("/api/v1/auth/sms-code/", {"mobile": mobile}, format="json", REMOTE_ADDR=ip)


def log_in(api_client, mobile, code, ip="203.0.113.5"):
    return api_client.post("/api/v1/auth/token/", {"mobile": mobile, "code": code}, format="json", REMOTE_ADDR=ip)


def test_a_known_number_gets_a_code_that_logs_in_once(api_client, outbox, caplog):
    caplog.set_level("DEBUG")
    volunteer = VolunteerFactory(mobile="13800000001")
    response = ask(api_client, "13800000001")
    assert (response.status_code, response.json()) == (202, {"resend_after": 60})
    [code] = outbox.codes("13800000001")
    [line] = outbox.lines()
    assert line["text"] == f"您的登录验证码为{code}，5分钟内有效。如非本人操作，请忽略本短信。"
    assert line["key"] == f"login-code:{LoginCode.objects.get().pk}"
    row = LoginCode.objects.get()
    # Only a keyed hash is kept, never the code.
    assert row.code_hash == crypto.keyed_hash("login-code", f"13800000001:{code}")
    assert code not in row.code_hash
    assert (row.mobile, row.attempts, row.used_at, row.closed_at) == ("13800000001", 0, None, None)
    assert row.expires_at - row.created_at == timedelta(minutes=5)

    response = log_in(api_client, "13800000001", code)
    assert response.status_code == 200
    assert response.json() == {"token": Token.objects.get(user=volunteer.user).key}
    row.refresh_from_db()
    assert row.used_at is not None and row.closed_at == row.used_at and row.attempts == 1

    # Reused: refused, and nothing else changes.
    response = log_in(api_client, "13800000001", code)
    assert (response.status_code, response.json()["code"]) == (401, "login_code_invalid")
    row.refresh_from_db()
    assert row.attempts == 1
    # The code was never logged, and no message row or inbox entry holds it.
    assert code not in caplog.text
    assert not Notification.objects.filter(body__contains=code).exists()


def test_in_production_the_code_is_handed_over_on_a_background_thread(api_client, outbox, settings):
    settings.LOGIN_CODE = {**settings.LOGIN_CODE, "SEND_IN_BACKGROUND": True}
    VolunteerFactory(mobile="13800000001")
    assert ask(api_client, "13800000001").status_code == 202
    [code] = wait_until(lambda: outbox.codes("13800000001"), what="the code in the outbox")
    assert log_in(api_client, "13800000001", code).status_code == 200


def test_an_unknown_number_is_answered_the_same_and_nothing_is_sent(api_client, outbox):
    VolunteerFactory(mobile="13800000001")
    response = ask(api_client, "13900000009")
    assert (response.status_code, response.json()) == (202, {"resend_after": 60})
    assert outbox.lines() == []
    assert LoginCode.objects.count() == 0
    # Its limits are counted all the same, so a refusal tells nothing either.
    response = ask(api_client, "13900000009")
    assert (response.status_code, response.json()["code"]) == (429, "sms_code_throttled")


def test_a_malformed_number_is_invalid(api_client, outbox):
    response = ask(api_client, "12345")
    assert (response.status_code, response.json()["code"]) == (400, "invalid")
    assert outbox.lines() == []


def test_an_inactive_or_anonymised_account_gets_no_code(api_client, outbox):
    VolunteerFactory(mobile="13800000002", user__is_active=False)
    assert ask(api_client, "13800000002").status_code == 202
    assert outbox.lines() == []
    assert LoginCode.objects.count() == 0


def test_per_number_limits_one_a_minute_five_an_hour(api_client, outbox, settings):
    VolunteerFactory(mobile="13800000001")
    assert ask(api_client, "13800000001").status_code == 202
    response = ask(api_client, "13800000001", ip="198.51.100.1")  # another address: same number
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "sms_code_throttled"
    assert 59 <= body["details"]["retry_after"] <= 60
    assert response["Retry-After"] == str(body["details"]["retry_after"])
    assert len(outbox.codes("13800000001")) == 1
    assert LoginCode.objects.count() == 1
    # Another number from the same address is not affected.
    VolunteerFactory(mobile="13800000003")
    assert ask(api_client, "13800000003").status_code == 202


def test_the_hourly_limit_per_number(api_client, outbox, settings):
    settings.LOGIN_CODE = {**settings.LOGIN_CODE, "PER_NUMBER": [(5, 3600)]}
    VolunteerFactory(mobile="13800000001")
    for _ in range(5):
        assert ask(api_client, "13800000001").status_code == 202
    response = ask(api_client, "13800000001")
    assert response.status_code == 429
    assert 3590 <= response.json()["details"]["retry_after"] <= 3600
    assert len(outbox.codes("13800000001")) == 5
    # One live code per number: each new one replaced the last.
    assert LoginCode.objects.filter(closed_at__isnull=True).count() == 1
    assert LoginCode.objects.count() == 5


def test_a_new_code_replaces_the_live_one(api_client, outbox, settings):
    settings.LOGIN_CODE = {**settings.LOGIN_CODE, "PER_NUMBER": [(5, 3600)]}
    VolunteerFactory(mobile="13800000001")
    ask(api_client, "13800000001")
    ask(api_client, "13800000001")
    first, second = outbox.codes("13800000001")
    if first != second:
        assert log_in(api_client, "13800000001", first).status_code == 401
    assert log_in(api_client, "13800000001", second).status_code == 200


def test_per_address_limit_is_shared_by_another_process(api_client, outbox, settings):
    """Gunicorn workers are processes: the address's allowance is one count in Redis."""
    settings.LOGIN_CODE = {**settings.LOGIN_CODE, "PER_IP": [(3, 60)]}
    for number in ("13800000011", "13800000012"):
        assert ask(api_client, number, ip="198.51.100.20").status_code == 202
    script = (
        "import django, os; django.setup();"
        "from django.db import connection; connection.settings_dict['NAME'] = os.environ['TEST_DB_NAME'];"
        "from django.test import override_settings;"
        "from django.conf import settings;"
        "from rest_framework.test import APIClient;"
        "c = APIClient();"
        "o = override_settings(LOGIN_CODE={**settings.LOGIN_CODE, 'PER_IP': [(3, 60)]}); o.enable();"
        "print(*[c.post('/api/v1/auth/sms-code/', {'mobile': m}, format='json', REMOTE_ADDR='198.51.100.20')"
        ".status_code for m in ('13800000013', '13800000014')])"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "REDIS_URL": settings.REDIS_URL,
        "CACHE_REDIS_URL": settings.CACHES["default"]["LOCATION"],
        "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
        "TEST_DB_NAME": connection.settings_dict["NAME"],  # the test database, committed to
    }
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["202", "429"]
    response = ask(api_client, "13800000015", ip="198.51.100.20")
    assert (response.status_code, response.json()["code"]) == (429, "sms_code_throttled")
    assert ask(api_client, "13800000015", ip="198.51.100.21").status_code == 202


def test_per_number_limit_is_shared_by_another_process(api_client, outbox, settings):
    VolunteerFactory(mobile="13800000001")
    assert ask(api_client, "13800000001").status_code == 202
    script = (
        "import django, os; django.setup();"
        "from django.db import connection; connection.settings_dict['NAME'] = os.environ['TEST_DB_NAME'];"
        "from rest_framework.test import APIClient;"
        "r = APIClient().post('/api/v1/auth/sms-code/', {'mobile': '13800000001'}, format='json',"
        " REMOTE_ADDR='198.51.100.30');"
        "print(r.status_code, r.json()['code'])"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "REDIS_URL": settings.REDIS_URL,
        "CACHE_REDIS_URL": settings.CACHES["default"]["LOCATION"],
        "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
        "TEST_DB_NAME": connection.settings_dict["NAME"],  # the test database, committed to
    }
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["429", "sms_code_throttled"]
    assert len(outbox.codes("13800000001")) == 1


def test_a_crowd_behind_one_address_gets_its_codes(api_client, outbox):
    """Hundreds of phones behind one carrier NAT at a mobilisation call: all get their codes."""
    numbers = [f"1370000{n:04d}" for n in range(200)]
    for number in numbers:
        VolunteerFactory(mobile=number)
    answers = [ask(api_client, number, ip="10.0.0.1").status_code for number in numbers]
    assert answers == [202] * 200
    assert len([line for line in outbox.lines() if line["key"].startswith("login-code:")]) == 200


def test_an_expired_code_is_refused(api_client, outbox):
    VolunteerFactory(mobile="13800000001")
    ask(api_client, "13800000001")
    [code] = outbox.codes("13800000001")
    LoginCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = log_in(api_client, "13800000001", code)
    assert (response.status_code, response.json()["code"]) == (401, "login_code_invalid")
    row = LoginCode.objects.get()
    assert (row.attempts, row.used_at) == (0, None)
    assert Token.objects.count() == 0


def test_five_wrong_tries_burn_the_code(api_client, outbox):
    VolunteerFactory(mobile="13800000001")
    ask(api_client, "13800000001")
    [code] = outbox.codes("13800000001")
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    for attempt in range(1, 6):
        response = log_in(api_client, "13800000001", wrong)
        assert (response.status_code, response.json()["code"]) == (401, "login_code_invalid")
        assert LoginCode.objects.get().attempts == attempt
    row = LoginCode.objects.get()
    assert row.closed_at is not None and row.used_at is None
    response = log_in(api_client, "13800000001", code)
    assert (response.status_code, response.json()["code"]) == (401, "login_code_invalid")
    assert LoginCode.objects.get().attempts == 5
    assert Token.objects.count() == 0


def test_four_wrong_tries_then_the_right_one_logs_in(api_client, outbox):
    VolunteerFactory(mobile="13800000001")
    ask(api_client, "13800000001")
    [code] = outbox.codes("13800000001")
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    for _ in range(4):
        assert log_in(api_client, "13800000001", wrong).status_code == 401
    assert log_in(api_client, "13800000001", code).status_code == 200


def test_concurrent_guesses_get_exactly_five_checks(outbox):
    """Forty wrong guesses at once: exactly five take a try, the code is burnt, and the right code
    is refused afterwards."""
    VolunteerFactory(mobile="13800000001")
    login_code_request(mobile="13800000001", ip=None)
    [code] = outbox.codes("13800000001")
    from volunteers.login_codes import login_code_verify

    guesses = [f"{(int(code) + n) % 1000000:06d}" for n in range(1, 41)]
    barrier = threading.Barrier(len(guesses))
    results: list[str] = []
    lock = threading.Lock()

    def guess(value):
        barrier.wait()
        try:
            login_code_verify(mobile="13800000001", code=value)
            outcome = "ok"
        except Exception as error:  # ServiceError
            outcome = getattr(error, "code", type(error).__name__)
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=guess, args=(value,)) for value in guesses]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads)
    assert results == ["login_code_invalid"] * 40
    row = LoginCode.objects.get()
    assert row.attempts == 5
    assert row.closed_at is not None and row.used_at is None
    with pytest.raises(ServiceError):
        login_code_verify(mobile="13800000001", code=code)


def test_a_staff_member_logs_in_by_code(api_client, outbox):
    user = UserFactory(username="coordinator")
    StaffContact.objects.create(user=user, mobile="13600000001")
    ask(api_client, "13600000001")
    [code] = outbox.codes("13600000001")
    response = log_in(api_client, "13600000001", code)
    assert response.json() == {"token": Token.objects.get(user=user).key}


def test_the_token_endpoint_still_takes_a_password(api_client):
    VolunteerFactory(mobile="13800000001")
    response = api_client.post(
        "/api/v1/auth/token/", {"username": "13800000001", "password": "pass-Word-123"}, format="json"
    )
    assert response.status_code == 200


def test_the_token_endpoint_needs_one_pair(api_client):
    response = api_client.post("/api/v1/auth/token/", {"mobile": "13800000001"}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "invalid")


def test_a_logged_in_person_sets_a_password_and_logs_in_with_it(api_client, outbox):
    volunteer = VolunteerFactory(mobile="13800000001")
    volunteer.user.set_unusable_password()  # as the import leaves it
    volunteer.user.save()
    ask(api_client, "13800000001")
    [code] = outbox.codes("13800000001")
    token = log_in(api_client, "13800000001", code).json()["token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = api_client.post("/api/v1/me/password/", {"password": "123"}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "invalid")
    assert "password" in response.json()["details"]
    volunteer.user.refresh_from_db()
    assert not volunteer.user.has_usable_password()

    response = api_client.post("/api/v1/me/password/", {"password": "lantern-Harbour-42"}, format="json")
    assert response.status_code == 200
    new_token = response.json()["token"]
    assert new_token != token
    assert list(Token.objects.filter(user=volunteer.user).values_list("key", flat=True)) == [new_token]
    api_client.credentials()
    response = api_client.post(
        "/api/v1/auth/token/", {"username": "13800000001", "password": "lantern-Harbour-42"}, format="json"
    )
    assert response.json() == {"token": new_token}


def test_setting_a_password_needs_a_log_in(api_client):
    response = api_client.post("/api/v1/me/password/", {"password": "lantern-Harbour-42"}, format="json")
    assert response.status_code == 401


# --- The web log-in page --------------------------------------------------------------------


def test_the_login_page_offers_the_code_first(client):
    page = client.get("/accounts/login/").content.decode()
    assert page.index('action="/accounts/login/code/"') < page.index('action="/accounts/login/"')
    assert "获取验证码" in page and "使用密码登录" in page
    assert "team leader" not in page and "队长" not in page


def test_the_web_form_texts_a_code_and_logs_in_with_it(client, outbox):
    volunteer = VolunteerFactory(mobile="13800000001")
    response = client.post("/accounts/login/code/", {"mobile": "13800000001", "action": "send"})
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-resend-after="60"' in page and "验证码已发送，5分钟内有效。" in page
    [code] = outbox.codes("13800000001")
    response = client.post(
        "/accounts/login/code/", {"mobile": "13800000001", "code": code, "action": "login", "next": "/shifts/"}
    )
    assert (response.status_code, response["Location"]) == (302, "/shifts/")
    assert int(client.session["_auth_user_id"]) == volunteer.user_id
    assert client.get("/").status_code == 200


def test_the_web_form_refuses_a_wrong_code_and_a_second_code_within_the_minute(client, outbox):
    VolunteerFactory(mobile="13800000001")
    client.post("/accounts/login/code/", {"mobile": "13800000001", "action": "send"})
    response = client.post("/accounts/login/code/", {"mobile": "13800000001", "action": "send"})
    assert response.status_code == 400
    assert "获取验证码过于频繁，请" in response.content.decode()
    assert len(outbox.codes("13800000001")) == 1
    [code] = outbox.codes("13800000001")
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    response = client.post("/accounts/login/code/", {"mobile": "13800000001", "code": wrong, "action": "login"})
    assert response.status_code == 400
    assert "验证码错误或已过期，请重新获取。" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert LoginCode.objects.get().attempts == 1


def test_a_person_without_a_password_sets_one_on_the_web(client, outbox):
    volunteer = VolunteerFactory(mobile="13800000001")
    volunteer.user.set_unusable_password()
    volunteer.user.save()
    client.post("/accounts/login/code/", {"mobile": "13800000001", "action": "send"})
    [code] = outbox.codes("13800000001")
    client.post("/accounts/login/code/", {"mobile": "13800000001", "code": code, "action": "login"})
    # The change form needs the current password, which there is none of: it sends here.
    assert client.get("/accounts/password/")["Location"] == "/accounts/password/set/"
    response = client.post(
        "/accounts/password/set/", {"new_password1": "lantern-Harbour-42", "new_password2": "lantern-Harbour-43"}
    )
    assert response.status_code == 200
    volunteer.user.refresh_from_db()
    assert not volunteer.user.has_usable_password()
    response = client.post(
        "/accounts/password/set/", {"new_password1": "lantern-Harbour-42", "new_password2": "lantern-Harbour-42"}
    )
    assert response["Location"] == "/me/profile/"
    volunteer.user.refresh_from_db()
    assert volunteer.user.check_password("lantern-Harbour-42")
    assert client.get("/me/profile/").status_code == 200  # the session survived the change


def test_code_log_ins_from_one_address_are_not_held_to_the_password_rate(api_client):
    """A crowd behind one NAT logs in by code at once: the address's password rate (30/min) does
    not apply to codes, which are limited per code (five tries) and per number instead."""
    for number in range(40):
        response = log_in(api_client, f"1370000{number:04d}", "123456", ip="10.0.0.1")
        assert (response.status_code, response.json()["code"]) == (401, "login_code_invalid")
    response = api_client.post(
        "/api/v1/auth/token/", {"username": "x", "password": "y"}, format="json", REMOTE_ADDR="10.0.0.1"
    )
    assert response.status_code == 401


def test_a_registration_code_goes_to_any_number_but_logs_nobody_in(api_client, outbox):
    """Answering a recruitment call proves the number with a code (docs/recruitment.md): unlike a
    log-in code it is texted to a number nobody has registered, and checking it logs nobody in."""
    from volunteers.login_codes import mobile_code_check, mobile_code_request

    assert mobile_code_request(mobile="13800000077", ip="203.0.113.9") == 60
    [code] = outbox.codes("13800000077")
    [line] = outbox.lines()
    assert line["text"] == f"您的志愿者报名验证码为{code}，5分钟内有效。如非本人操作，请忽略本短信。"
    # The same per-number limit as log-in codes.
    assert ask(api_client, "13800000077", ip="203.0.113.10").status_code == 429
    # A log-in with it finds no account; the code is then used up.
    assert log_in(api_client, "13800000077", code).status_code == 401
    with pytest.raises(ServiceError):
        mobile_code_check(mobile="13800000077", code=code)
    assert LoginCode.objects.filter(mobile="13800000077", used_at__isnull=False).count() == 1
