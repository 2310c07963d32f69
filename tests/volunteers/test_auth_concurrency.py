"""The lockout under a burst: real threads, each with its own database connection, released
together. Counting and checking are one step, so no more passwords are checked than the limit."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.test import RequestFactory

from tests.communities.services.test_concurrency import run_together
from tests.factories import UserFactory
from volunteers.auth import lockout_wait
from volunteers.models import LoginFailure

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def guess(username: str, ip: str):
    def attempt():
        request = RequestFactory().post("/accounts/login/", REMOTE_ADDR=ip)
        user = authenticate(request, username=username, password="wrong")
        return user, lockout_wait(request)

    return attempt


@pytest.mark.parametrize(
    ("limit", "name", "guesses"),
    [
        ("CLIENT_FAILURES", "one account from one address", [("coordinator", "203.0.113.9")] * 40),
        (
            "ACCOUNT_FAILURES",
            "one account from forty addresses",
            [("coordinator", f"203.0.113.{n}") for n in range(40)],
        ),
        ("IP_FAILURES", "forty accounts from one address", [(f"user{n}", "203.0.113.9") for n in range(40)]),
    ],
)
def test_a_burst_of_forty_wrong_guesses_gets_at_most_the_limit_checked(settings, limit, name, guesses):
    settings.LOGIN_LOCKOUT = {
        "CLIENT_FAILURES": 5,
        "IP_FAILURES": 8 if limit == "IP_FAILURES" else 100,
        "ACCOUNT_FAILURES": 6 if limit == "ACCOUNT_FAILURES" else 100,
        "ACCOUNT_DELAY_SECONDS": 60,
        "WINDOW_SECONDS": 900,
    }
    allowed = settings.LOGIN_LOCKOUT[limit]
    UserFactory(username="coordinator")

    results = run_together([guess(username, ip) for username, ip in guesses])

    assert [r for r in results if isinstance(r, Exception)] == []
    assert all(user is None for user, _wait in results)
    refused = [wait for _user, wait in results if wait]
    # Every password checked left its row first; every other guess was refused unchecked.
    assert (LoginFailure.objects.count(), len(refused)) == (allowed, 40 - allowed)
