"""Drill: a worker is killed with SIGKILL in the middle of recounting service hours, then a new
one finishes the job. No hours are lost and none are counted twice: the totals equal a full
recount from the assignments."""

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

from communities.models import Assignment, DailyTally
from communities.services import live
from communities.services.tallies import tallies_recount_all
from config import embedded_redis
from tests.communities.notifications.test_worker_integration import Worker, database_url
from tests.factories import ShiftFactory, VolunteerFactory
from tests.waiting import HANG_GUARD
from volunteers.models import VolunteerTally

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
COUNT = 300


def test_killed_worker_loses_and_doubles_no_hours(tmp_path):
    socket_path = Path(tempfile.mkdtemp(prefix="vmk")) / "r.sock"
    redis_process = embedded_redis.start(socket_path)
    start = timezone.now() - timedelta(days=1)
    shifts = [ShiftFactory(starts_at=start, ends_at=start + timedelta(hours=4), capacity=COUNT) for _ in range(5)]
    for n in range(COUNT):
        Assignment.objects.create(
            shift=shifts[n % 5],
            volunteer=VolunteerFactory(),
            status="completed",
            checked_in_at=start,
            checked_out_at=start + timedelta(hours=4),
            credited_minutes=30 + n % 200,
            hours_status="approved",
            tally_pending=True,
        )
    # The rows above were written straight into the table, not through the attendance services
    # that keep the live board's check-in rollup: bring it level first, so the recount at the
    # end reports only what the killed worker did to the tallies.
    live.shift_attendance_repair()
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url(),
        "REDIS_URL": f"unix://{socket_path}?db=0",
        "CELERY_EAGER": "0",
        "PYTHONUNBUFFERED": "1",
    }
    env = {**os.environ, **env}
    sender = Celery(broker=f"redis+socket://{socket_path}", set_as_current=False)  # not the process's app
    first = second = None
    try:
        first = Worker("tally-a", "celery", env, tmp_path / "a.log", concurrency=1)
        first.wait_ready()
        sender.send_task("communities.tasks.tally_pending_sweep_task")
        deadline = time.monotonic() + HANG_GUARD
        while Assignment.objects.filter(tally_pending=True).count() > COUNT * 0.8:
            assert time.monotonic() < deadline, first.tail()
            time.sleep(0.02)
        first.kill()
        left = Assignment.objects.filter(tally_pending=True).count()
        assert 0 < left < COUNT, f"the kill must land mid-batch ({left} of {COUNT} left)"

        second = Worker("tally-b", "celery", env, tmp_path / "b.log", concurrency=1)
        second.wait_ready()
        sender.send_task("communities.tasks.tally_pending_sweep_task")  # the next minute's sweep
        deadline = time.monotonic() + HANG_GUARD
        while Assignment.objects.filter(tally_pending=True).exists():
            assert time.monotonic() < deadline, second.tail()
            time.sleep(0.1)
        approved = Assignment.objects.filter(hours_status="approved").aggregate(m=Sum("credited_minutes"))["m"]
        assert VolunteerTally.objects.aggregate(m=Sum("total_minutes"))["m"] == approved
        assert DailyTally.objects.aggregate(m=Sum("minutes"))["m"] == approved
        assert tallies_recount_all() == {"volunteers_fixed": 0, "cells_fixed": 0}
    finally:
        for worker in (first, second):
            if worker is not None:
                worker.stop()
        embedded_redis.stop(redis_process)
