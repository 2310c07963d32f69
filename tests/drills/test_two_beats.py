"""Drill: two Celery beat processes run by mistake, both sending the sweeps every second, with a
real worker and Redis. Every due reminder is sent, and none twice."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from communities.models import Assignment, Notification, Shift
from config import embedded_redis
from config.sms import backends
from tests.communities.notifications.test_worker_integration import Worker, database_url
from tests.factories import ShiftFactory, VolunteerFactory
from tests.waiting import HANG_GUARD, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def test_two_beats_send_nothing_twice(tmp_path):
    socket_path = Path(tempfile.mkdtemp(prefix="vmb")) / "r.sock"
    redis_process = embedded_redis.start(socket_path)
    sms_file = tmp_path / "backends.jsonl"
    soon = timezone.now() + timedelta(minutes=90)
    shifts = [ShiftFactory(starts_at=soon, ends_at=soon + timedelta(hours=2), capacity=20) for _ in range(3)]
    for n in range(30):
        Assignment.objects.create(
            shift=shifts[n % 3],
            volunteer=VolunteerFactory(),
            status="confirmed",
            confirmed_at=timezone.now() - timedelta(days=2),
        )
    for shift in shifts:
        Shift.objects.filter(pk=shift.pk).update(confirmed_count=10)

    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url(),
        "REDIS_URL": f"unix://{socket_path}?db=0",
        "CELERY_EAGER": "0",
        "SWEEP_SECONDS": "1",
        "NOTIFY_SMS_FILE": str(sms_file),
        "NOTIFY_SMS_FILE_FSYNC": "0",
        "NOTIFY_QUIET_HOURS_START": "",
        "PYTHONUNBUFFERED": "1",
    }
    worker = Worker("beats", "celery", env, tmp_path / "worker.log", concurrency=2)
    beats = []
    try:
        worker.wait_ready()
        for n in range(2):
            with open(tmp_path / f"beat{n}.log", "wb") as log:
                beats.append(
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "celery",
                            "-A",
                            "config",
                            "beat",
                            "-s",
                            str(tmp_path / f"beat{n}"),
                            "--pidfile=",
                            "-l",
                            "info",
                        ],
                        cwd=ROOT,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        wait_until(
            lambda: Notification.objects.filter(kind="reminder_2h", channel="sms", state="sent").count() == 30,
            what="all 30 reminders sent",
        )

        def sweeps_done() -> int:
            return len(re.findall(r"notifications_sweep\[[^\]]+\] succeeded", worker.log.read_text(errors="replace")))

        # Several more rounds from both beats, run by the worker, after everything went out.
        done = sweeps_done()
        wait_until(lambda: sweeps_done() >= done + 4, what="four more sweeps after everything was sent")
        sent_by = [
            (tmp_path / f"beat{n}.log").read_text(errors="replace").count("Scheduler: Sending due task")
            for n in range(2)
        ]
        assert min(sent_by) >= 3, f"both beats must really have been sending: {sent_by}"
        delivered, _torn = backends.read_outbox(sms_file)
        keys = set(Notification.objects.filter(kind="reminder_2h", channel="sms").values_list("key", flat=True))
        assert len(keys) == 30
        assert Notification.objects.filter(kind="reminder_2h", channel="sms", state="sent").count() == 30
        assert len(delivered) == len(set(delivered)), "a reminder went out twice"
        assert keys <= set(delivered)
    finally:
        for beat in beats:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(beat.pid, signal.SIGTERM)
            beat.wait(timeout=HANG_GUARD)
        worker.stop()
        embedded_redis.stop(redis_process)
