"""Drill: Redis (the Celery broker) stops under a running gunicorn, then comes back.

While it is down, sign-ups, cancellations and check-ins still succeed and /health/ reports the
fault. Once it is back, a real worker run by the sweeps (as beat would send them) processes
every reminder and tally recount that fell due, and no message is sent twice.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import pytest
from celery import Celery
from django.db.models import Sum
from django.utils import timezone
from rest_framework.authtoken.models import Token

from communities.models import Assignment, Notification, Shift
from communities.rules import checkin_codes
from communities.services.tallies import tallies_recount_all
from config import embedded_redis
from config.sms import backends
from tests.communities.notifications.test_worker_integration import Worker, database_url
from tests.drills.servers import request, start_gunicorn, wait_healthy
from tests.factories import ShiftFactory, UserFactory, VolunteerFactory
from tests.waiting import HANG_GUARD
from volunteers.models import VolunteerTally

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def place(shift, volunteer, **fields):
    assignment = Assignment.objects.create(
        shift=shift, volunteer=volunteer, status="confirmed", confirmed_at=timezone.now() - timedelta(days=2), **fields
    )
    Shift.objects.filter(pk=shift.pk).update(confirmed_count=shift.confirmed_count + 1)
    shift.confirmed_count += 1
    return assignment


def wait_for(predicate, seconds=HANG_GUARD, what="condition"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"{what} not reached within {seconds} s")


def test_work_goes_on_without_redis_and_nothing_is_lost_or_doubled(tmp_path):
    socket_path = Path(tempfile.mkdtemp(prefix="vmr")) / "r.sock"
    redis_url = f"unix://{socket_path}?db=0"
    sms_file = tmp_path / "backends.jsonl"
    redis_process = embedded_redis.start(socket_path)

    volunteer = VolunteerFactory()
    token = Token.objects.create(user=volunteer.user).key
    coordinator = UserFactory(username="drill-coordinator")
    coordinator_token = Token.objects.create(user=coordinator).key
    # Two days ahead: the volunteer is at a post now, and a shift tomorrow morning would fall
    # inside the rest period when the drill runs late in the evening.
    ahead = timezone.now() + timedelta(days=2)
    future = ShiftFactory(capacity=3, starts_at=ahead, ends_at=ahead + timedelta(hours=3))
    future.community.coordinators.add(coordinator)
    start = timezone.now() - timedelta(minutes=5)
    running = ShiftFactory(post=future.post, starts_at=start, ends_at=start + timedelta(hours=3))
    soon = timezone.now() + timedelta(minutes=90)
    reminded = ShiftFactory(starts_at=soon, ends_at=soon + timedelta(hours=2))
    at_post = place(running, volunteer)
    other = VolunteerFactory()
    to_cancel = place(
        ShiftFactory(starts_at=timezone.now() + timedelta(days=3), ends_at=timezone.now() + timedelta(days=3, hours=2)),
        other,
    )
    other_token = Token.objects.create(user=other.user).key
    place(reminded, VolunteerFactory())  # its 2-hour reminder falls due while Redis is down

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_url,
        "CELERY_EAGER": "0",
        "NOTIFY_SMS_FILE": str(sms_file),
        "NOTIFY_SMS_FILE_FSYNC": "0",
        "NOTIFY_QUIET_HOURS_START": "",
        "NOTIFY_SEND_BATCH_SECONDS": "0.05",  # as in production: the web process batches its sends
        "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp_path / "gunicorn.log"
    server, base = start_gunicorn(env, log_path)
    worker = None
    try:
        wait_healthy(base, token, log_path)
        embedded_redis.stop(redis_process)

        status, body = request(f"{base}/health/", token)
        assert status == 503 and body["checks"]["redis"]["ok"] is False and body["checks"]["database"]["ok"] is True
        started = time.monotonic()
        status, body = request(f"{base}/api/v1/shifts/{future.pk}/signup/", token, method="POST")
        assert (status, body["status"]) == (201, "confirmed")
        # Publishing to a broker that is away must fail fast, not wait on reconnects: a hang would
        # last as long as the request timeout; a busy machine is slow by seconds, not a minute.
        assert time.monotonic() - started < 60, "a sign-up must not hang on the missing broker"
        status, body = request(f"{base}/api/v1/assignments/{to_cancel.pk}/cancel/", other_token, method="POST")
        assert (status, body["status"]) == (200, "cancelled")
        code = checkin_codes.current_code(running.checkin_secret)[0]
        status, _ = request(f"{base}/api/v1/assignments/{at_post.pk}/check-in/", token, "POST", {"code": code})
        assert status == 200
        status, _ = request(f"{base}/api/v1/assignments/{at_post.pk}/check-out/", token, method="POST")
        assert status == 200
        status, _ = request(f"{base}/api/v1/attendance/{at_post.pk}/approve-hours/", coordinator_token, method="POST")
        assert status == 200
        assert Assignment.objects.get(pk=at_post.pk).tally_pending is True
        assert not sms_file.exists() or backends.read_outbox(sms_file)[0] == []

        # Redis is back (empty, as the development broker keeps nothing); beat's sweeps arrive.
        redis_process = embedded_redis.start(socket_path)
        worker = Worker("drill", "celery", env, tmp_path / "worker.log", concurrency=2)
        worker.wait_ready()
        sender = Celery(broker=f"redis+socket://{socket_path}", set_as_current=False)  # not the process's app
        for name in ("communities.tasks.notifications_sweep", "communities.tasks.tally_pending_sweep_task"):
            sender.send_task(name)
        wait_for(
            lambda: (
                not Assignment.objects.filter(tally_pending=True).exists()
                and not Notification.objects.filter(channel="sms", state__in=["pending", "sending"]).exists()
                and Notification.objects.filter(kind="reminder_2h", channel="sms", state="sent").exists()
            ),
            what="every due message sent and every tally recounted",
        )
        second_round = [
            sender.send_task(name).id  # a second round, as the next minute's beat would: changes nothing
            for name in (
                "communities.tasks.notifications_sweep",
                "communities.tasks.tally_pending_sweep_task",
            )
        ]
        wait_for(
            lambda: all(f"[{task_id}] succeeded" in worker.log.read_text(errors="replace") for task_id in second_round),
            what="the second round of sweeps done",
        )

        delivered, _torn = backends.read_outbox(sms_file)
        sent_keys = set(Notification.objects.filter(channel="sms", state="sent").values_list("key", flat=True))
        assert len(delivered) == len(set(delivered)), "a message was sent twice"
        assert set(delivered) == sent_keys
        kinds = set(Notification.objects.filter(channel="sms", state="sent").values_list("kind", flat=True))
        assert {"reminder_2h"} <= kinds
        assert len(sent_keys) >= 3  # the confirmation, the cancellation and the reminder at least
        approved = Assignment.objects.filter(hours_status="approved").aggregate(m=Sum("credited_minutes"))["m"]
        assert VolunteerTally.objects.get(volunteer=volunteer).total_minutes == approved
        assert tallies_recount_all() == {"volunteers_fixed": 0, "cells_fixed": 0}
    finally:
        if worker is not None:
            worker.stop()
        server.terminate()
        server.wait(timeout=HANG_GUARD)
        embedded_redis.stop(redis_process)
