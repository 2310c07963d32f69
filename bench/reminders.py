"""Benchmark: 100,000 due shift reminders sent to the file SMS backend by one Celery worker.

Run (one command):

    make bench-reminders                      # or: .venv/bin/python bench/reminders.py

Options: ``--count N`` (default 100000), ``--concurrency C`` (the worker's pool size, default 2),
``--no-fsync`` (the file backend skips fsync), ``--no-write`` (do not touch docs/performance.md).

What it does, end to end with real processes:

1. A fresh database of its own: the PostgreSQL database named by ``BENCH_DATABASE_URL`` (default
   ``vmbench_reminders`` on 127.0.0.1; its name must contain "bench"; it is dropped and recreated).
2. Bulk-creates ``N`` volunteers (SMS on) confirmed on shifts that start in 90 minutes, so each
   has exactly one due reminder (the 2-hour one).
3. Starts ONE ``celery worker`` (prefork, ``C`` processes) against Redis (``REDIS_URL``, else an
   embedded redis-server under var/bench/) on a queue of its own.
4. Enqueues one ``notifications_sweep`` task, as beat would: the worker creates the reminder rows
   (SMS + inbox), then drains them to the file backend in claimed batches.
5. Measures rows created per second, SMS dispatched per second (first claim to last sent) and
   end to end; then checks the outbox file: every key exactly once, none missing, nothing
   resubmitted, every row ``sent``.
6. Prints the figures and writes them into docs/performance.md between the markers
   ``<!-- bench:reminders-postgresql start -->`` and ``<!-- bench:reminders-postgresql end -->``,
   so a rerun replaces its own section.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

BASE_DIR = Path(__file__).resolve().parent.parent
BENCH_DIR = BASE_DIR / "var" / "bench"
DOC = BASE_DIR / "docs" / "performance.md"
WORKER_BOOT = "import sys; from config.celery import app; app.worker_main(sys.argv[1:])"
TIMEOUT = 900  # seconds the worker gets for the whole run


def say(text: str) -> None:
    print(text, flush=True)


def prepare_environment(args) -> tuple[dict, subprocess.Popen | None]:
    """Settings for this process and the worker: the bench database, Redis, queue and outbox."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    database_url = os.environ.get("BENCH_DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/vmbench_reminders"
    recreate_database(database_url)
    redis_process = None
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        from config import embedded_redis

        socket = BENCH_DIR / "redis.sock"
        redis_process = embedded_redis.start(socket)
        redis_url = f"unix://{socket}?db=0"
    outbox = BENCH_DIR / "sms-outbox.jsonl"
    for path in (outbox, outbox.with_name(outbox.name + ".duplicates")):
        path.unlink(missing_ok=True)
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "NOTIFY_QUEUE": f"bench-reminders-{uuid.uuid4().hex[:8]}",
        "NOTIFY_SMS_BACKEND": "config.sms.backends.FileSmsBackend",
        "NOTIFY_SMS_FILE": str(outbox),
        "NOTIFY_SMS_FILE_FSYNC": "0" if args.no_fsync else "1",
        "NOTIFY_SMS_FILE_DELAY": "0",
        "NOTIFY_QUIET_HOURS_START": "",  # the same figures whatever the hour
        "NOTIFY_DRAIN_TASKS": str(args.concurrency),
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    return env, redis_process


def recreate_database(url: str) -> None:
    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"BENCH_DATABASE_URL must name a database with 'bench' in it (it is dropped): {name!r}")
    import psycopg

    admin = parsed._replace(path="/postgres").geturl().replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def create_data(count: int) -> None:
    """``count`` volunteers, each confirmed on a shift that starts in 90 minutes (bulk inserts)."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from communities.models import Assignment, Community, District, Post, PostType, Shift, Street
    from volunteers.models import Organization, Volunteer

    User = get_user_model()
    batch = 5000
    now = timezone.now()
    start = now + timedelta(minutes=90)
    organization = Organization.objects.create(name="苏州金融团工委", code="BENCH", kind="committee")
    street = Street.objects.create(district=District.objects.create(code="BENCH", name="姑苏区"), name="平江街道")
    post_type = PostType.objects.create(code="checkpoint", name="封控点执勤")
    per_shift = 100
    shifts = []
    for n in range((count + per_shift - 1) // per_shift):
        if n % 10 == 0:
            community = Community.objects.create(code=f"B{n:05d}", name=f"平江社区{n // 10}", street=street)
        post = Post.objects.create(community=community, post_type=post_type, name=f"{n % 10 + 1}号门岗")
        shifts.append(
            Shift(
                post=post, community=community, starts_at=start, ends_at=start + timedelta(hours=4), capacity=per_shift
            )
        )
    Shift.objects.bulk_create(shifts, batch_size=batch)
    shift_ids = list(Shift.objects.order_by("pk").values_list("pk", flat=True))
    for first in range(0, count, batch):
        numbers = range(first, min(first + batch, count))
        User.objects.bulk_create([User(username=f"138{n:08d}", password="!") for n in numbers])
        users = dict(User.objects.filter(username__in=[f"138{n:08d}" for n in numbers]).values_list("username", "pk"))
        Volunteer.objects.bulk_create(
            [
                Volunteer(
                    user_id=users[f"138{n:08d}"],
                    volunteer_number=f"SZB{n:08d}",
                    real_name=f"志愿者{n}",
                    gender="female",
                    mobile=f"138{n:08d}",
                    id_number_encrypted="bench",
                    id_number_hash=f"bench-{n}",
                    id_number_masked="3205**********0000",
                    birth_date="1995-06-15",
                    organization=organization,
                    status="active",
                    notify_by_sms=True,
                )
                for n in numbers
            ]
        )
        volunteers = list(
            Volunteer.objects.filter(volunteer_number__gte=f"SZB{first:08d}")
            .order_by("volunteer_number")
            .values_list("pk", flat=True)[: len(numbers)]
        )
        Assignment.objects.bulk_create(
            [
                Assignment(
                    shift_id=shift_ids[n // per_shift],
                    volunteer_id=volunteer_id,
                    status="confirmed",
                    confirmed_at=now - timedelta(days=3),
                )
                for n, volunteer_id in zip(numbers, volunteers, strict=True)
            ]
        )
        say(f"  data: {min(first + batch, count):>7,} / {count:,} volunteers confirmed")


def start_worker(env: dict, concurrency: int, log: Path) -> subprocess.Popen:
    argv = [sys.executable, "-c", WORKER_BOOT, "worker", "-Q", env["NOTIFY_QUEUE"], "-n", "bench@%h"]
    argv += ["-c", str(concurrency), "-P", "prefork", "-l", "info"]
    argv += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    with open(log, "wb") as out:
        return subprocess.Popen(
            argv,
            cwd=BASE_DIR,
            env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_ready(process: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace") if log.exists() else ""
        if process.poll() is not None or " ready." in text:
            if process.poll() is not None:
                raise SystemExit(f"the worker exited:\n{text[-3000:]}")
            return
        time.sleep(0.1)
    raise SystemExit(f"the worker was not ready within {timeout:.0f} s")


def stop_worker(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(15)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(15)


def forget_queue(queue: str) -> None:
    """Leave nothing of the bench's queue in Redis."""
    from config import celery_app

    with celery_app.connection_for_write() as conn:
        channel = conn.default_channel
        channel.queue_purge(queue)
        with channel.conn_or_acquire() as client:
            client.delete(channel.keyprefix_queue % queue, channel.keyprefix_binding_permanent % queue)


def measure(count: int, worker: subprocess.Popen, log: Path) -> dict:
    from communities import tasks
    from communities.models import Notification

    sms_rows = Notification.objects.filter(channel="sms")
    began = time.monotonic()
    tasks.notifications_sweep.apply_async(queue=os.environ["NOTIFY_QUEUE"])
    created_at = first_claim_at = None
    last_report = 0.0
    while True:
        elapsed = time.monotonic() - began
        if worker.poll() is not None:
            raise SystemExit(f"the worker died:\n{log.read_text(errors='replace')[-3000:]}")
        if elapsed > TIMEOUT:
            raise SystemExit(f"not done after {TIMEOUT} s:\n{log.read_text(errors='replace')[-3000:]}")
        created = sms_rows.count() if created_at is None else count
        sent = sms_rows.filter(state="sent").count() if created_at is not None else 0
        if created_at is None and created >= count:
            created_at = time.monotonic()
        if created_at is not None and first_claim_at is None and sms_rows.exclude(state="pending").exists():
            first_claim_at = time.monotonic()
        if elapsed - last_report >= 2:
            last_report = elapsed
            rate = sent / (time.monotonic() - first_claim_at) if first_claim_at and sent else 0
            say(f"  {elapsed:6.1f} s  rows {created:>7,}  sent {sent:>7,}  ({rate:,.0f}/s)")
        if created_at is not None and sent >= count:
            done = time.monotonic()
            break
        time.sleep(0.5)
    first_claim_at = first_claim_at or created_at
    return {
        "sweep_seconds": created_at - began,
        "dispatch_seconds": done - first_claim_at,
        "total_seconds": done - began,
        "dispatch_rate": count / (done - first_claim_at),
        "total_rate": count / (done - began),
        "load": os.getloadavg()[1],  # 5-minute load average at the end: others' work on this machine
    }


def verify(count: int) -> dict:
    from django.db.models import Count

    from communities.models import Notification
    from config.sms import backends

    outbox = Path(os.environ["NOTIFY_SMS_FILE"])
    delivered, torn = backends.read_outbox(outbox)
    keys = set(Notification.objects.filter(channel="sms").values_list("key", flat=True))
    duplicates = outbox.with_name(outbox.name + ".duplicates")
    resubmitted = len(duplicates.read_text().splitlines()) if duplicates.exists() else 0
    states = dict(Notification.objects.filter(channel="sms").order_by().values_list("state").annotate(n=Count("pk")))
    result = {
        "lines": len(delivered),
        "unique": len(set(delivered)),
        "sent_twice": len(delivered) - len(set(delivered)),
        "missing": len(keys - set(delivered)),
        "unknown": len(set(delivered) - keys),
        "resubmitted": resubmitted,
        "torn": torn,
        "rows": len(keys),
        "states": states,
    }
    result["ok"] = (
        result["lines"] == result["unique"] == result["rows"] == count
        and result["missing"] == result["unknown"] == result["resubmitted"] == result["torn"] == 0
        and states == {"sent": count}
    )
    return result


def machine() -> str:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPU ({model or platform.processor() or platform.machine()}), Python {platform.python_version()}"


def database_label() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return f"PostgreSQL {cursor.fetchone()[0]}"


def write_doc(section: str) -> None:
    from django.db import connection

    start, end = (
        f"<!-- bench:reminders-{connection.vendor} start -->",
        f"<!-- bench:reminders-{connection.vendor} end -->",
    )
    text = DOC.read_text() if DOC.exists() else "# Performance\n"
    block = f"{start}\n{section.rstrip()}\n{end}"
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOC.write_text(text)


def report(args, figures: dict, check: dict, env: dict) -> str:
    from django.utils import timezone

    verdict = "meets" if figures["dispatch_rate"] >= 3000 else "is below"
    from django.db import connection

    return f"""## Reminders: {args.count:,} due SMS through one worker ({connection.vendor})

`make bench-reminders` (`bench/reminders.py`). Last run {timezone.localtime():%Y-%m-%d %H:%M}, on {machine()};
{database_label()}; Redis {"embedded (unix socket)" if "redis.sock" in env["REDIS_URL"] else "at REDIS_URL"};
one Celery worker, prefork, {args.concurrency} processes; batches of {os.environ.get("NOTIFY_BATCH_SIZE", "500")};
file SMS backend with fsync {"off" if args.no_fsync else "on"} (once per batch). Load average (5 min) at the end:
{figures["load"]:.1f} on {os.cpu_count()} CPUs (the benchmark itself accounts for about 2 of it).

| phase | seconds | per second |
| --- | ---: | ---: |
| sweep: {args.count:,} due reminders found, SMS + inbox rows created | {figures["sweep_seconds"]:.1f} | {args.count / figures["sweep_seconds"]:,.0f} reminders |
| dispatch: first claim to last SMS marked sent | {figures["dispatch_seconds"]:.1f} | **{figures["dispatch_rate"]:,.0f} SMS** |
| end to end: sweep enqueued to last SMS sent | {figures["total_seconds"]:.1f} | {figures["total_rate"]:,.0f} SMS |

Check of the outbox file against the database: {check["lines"]:,} lines, {check["unique"]:,} distinct keys,
**{check["sent_twice"]} sent twice**, {check["missing"]} missing, {check["resubmitted"]} resubmitted
(the backend's duplicate log), {check["torn"]} torn lines; rows {check["states"]}. Result: {"PASS" if check["ok"] else "FAIL"}.

Dispatch {verdict} the target of 3,000 SMS per second on a 2-core machine.

What limits it: each batch of 500 is five statements (two claim SELECTs … FOR UPDATE SKIP LOCKED,
for abandoned then due rows; the claim UPDATE; a read of the 500 rows with their mobile numbers;
the UPDATE to `sent`), one locked append to the outbox and one fsync. The two UPDATEs move every row in the (state, send_after) index, and
the server competes with the worker's two processes for the same two cores. The sweep writes two
rows per reminder (the SMS and the inbox entry), each into eight indexes; that insert rate, not
Python, is what bounds the end-to-end figure. Design: docs/notifications.md.
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--no-fsync", action="store_true")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(BASE_DIR))

    env, redis_process = prepare_environment(args)
    worker = None
    try:
        import django

        django.setup()
        from django.core.management import call_command

        from config import celery_app

        say(f"[1/4] database: {env['DATABASE_URL']}")
        call_command("migrate", verbosity=0)
        say(f"[2/4] creating {args.count:,} confirmed volunteers (bulk)")
        began = time.monotonic()
        create_data(args.count)
        say(f"      done in {time.monotonic() - began:.1f} s")
        with celery_app.connection_for_write() as conn:
            conn.default_channel.queue_purge(env["NOTIFY_QUEUE"])
        log = BENCH_DIR / "worker.log"
        say(f"[3/4] one worker, {args.concurrency} processes, queue {env['NOTIFY_QUEUE']} (log: {log})")
        worker = start_worker(env, args.concurrency, log)
        wait_ready(worker, log)
        say("[4/4] enqueue the sweep, as beat would, and wait")
        figures = measure(args.count, worker, log)
        check = verify(args.count)
        section = report(args, figures, check, env)
        say("")
        say(section)
        if not args.no_write:
            write_doc(section)
            say(f"written to {DOC.relative_to(BASE_DIR)}")
        return 0 if check["ok"] else 1
    finally:
        if worker is not None:
            stop_worker(worker)
            forget_queue(env["NOTIFY_QUEUE"])
        if redis_process is not None:
            from config import embedded_redis

            embedded_redis.stop(redis_process)


if __name__ == "__main__":
    sys.exit(main())
