"""config/postgresql: the health check polls the socket and sends SELECT 1 only when it must."""

from __future__ import annotations

import time

import pytest
from django.db import connection, connections
from django.db.backends.signals import connection_created

from tests.waiting import HANG_GUARD

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def checked(monkeypatch):
    """A connection with health checks on (as in production), and a count of full checks."""
    calls = []
    backend = type(connections["default"])
    original = backend.is_usable

    def counted(self):
        calls.append(self.alias)
        return original(self)

    monkeypatch.setattr(backend, "is_usable", counted)
    monkeypatch.setitem(connection.settings_dict, "CONN_HEALTH_CHECKS", True)
    connection.close()
    connection.ensure_connection()
    yield calls
    connection.close()


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _new_request() -> None:
    # What Django does between requests (close_old_connections): the next cursor checks again.
    connection.close_if_unusable_or_obsolete()


def test_the_backend_is_configured():
    assert type(connections["default"]).__module__ == "config.postgresql.base"


def test_a_quiet_connection_is_reused_without_a_round_trip(checked):
    pid = _backend_pid()
    for _ in range(3):
        _new_request()
        assert _backend_pid() == pid
    assert checked == []


def test_a_connection_the_server_ended_is_replaced_before_the_request_uses_it(checked):
    pid = _backend_pid()
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        other.close()
    deadline = time.monotonic() + HANG_GUARD
    while connection._socket_quiet() and time.monotonic() < deadline:  # the goodbye is on its way
        time.sleep(0.01)
    opened = []

    def record(sender, connection, **kwargs):
        opened.append(connection.alias)

    connection_created.connect(record)
    try:
        _new_request()
        assert _backend_pid() != pid  # the request's own query ran on a new connection
    finally:
        connection_created.disconnect(record)
    assert checked == ["default"]  # the full check ran once, found it dead
    assert opened == ["default"]
