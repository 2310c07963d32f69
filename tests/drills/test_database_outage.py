"""Drill: PostgreSQL becomes unreachable under a running gunicorn, then comes back.

The app must answer 503 with a clear code (not a traceback) while the database is away, report
the fault on /health/, and recover by itself once it returns, without a restart.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.authtoken.models import Token

from tests.drills.servers import request, start_gunicorn, wait_healthy
from tests.drills.tcp_proxy import Proxy
from tests.factories import ShiftFactory, VolunteerFactory
from tests.waiting import HANG_GUARD

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def test_api_answers_503_while_postgresql_is_away_and_recovers_by_itself(tmp_path):
    volunteer = VolunteerFactory()
    shift = ShiftFactory()
    token = Token.objects.create(user=volunteer.user).key
    db = connection.settings_dict
    proxy = Proxy(db.get("HOST") or "127.0.0.1", int(db.get("PORT") or 5432))
    proxy_port = proxy.start()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@127.0.0.1:{proxy_port}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "CONN_MAX_AGE": "60",
    }
    log_path = tmp_path / "gunicorn.log"
    server, base = start_gunicorn(env, log_path)
    try:
        wait_healthy(base, token, log_path)
        assert request(f"{base}/api/v1/shifts/", token)[0] == 200

        proxy.stop()
        status, body = request(f"{base}/api/v1/shifts/", token)
        assert status == 503
        assert body["code"] == "service_unavailable"
        status, body = request(f"{base}/health/", token)
        assert status == 503
        assert body["checks"]["database"]["ok"] is False
        assert body["checks"]["redis"]["ok"] is True
        status, body = request(f"{base}/api/v1/shifts/{shift.pk}/signup/", token, method="POST")
        assert (status, body["code"]) == (503, "service_unavailable")

        proxy.start()
        status, _ = request(f"{base}/api/v1/shifts/", token)
        assert status == 200
        status, body = request(f"{base}/api/v1/shifts/{shift.pk}/signup/", token, method="POST")
        assert (status, body["status"]) == (201, "confirmed")
        output = log_path.read_text()
        assert "Traceback" not in output
    finally:
        server.terminate()
        server.wait(timeout=HANG_GUARD)
        proxy.stop()
