"""Retrying lost races and answering 503 while the database is unreachable."""

import pytest
from django.db import OperationalError, transaction
from django.test import RequestFactory

from config.db import database_unavailable, retry_on_conflict
from config.middleware import DatabaseUnavailableMiddleware


class FakeDeadlock(Exception):
    sqlstate = "40P01"


def lost_race() -> OperationalError:
    error = OperationalError("deadlock detected")
    error.__cause__ = FakeDeadlock()
    return error


@pytest.mark.django_db(transaction=True)
def test_deadlock_is_retried_until_it_succeeds():
    calls = []

    @retry_on_conflict
    @transaction.atomic
    def service():
        calls.append(1)
        if len(calls) < 3:
            raise lost_race()
        return "done"

    assert service() == "done"
    assert len(calls) == 3


@pytest.mark.django_db(transaction=True)
def test_retries_stop_at_the_limit_and_other_errors_are_not_retried():
    calls = []

    @retry_on_conflict(attempts=2, base_delay=0)
    def always_deadlocks():
        calls.append(1)
        raise lost_race()

    with pytest.raises(OperationalError):
        always_deadlocks()
    assert len(calls) == 2

    calls.clear()

    @retry_on_conflict
    def broken_query():
        calls.append(1)
        raise OperationalError("no such column: nope")

    with pytest.raises(OperationalError):
        broken_query()
    assert len(calls) == 1


@pytest.mark.django_db(transaction=True)
def test_no_retry_inside_an_enclosing_transaction():
    calls = []

    @retry_on_conflict
    def inner():
        calls.append(1)
        raise lost_race()

    with pytest.raises(OperationalError), transaction.atomic():
        inner()
    assert len(calls) == 1


def test_unreachable_database_is_recognised():
    assert database_unavailable(
        OperationalError('connection to server at "127.0.0.1", port 5 failed: Connection refused')
    )
    assert not database_unavailable(OperationalError("no such column: nope"))
    assert not database_unavailable(lost_race())


@pytest.mark.parametrize(("path", "content_type"), [("/api/v1/shifts/", "application/json"), ("/shifts/", "text/html")])
def test_middleware_answers_503_with_a_code(path, content_type):
    def view(request):
        raise OperationalError("could not connect to server: Connection refused")

    response = DatabaseUnavailableMiddleware(view)(RequestFactory().get(path))
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Content-Type"].startswith(content_type)
    if content_type == "application/json":
        import json

        assert json.loads(response.content)["code"] == "service_unavailable"


def test_middleware_lets_other_errors_through():
    def view(request):
        raise ValueError("bug")

    with pytest.raises(ValueError):
        DatabaseUnavailableMiddleware(view)(RequestFactory().get("/api/v1/shifts/"))
