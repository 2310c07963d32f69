"""Exactly once with a real Celery worker, a real Redis and the test database.

The worker is a separate process (``celery worker`` with eager mode off) on the same database
as the test (the test database). The broker is the machine's
Redis when ``REDIS_URL`` is set, else the embedded one tests/conftest.py started. Each test uses
its own queue, purged first. The SMS backend is the real file backend; its output is counted.

- Two sweeps enqueued at once (worker concurrency 2), and two sweeps run in two threads:
  every due message is sent exactly once, and none is even submitted twice.
- A worker killed with SIGKILL in the middle of a batch, then restarted, with sweeps arriving as
  beat would send them: every due message is sent exactly once and none is lost.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

from communities import tasks
from communities.models import Notification
from communities.notifications import outbox
from config import celery_app
from config.env import BASE_DIR
from config.sms import backends
from tests.factories import AssignmentFactory, OrganizationFactory, ShiftFactory, VolunteerFactory
from tests.waiting import HANG_GUARD, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# Runs the worker with the test settings but without eager mode (the test settings turn it on).
WORKER_BOOT = (
    "import sys; from config.celery import app; app.conf.task_always_eager = False; app.worker_main(sys.argv[1:])"
)
WAIT = HANG_GUARD  # a wait ends when its condition holds; this only catches a hang


def database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    if (db["HOST"] or "").startswith("/"):  # a Unix socket's folder: the embedded server
        return f"postgres://{db['USER']}{password}@/{quote(db['HOST'])}/{db['NAME']}"
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Worker:
    """One ``celery worker`` process group, logging to a file."""

    def __init__(self, name: str, queue: str, env: dict, log: Path, concurrency: int):
        self.name, self.log = name, log
        argv = [sys.executable, "-c", WORKER_BOOT, "worker", "-Q", queue, "-n", f"{name}@%h"]
        argv += ["-c", str(concurrency), "-P", "prefork", "-l", "info"]
        argv += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                argv, cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited with {self.process.returncode}:\n{self.tail()}")
            if f"{self.name}@" in self.tail() and " ready." in self.tail():
                return
            time.sleep(0.1)
        raise AssertionError(f"worker not ready in {WAIT} s:\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def kill(self) -> None:
        """SIGKILL the whole process group: the main process and its pool children."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # pool children left behind by a dead parent
        self.process.wait(10)


def forget_queue(queue: str) -> None:
    """Leave nothing of this test's queue in a shared Redis, including a killed worker's unacked message."""
    with celery_app.connection_for_write() as conn:
        channel = conn.default_channel
        channel.queue_purge(queue)
        with channel.conn_or_acquire() as client:
            client.delete(channel.keyprefix_queue % queue, channel.keyprefix_binding_permanent % queue)
            for tag, payload in client.hgetall(channel.unacked_key).items():
                if json.loads(payload)[2] == queue:  # (message, exchange, routing key)
                    client.hdel(channel.unacked_key, tag)
                    client.zrem(channel.unacked_index_key, tag)


@pytest.fixture
def broker():
    """Enqueue to the real broker from this process; a queue of this test's own, purged before and after."""
    queue = f"vmnotif-test-{uuid.uuid4().hex[:10]}"
    celery_app.conf.task_always_eager = False
    forget_queue(queue)
    try:
        yield queue
    finally:
        celery_app.conf.task_always_eager = True
        forget_queue(queue)


@pytest.fixture
def run(settings, tmp_path, broker):
    """Same notification settings for this process and for the workers it starts."""
    options = {
        "SMS_FILE": str(tmp_path / "backends.jsonl"),
        "SMS_FILE_FSYNC": False,
        "QUIET_HOURS_START": "",
        "QUEUE": broker,
        "BATCH_SIZE": 10,
        "DRAIN_TASKS": 4,
    }
    settings.NOTIFICATIONS = {**settings.NOTIFICATIONS, **options}
    workers: list[Worker] = []

    def start_worker(*, concurrency=2, **overrides) -> Worker:
        conf = {**options, **overrides}
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.test",
            "DATABASE_URL": database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "NOTIFY_QUEUE": broker,
            "NOTIFY_SMS_FILE": conf["SMS_FILE"],
            "NOTIFY_SMS_FILE_FSYNC": "0",
            "NOTIFY_SMS_FILE_DELAY": str(conf.get("SMS_FILE_DELAY", 0)),
            "NOTIFY_QUIET_HOURS_START": "",
            "NOTIFY_BATCH_SIZE": str(conf["BATCH_SIZE"]),
            "NOTIFY_DRAIN_TASKS": str(conf["DRAIN_TASKS"]),
            "NOTIFY_LEASE_SECONDS": str(conf.get("LEASE_SECONDS", 600)),
            "PYTHONUNBUFFERED": "1",
        }
        worker = Worker(f"w{len(workers)}-{broker}", broker, env, tmp_path / f"worker{len(workers)}.log", concurrency)
        workers.append(worker)
        worker.wait_ready()
        return worker

    try:
        yield start_worker
    finally:
        for worker in workers:
            worker.stop()


def due_reminders(count: int) -> set[str]:
    """``count`` volunteers confirmed on shifts starting within the hour: one due SMS each."""
    organization = OrganizationFactory()
    start = timezone.now() + timedelta(minutes=50)
    shifts = [ShiftFactory(starts_at=start, ends_at=start + timedelta(hours=3), capacity=50) for _ in range(3)]
    for n in range(count):
        AssignmentFactory(
            shift=shifts[n % 3],
            volunteer=VolunteerFactory(organization=organization),
            confirmed_at=start - timedelta(days=2),
        )
    return {
        outbox.notification_key(
            assignment_id=a.pk,
            kind="reminder_2h",
            channel="sms",
            user_id=a.volunteer.user_id,
            ref=str(int(start.timestamp())),
        )
        for a in AssignmentFactory._meta.model.objects.select_related("volunteer")
    }


def wait_until_all_sent(expected: int, workers=()) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if Notification.objects.filter(channel="sms", state="sent").count() == expected:
            return
        time.sleep(0.2)
    states = list(Notification.objects.filter(channel="sms").values_list("state", "attempts", "last_error"))
    logs = "\n".join(worker.tail() for worker in workers)
    raise AssertionError(f"not all sent within {WAIT} s: {states[:20]}\n{logs}")


def assert_sent_exactly_once(expected_keys: set[str], *, resubmitted_at_most: int = 0) -> list[str]:
    path = Path(settings.NOTIFICATIONS["SMS_FILE"])
    delivered, torn = backends.read_outbox(path)
    assert len(delivered) == len(set(delivered)), "a key was delivered twice"
    assert set(delivered) == expected_keys, "a message was lost or one was invented"
    assert set(Notification.objects.filter(channel="sms").values_list("key", flat=True)) == expected_keys
    assert set(Notification.objects.filter(channel="sms").values_list("state", flat=True)) == {"sent"}
    duplicates_path = path.with_name(path.name + ".duplicates")
    resubmitted = duplicates_path.read_text().splitlines() if duplicates_path.exists() else []
    assert len(resubmitted) <= resubmitted_at_most
    assert torn <= resubmitted_at_most
    return resubmitted


def test_two_sweeps_enqueued_at_once_send_each_due_message_once(run, broker):
    expected = due_reminders(60)
    worker = run(concurrency=2)
    for _ in range(2):
        tasks.notifications_sweep.apply_async(queue=broker)
    wait_until_all_sent(len(expected), [worker])
    assert_sent_exactly_once(expected, resubmitted_at_most=0)
    # Both sweeps ran: both logged success (the second may still be finishing when the last
    # message is sent, so wait for its line; the whole log, not its tail, is read).
    wait_until(
        lambda: worker.log.read_text(errors="replace").count("communities.tasks.notifications_sweep[") >= 4,
        what="both sweeps received and succeeded",
    )
    assert Notification.objects.filter(channel="inapp").count() == len(expected)


def test_two_sweeps_in_two_threads_send_each_due_message_once(run):
    expected = due_reminders(60)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def sweep_and_send():
        try:
            barrier.wait()
            outbox.sweep()
            outbox.drain(seconds=WAIT)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweep_and_send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT + 20)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert_sent_exactly_once(expected, resubmitted_at_most=0)


def test_worker_killed_mid_batch_then_restarted_sends_every_message_exactly_once(run, broker):
    expected = due_reminders(60)
    outbox.sweep()  # the rows exist; nothing enqueued
    slow = {"SMS_FILE_DELAY": 0.05, "LEASE_SECONDS": 3, "BATCH_SIZE": 20}
    first = run(concurrency=1, **slow)
    tasks.notifications_send.apply_async(queue=broker)
    path = Path(settings.NOTIFICATIONS["SMS_FILE"])
    deadline = time.monotonic() + WAIT
    while len(backends.read_outbox(path)[0]) < 25 and time.monotonic() < deadline:  # into the second batch
        time.sleep(0.02)
    first.kill()
    written = len(backends.read_outbox(path)[0])
    claimed_unsent = Notification.objects.filter(channel="sms", state="sending").count()
    assert 25 <= written < len(expected)
    assert claimed_unsent > 0, "the kill did not land inside a batch"

    second = run(concurrency=1, **slow)
    # The killed worker's task message stays unacknowledged in Redis; beat's next sweeps find the work.
    deadline = time.monotonic() + WAIT
    while Notification.objects.filter(channel="sms", state="sent").count() < len(expected):
        assert time.monotonic() < deadline, second.tail()
        tasks.notifications_sweep.apply_async(queue=broker)
        time.sleep(1)
    wait_until_all_sent(len(expected), [first, second])
    assert_sent_exactly_once(expected, resubmitted_at_most=1)
    reclaimed = Notification.objects.filter(channel="sms", attempts__gt=1).count()
    assert reclaimed >= claimed_unsent
