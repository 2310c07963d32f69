"""Benchmark: concurrent shift sign-ups over HTTP (gunicorn on PostgreSQL), next to pgbench.

    .venv/bin/python bench/signup_http.py [--scale 1] [--clients 32,128] [--requests 3000] [--keep-db]

1. Rebuilds the database named by DATABASE_URL (default ``vmbench_signup`` on 127.0.0.1):
   drop, create, ``migrate``, ``seed_demo --scale K``.
2. Adds the bench data through the ORM: a post type without requirements, one post in each of
   the first 100 communities, a 08:00-12:00 shift on each of 30 days (day +20 ... +49), capacity 5,
   and a DRF token for every active volunteer. The request plan never gives one volunteer two
   shifts on one day, so every request is a legitimate sign-up: 201 confirmed or waitlisted.
3. Starts gunicorn with config/deploy/gunicorn.conf.py and the production settings, warms it
   up, then for each concurrency level fires the plan from client processes (threads with
   keep-alive connections of a small HTTP/1.1 client) and records every request's latency, the web
   processes' RSS (psutil) and the CPU used by gunicorn, PostgreSQL and the client.
4. After each level checks the invariants in SQL (no shift over capacity, counters equal to the
   rows, one live assignment per volunteer and shift, no overlapping confirmed shifts), then
   puts the bench shifts back to empty so every level starts from the same state.
5. Loads two endpoints that do next to nothing (bench/floor_urls.py: Django alone, and DRF with
   the token authentication) through the same gunicorn settings and clients: the stack's floor.
6. Times one sign-up in process, phase by phase, with every SQL statement counted and timed.
7. Runs the same transaction with pgbench (bench/signup.pgbench.sql) at the same client counts.
8. Prints the figures and writes them into docs/performance.md between the
   ``<!-- bench:signup start -->`` and ``<!-- bench:signup end -->`` markers.

The target: at least 500 sign-ups/s at 32 concurrent clients with p99 under 150 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import math
import os
import platform
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DOCS = ROOT / "docs" / "performance.md"
PGBENCH_SCRIPT = Path(__file__).resolve().parent / "signup.pgbench.sql"
START, END = "<!-- bench:signup start -->", "<!-- bench:signup end -->"
DOCS_HEADER = "# Performance\n\nFigures from the benchmarks in `bench/`; each section is written by its script.\n"

TARGET_RATE, TARGET_P99_MS, TARGET_CLIENTS = 500.0, 150.0, 32
COMMUNITIES, DAYS, FIRST_DAY, CAPACITY = 100, 30, 20, 5
SHIFT_START, SHIFT_END = clock_time(8), clock_time(12)
POST_TYPE_CODE = "bench-signup"
PGBENCH_SECONDS = 15
SAMPLE_EVERY = 0.25  # seconds between RSS samples


# --- Environment and database ---------------------------------------------------------------


def bench_env(args) -> dict[str, str]:
    """What the production settings need, with throwaway secrets for this run."""
    from cryptography.fernet import Fernet

    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE=args.settings,
        DATABASE_URL=args.database_url,
        REDIS_URL=args.redis_url,
        SECRET_KEY=secrets.token_urlsafe(50),
        ID_NUMBER_KEYS=Fernet.generate_key().decode(),
        ID_NUMBER_HASH_KEY=secrets.token_urlsafe(32),
        ALLOWED_HOSTS="127.0.0.1",
        NUM_PROXIES="1",  # as production requires; with no X-Forwarded-For the peer address counts
        SECURE_SSL_REDIRECT="false",
        DEBUG="false",
        # Quiet hours off: every confirmation's SMS is due at once and queued after commit, as in
        # the daytime rush, whatever the hour the benchmark runs at.
        NOTIFY_QUIET_HOURS_START="",
        NOTIFY_QUIET_HOURS_END="",
        # A queue of this run's own: no worker takes the send tasks, and the run deletes them at the end.
        NOTIFY_QUEUE=args.queue,
    )
    return env


def pg_params(url: str) -> dict:
    parsed = urlparse(url)
    return {
        "host": parsed.hostname or "127.0.0.1",
        "port": parsed.port or 5432,
        "user": parsed.username or "postgres",
        "dbname": parsed.path.lstrip("/"),
    }


def database_recreate(url: str) -> None:
    import psycopg
    from psycopg import sql

    params = pg_params(url)
    name = params.pop("dbname")
    with psycopg.connect(**params, dbname="postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def database_drop(url: str) -> None:
    import psycopg
    from psycopg import sql

    params = pg_params(url)
    name = params.pop("dbname")
    with psycopg.connect(**params, dbname="postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def run_step(title: str, command: list[str], env: dict, cwd: Path = ROOT) -> None:
    """Run a command with its output streamed, so long steps show their progress."""
    print(f"== {title}: {' '.join(command)}", flush=True)
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True)
    print(f"== {title} done ({time.perf_counter() - started:.1f}s)", flush=True)


def django_setup(env: dict) -> None:
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


# --- Bench data and the request plan --------------------------------------------------------


@dataclass
class BenchData:
    shift_ids: list[int]
    shifts_by_day: list[list[int]]
    volunteer_ids: list[int]
    tokens: dict[int, str]  # volunteer id -> token key

    @property
    def places(self) -> int:
        return len(self.shift_ids) * CAPACITY


def eligible_for(shift):
    """Active volunteers the rules accept for ``shift`` (communities_refusal, docs/rules.md)."""
    from django.utils import timezone

    from communities.rules.eligibility import candidates_q
    from volunteers.models import Volunteer

    return Volunteer.objects.filter(candidates_q(shift, timezone.now()), status=Volunteer.Status.ACTIVE)


def bench_data_create() -> BenchData:
    """A post type without requirements, 100 posts, 30 days of shifts, a token per active volunteer."""
    from django.db import transaction
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from communities.models import Community, Post, PostType, Shift
    from volunteers.models import Volunteer

    started = time.perf_counter()
    today = timezone.localdate()
    existing_type = PostType.objects.filter(code=POST_TYPE_CODE).first()
    if existing_type is not None:  # --reuse-db: the bench data of an earlier run
        return bench_data_load(existing_type)
    with transaction.atomic():
        post_type = PostType.objects.create(
            code=POST_TYPE_CODE,
            name="基准测试岗",
            name_en="Benchmark post",
            requires_insurance=False,
            min_age=18,
        )
        communities = list(Community.objects.order_by("id")[:COMMUNITIES])
        posts = Post.objects.bulk_create(
            [Post(community=c, post_type=post_type, name="基准测试岗", location="bench") for c in communities]
        )
        shifts = []
        for offset in range(DAYS):
            day = today + timedelta(days=FIRST_DAY + offset)
            starts = timezone.make_aware(datetime.combine(day, SHIFT_START))
            ends = timezone.make_aware(datetime.combine(day, SHIFT_END))
            shifts += [
                Shift(post=post, community_id=post.community_id, starts_at=starts, ends_at=ends, capacity=CAPACITY)
                for post in posts
            ]
        Shift.objects.bulk_create(shifts, batch_size=2000)
        shifts_by_day = [[s.pk for s in shifts[d * len(posts) : (d + 1) * len(posts)]] for d in range(DAYS)]

        active = Volunteer.objects.filter(status=Volunteer.Status.ACTIVE)
        # Eligible on the first and the last day (age and guardian consent depend on the date).
        first, last = (Shift.objects.select_related("post").get(pk=s.pk) for s in (shifts[0], shifts[-1]))
        volunteer_ids = sorted(
            set(eligible_for(first).values_list("pk", flat=True)) & set(eligible_for(last).values_list("pk", flat=True))
        )
        users = dict(active.values_list("pk", "user_id"))
        existing = set(Token.objects.filter(user_id__in=users.values()).values_list("user_id", flat=True))
        Token.objects.bulk_create(
            [Token(user_id=u, key=Token.generate_key()) for u in users.values() if u not in existing], batch_size=2000
        )
        keys = dict(Token.objects.filter(user_id__in=users.values()).values_list("user_id", "key"))
    tokens = {v: keys[users[v]] for v in volunteer_ids}
    print(
        f"== bench data: {len(posts)} posts, {len(shifts):,} shifts of {CAPACITY} places on {DAYS} days, "
        f"{len(users):,} tokens, {len(volunteer_ids):,} eligible volunteers ({time.perf_counter() - started:.1f}s)",
        flush=True,
    )
    return BenchData([s.pk for s in shifts], shifts_by_day, volunteer_ids, tokens)


def bench_data_load(post_type) -> BenchData:
    from rest_framework.authtoken.models import Token

    from communities.models import Shift

    shifts = list(Shift.objects.filter(post__post_type=post_type).order_by("starts_at", "id"))
    days = sorted({shift.starts_at for shift in shifts})
    shifts_by_day = [[shift.pk for shift in shifts if shift.starts_at == day] for day in days]
    bench_reset([shift.pk for shift in shifts])
    ids = [set(eligible_for(shift).values_list("pk", flat=True)) for shift in (shifts[0], shifts[-1])]
    volunteer_ids = sorted(ids[0] & ids[1])
    keys = dict(Token.objects.filter(user__volunteer__in=volunteer_ids).values_list("user__volunteer", "key"))
    print(f"== bench data: reusing {len(shifts):,} shifts and {len(volunteer_ids):,} volunteers", flush=True)
    bench_reset([shift.pk for shift in shifts])
    return BenchData(sorted(shift.pk for shift in shifts), shifts_by_day, volunteer_ids, keys)


def plan_make(data: BenchData, count: int, seed: int) -> list[tuple[int, str]]:
    """``count`` sign-ups, each (shift id, token); one volunteer takes at most one shift a day."""
    limit = DAYS * len(data.volunteer_ids)
    if count > limit:
        raise SystemExit(f"--requests {count} is more than the {limit:,} (volunteer, day) pairs; lower it.")
    draw = random.Random(seed)
    order = []
    for _day in range(DAYS):
        volunteers = data.volunteer_ids[:]
        draw.shuffle(volunteers)
        order.append(volunteers)
    plan = []
    for i in range(count):
        day = i % DAYS
        volunteer = order[day][i // DAYS]
        plan.append((draw.choice(data.shifts_by_day[day]), data.tokens[volunteer]))
    draw.shuffle(plan)
    return plan


# --- Invariants and reset -------------------------------------------------------------------

INVARIANTS = {
    "overbooked": """
        SELECT count(*) FROM communities_shift WHERE confirmed_count > capacity""",
    "counter_mismatch": """
        SELECT count(*) FROM communities_shift s
        LEFT JOIN (
            SELECT shift_id,
                   count(*) FILTER (WHERE status IN ('confirmed', 'completed', 'no_show')) AS placed,
                   count(*) FILTER (WHERE status = 'waitlisted') AS waiting
            FROM communities_assignment GROUP BY shift_id
        ) a ON a.shift_id = s.id
        WHERE s.confirmed_count <> coalesce(a.placed, 0) OR s.waitlist_count <> coalesce(a.waiting, 0)""",
    "duplicate_live": """
        SELECT count(*) FROM (
            SELECT 1 FROM communities_assignment WHERE status <> 'cancelled'
            GROUP BY shift_id, volunteer_id HAVING count(*) > 1
        ) d""",
    "overlapping_confirmed": """
        SELECT count(*) FROM communities_assignment a
        JOIN communities_shift s ON s.id = a.shift_id
        JOIN communities_assignment b ON b.volunteer_id = a.volunteer_id AND b.id > a.id
        JOIN communities_shift t ON t.id = b.shift_id
        WHERE a.status IN ('confirmed', 'completed') AND b.status IN ('confirmed', 'completed')
          AND s.starts_at < t.ends_at AND t.starts_at < s.ends_at""",
}


def invariants_check() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        found = {}
        for name, query in INVARIANTS.items():
            cursor.execute(query)
            found[name] = cursor.fetchone()[0]
    return found


def bench_rows(shift_ids: list[int]) -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT status, count(*) FROM communities_assignment WHERE shift_id = ANY(%s) GROUP BY status",
            [shift_ids],
        )
        return dict(cursor.fetchall())


def bench_reset(shift_ids: list[int]) -> None:
    """Empty the bench shifts again, so every round starts from the same state."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM communities_notification WHERE shift_id = ANY(%s) OR assignment_id IN "
            "(SELECT id FROM communities_assignment WHERE shift_id = ANY(%s))",
            [shift_ids, shift_ids],
        )
        cursor.execute(
            "DELETE FROM communities_auditentry WHERE shift_id = ANY(%s) OR assignment_id IN "
            "(SELECT id FROM communities_assignment WHERE shift_id = ANY(%s))",
            [shift_ids, shift_ids],
        )
        cursor.execute("DELETE FROM communities_assignment WHERE shift_id = ANY(%s)", [shift_ids])
        cursor.execute(
            "UPDATE communities_shift SET confirmed_count = 0, waitlist_count = 0, waitlist_seq = 0 WHERE id = ANY(%s)",
            [shift_ids],
        )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE communities_assignment, communities_notification, communities_shift")


# --- gunicorn -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen
    port: int
    log: Path

    @classmethod
    def start(
        cls,
        env: dict,
        workers: int,
        threads: int,
        log: Path,
        worker_class: str = "gthread",
        reuse_port: bool = True,
        root: Path = ROOT,
    ) -> Server:
        """gunicorn serving the code of ``root`` (this checkout, or another one: bench/signup_pairs.py)."""
        port = free_port()
        server_env = {
            **env,
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "GUNICORN_WORKERS": str(workers),
            "GUNICORN_THREADS": str(threads),
            "GUNICORN_WORKER_CLASS": worker_class,
            "GUNICORN_REUSE_PORT": "true" if reuse_port else "false",
            # Steady state: a worker recycled mid-run (max_requests) drops the connections queued on
            # its socket and its restart's CPU would be counted against the requests of the moment.
            "GUNICORN_MAX_REQUESTS": "0",
        }
        command = [str(Path(PYTHON).parent / "gunicorn"), "-c", "config/deploy/gunicorn.conf.py", "config.wsgi"]
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, cwd=root, env=server_env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        server = cls(process, port, log)
        server.wait_ready()
        return server

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.process.returncode}); see {self.log}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/health/")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
                conn.close()
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"gunicorn did not answer /health/ in {timeout:.0f}s; see {self.log}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


# --- Load: client processes -----------------------------------------------------------------

OUTCOME_CONFIRMED, OUTCOME_WAITLISTED, OUTCOME_OTHER = 0, 1, 2
SIGNUP_PATH = "/api/v1/shifts/{}/signup/"
FLOOR_ENDPOINTS = [
    ("Django alone: the project's middleware, a JSON answer, no database", "/bench/plain/{}/"),
    ("DRF with the project's token authentication (one query)", "/bench/token/{}/"),
]


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=120)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class Reply:
    """Reads HTTP/1.1 answers off one socket: the status, the body, whether the server closes.

    A load generator of its own rather than ``http.client``: that parses every answer's headers
    with the ``email`` package, and its CPU comes out of the same 2 cores as the server's.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.buffer = sock, b""

    def _more(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("the server closed the connection")
        self.buffer += chunk

    def read(self) -> tuple[int, bytes, bool]:
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            self._more()
        head, self.buffer = self.buffer[:end].decode("latin-1"), self.buffer[end + 4 :]
        lines = head.split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        fields = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
        if "content-length" not in fields:
            raise ValueError(f"an answer without Content-Length: {head!r}")
        length = int(fields["content-length"])
        while len(self.buffer) < length:
            self._more()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, body, fields.get("connection", "").lower() == "close"


def client_process(port, jobs, threads, ready, go, results, keep_alive=True, path=SIGNUP_PATH) -> None:
    """One client process: ``threads`` closed-loop clients, each on its own keep-alive connection.

    Without ``keep_alive`` every request opens a connection of its own and asks the server to
    close it, as a reverse proxy speaking HTTP/1.0 to its upstream does.
    """
    sys.setswitchinterval(0.0005)  # hand the GIL over quickly, so a reply is timed when it lands
    count = len(jobs)
    latencies = array("d", bytes(8 * count))
    statuses = array("H", bytes(2 * count))
    outcomes = bytearray(count)
    finished = array("d", bytes(8 * count))
    counter = itertools.count()
    samples: dict[int, bytes] = {}
    retries = [0]
    connections = [_connect(port) for _ in range(threads)]
    request_text = (
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Token {token}\r\n"
        "Accept: application/json\r\nContent-Length: 0\r\n" + ("" if keep_alive else "Connection: close\r\n") + "\r\n"
    )

    def worker(sock: socket.socket) -> None:
        reply = Reply(sock)
        while (i := next(counter)) < count:
            shift_id, token = jobs[i]
            request = request_text.format(path=path.format(shift_id), port=port, token=token).encode()
            started = time.perf_counter()
            if not keep_alive:
                sock.close()
                with contextlib.suppress(OSError):
                    sock = _connect(port)
                    reply = Reply(sock)
            status, body, closing = 0, b"no answer", False  # status 0: the connection failed twice
            for _attempt in (1, 2):
                try:
                    sock.sendall(request)
                    status, body, closing = reply.read()
                    break
                except OSError as error:
                    # A recycled worker closed the kept-alive connection: reconnect and send again.
                    body = repr(error).encode()
                    sock.close()
                    retries[0] += 1
                    with contextlib.suppress(OSError):
                        sock = _connect(port)
                        reply = Reply(sock)
            ended = time.perf_counter()
            if closing and keep_alive:  # the server ends this connection (a worker leaving): a new one
                sock.close()
                with contextlib.suppress(OSError):
                    sock = _connect(port)
                    reply = Reply(sock)
            latencies[i] = ended - started
            finished[i] = time.monotonic()
            statuses[i] = status
            if status == 201 and b'"status":"confirmed"' in body:
                outcomes[i] = OUTCOME_CONFIRMED
            elif status == 201 and b'"status":"waitlisted"' in body:
                outcomes[i] = OUTCOME_WAITLISTED
            else:
                outcomes[i] = OUTCOME_OTHER
                samples.setdefault(status, body[:300])
        sock.close()

    workers = [threading.Thread(target=worker, args=(c,)) for c in connections]
    ready.put(os.getpid())
    go.wait()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    results.put(
        {
            "latencies": latencies,
            "statuses": statuses,
            "outcomes": bytes(outcomes),
            "finished": finished,
            "samples": samples,
            "retries": retries[0],
            "cpu": cpu,
        }
    )


# --- Load: sampling the machine while it runs -----------------------------------------------


def _cpu_seconds(process) -> float:
    times = process.cpu_times()
    return times.user + times.system


class Sampler(threading.Thread):
    """Every 0.25 s: RSS of the gunicorn master and workers, and CPU of them and of PostgreSQL."""

    def __init__(self, master_pid: int, database: str, port: int) -> None:
        super().__init__(daemon=True)
        import psutil

        self.psutil = psutil
        self.master = psutil.Process(master_pid)
        self.database = database
        self.port = port
        self.samples = 0
        self.spread: list[int] = []  # client connections held by each worker, a second in
        self.stop_event = threading.Event()
        self.max_total_rss = 0
        self.max_worker_rss = 0
        self.worker_pids: set[int] = set()
        self.cpu_first: dict[int, float] = {}
        self.cpu_last: dict[int, float] = {}
        # Backends come and go (CONN_MAX_AGE recycles them), so they are read every second and
        # each one's CPU is counted from its first reading, or from zero when it is new.
        self.pg_first = self._pg_cpu()
        self.pg_last = dict(self.pg_first)
        self.machine_first = psutil.cpu_times()
        self._sample()

    def _pg_processes(self) -> list:
        # A backend's process title names its database: "postgres: user db host(port) state".
        found = []
        for process in self.psutil.process_iter(["name", "cmdline"]):
            cmdline = " ".join(process.info["cmdline"] or [])
            if cmdline.startswith("postgres:") and f" {self.database} " in cmdline:
                found.append(process)
        return found

    def _pg_cpu(self) -> dict[int, float]:
        cpu = {}
        for process in self._pg_processes():
            with contextlib.suppress(self.psutil.Error):
                cpu[process.pid] = _cpu_seconds(process)
        return cpu

    def _sample(self) -> None:
        try:
            processes = [self.master, *self.master.children(recursive=True)]
        except self.psutil.Error:
            return
        total = 0
        for process in processes:
            try:
                rss = process.memory_info().rss
                cpu = _cpu_seconds(process)
            except self.psutil.Error:
                continue
            total += rss
            if process.pid != self.master.pid:
                self.worker_pids.add(process.pid)
                self.max_worker_rss = max(self.max_worker_rss, rss)
            self.cpu_first.setdefault(process.pid, cpu)
            self.cpu_last[process.pid] = cpu
        self.max_total_rss = max(self.max_total_rss, total)
        self.samples += 1
        if self.samples == 5:
            self.spread = sorted(
                (self._client_connections(process) for process in processes if process.pid != self.master.pid),
                reverse=True,
            )

    def _client_connections(self, process) -> int:
        try:
            return sum(
                1
                for c in process.net_connections(kind="tcp")
                if c.status == self.psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == self.port
            )
        except self.psutil.Error:
            return -1

    def run(self) -> None:
        ticks = 0
        while not self.stop_event.wait(SAMPLE_EVERY):
            self._sample()
            ticks += 1
            if ticks % 4 == 0:
                self.pg_last.update(self._pg_cpu())

    def finish(self) -> dict:
        self.stop_event.set()
        self.join()
        self._sample()
        self.pg_last.update(self._pg_cpu())
        machine = self.psutil.cpu_times()
        busy_first = sum(self.machine_first) - self.machine_first.idle - getattr(self.machine_first, "iowait", 0)
        busy_last = sum(machine) - machine.idle - getattr(machine, "iowait", 0)
        return {
            "web_rss_max_mb": self.max_total_rss / 2**20,
            "worker_rss_max_mb": self.max_worker_rss / 2**20,
            "workers_seen": len(self.worker_pids),
            "web_cpu": sum(self.cpu_last[p] - self.cpu_first[p] for p in self.cpu_last),
            "pg_cpu": sum(cpu - self.pg_first.get(pid, 0.0) for pid, cpu in self.pg_last.items()),
            "machine_busy": busy_last - busy_first,
            "spread": self.spread,
        }


# --- Load: one round ------------------------------------------------------------------------


@dataclass
class Round:
    clients: int
    requests: int
    seconds: float
    latencies_ms: list[float]
    statuses: dict[int, int]
    confirmed: int
    waitlisted: int
    samples: dict[int, bytes]
    retries: int
    client_cpu: float
    machine: dict = field(default_factory=dict)
    invariants: dict = field(default_factory=dict)
    rows: dict = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        ordered = self.latencies_ms
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]

    @property
    def non_201(self) -> int:
        return sum(n for code, n in self.statuses.items() if code != 201)

    @property
    def overbooked(self) -> int:
        return self.invariants.get("overbooked", 0)


def load_run(
    server: Server,
    plan,
    clients: int,
    processes: int,
    database: str | None = None,
    keep_alive: bool = True,
    path: str = SIGNUP_PATH,
) -> Round:
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    processes = max(1, min(processes, clients))
    ready, results, go = context.Queue(), context.Queue(), context.Event()
    slices = [plan[p::processes] for p in range(processes)]
    threads = [clients // processes + (1 if p < clients % processes else 0) for p in range(processes)]
    workers = [
        context.Process(
            target=client_process, args=(server.port, slices[p], threads[p], ready, go, results, keep_alive, path)
        )
        for p in range(processes)
    ]
    for worker in workers:
        worker.start()
    for _ in workers:
        ready.get(timeout=120)
    sampler = Sampler(server.process.pid, database, server.port) if database else None
    if sampler:
        sampler.start()
    began = time.monotonic()
    go.set()
    parts = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    machine = sampler.finish() if sampler else {}
    ended = max(max(part["finished"]) for part in parts)
    latencies = sorted(x * 1000 for part in parts for x in part["latencies"])
    statuses: dict[int, int] = {}
    for part in parts:
        for code in part["statuses"]:
            statuses[code] = statuses.get(code, 0) + 1
    outcomes = b"".join(part["outcomes"] for part in parts)
    samples: dict[int, bytes] = {}
    for part in parts:
        for code, body in part["samples"].items():
            samples.setdefault(code, body)
    return Round(
        clients=clients,
        requests=len(plan),
        seconds=ended - began,
        latencies_ms=latencies,
        statuses=statuses,
        confirmed=outcomes.count(OUTCOME_CONFIRMED),
        waitlisted=outcomes.count(OUTCOME_WAITLISTED),
        samples=samples,
        retries=sum(part["retries"] for part in parts),
        client_cpu=sum(part["cpu"] for part in parts),
        machine=machine,
    )


def round_print(r: Round) -> None:
    m = r.machine
    print(
        f"   {r.clients:>4} clients: {r.requests:,} sign-ups in {r.seconds:.1f}s = {r.rate:.0f}/s; "
        f"p50 {r.percentile(0.5):.1f} ms, p95 {r.percentile(0.95):.1f} ms, p99 {r.percentile(0.99):.1f} ms, "
        f"max {r.latencies_ms[-1]:.0f} ms",
        flush=True,
    )
    print(
        f"        201 confirmed {r.confirmed:,}, 201 waitlisted {r.waitlisted:,}, non-201 {r.non_201} "
        f"{ {c: n for c, n in r.statuses.items() if c != 201} or '' }, reconnects {r.retries}",
        flush=True,
    )
    for code, body in r.samples.items():
        print(f"        e.g. {code}: {body[:200]!r}", flush=True)
    if m:
        print(
            f"        CPU cores: gunicorn {m['web_cpu'] / r.seconds:.2f}, PostgreSQL {m['pg_cpu'] / r.seconds:.2f}, "
            f"client {r.client_cpu / r.seconds:.2f}, whole machine {m['machine_busy'] / r.seconds:.2f} "
            f"(of {os.cpu_count()}); "
            f"web RSS max {m['web_rss_max_mb']:.0f} MB (largest worker {m['worker_rss_max_mb']:.0f} MB, "
            f"{m['workers_seen']} worker processes seen); client connections per worker {m['spread']}",
            flush=True,
        )
    if r.invariants:
        print(
            f"        overbooked: {r.overbooked}; counters off: {r.invariants['counter_mismatch']}, "
            f"duplicate live assignments: {r.invariants['duplicate_live']}, "
            f"overlapping confirmed shifts: {r.invariants['overlapping_confirmed']}; rows {r.rows}",
            flush=True,
        )


# --- In-process profile: where one sign-up's time goes --------------------------------------


class PhaseClock:
    """Wall time and SQL per phase, each phase's own time without its sub-phases."""

    def __init__(self) -> None:
        self.stack: list[str] = []
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.sql_time: dict[str, float] = {}
        self.sql_count: dict[str, int] = {}
        self.statements: list[str] | None = None

    @contextlib.contextmanager
    def phase(self, name: str):
        self.stack.append(name)
        started, started_cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            spent, spent_cpu = time.perf_counter() - started, time.thread_time() - started_cpu
            self.stack.pop()
            self.wall[name] = self.wall.get(name, 0.0) + spent
            self.cpu[name] = self.cpu.get(name, 0.0) + spent_cpu
            if self.stack:
                parent = self.stack[-1]
                self.wall[parent] = self.wall.get(parent, 0.0) - spent
                self.cpu[parent] = self.cpu.get(parent, 0.0) - spent_cpu

    def wrap(self, name: str, func):
        import functools

        @functools.wraps(func)
        def timed(*args, **kwargs):
            with self.phase(name):
                return func(*args, **kwargs)

        return timed

    def sql(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            name = self.stack[-1] if self.stack else "outside"
            self.sql_time[name] = self.sql_time.get(name, 0.0) + time.perf_counter() - started
            self.sql_count[name] = self.sql_count.get(name, 0) + 1
            if self.statements is not None:
                self.statements.append(f"[{name}] {' '.join(str(sql).split())[:160]}")


PHASES = [
    ("request", "Django and DRF: WSGI, middleware, routing, rendering (and the test client)"),
    ("auth", "token authentication (token and user)"),
    ("view", "view: the service call and the serializer"),
    ("texts", "the shift's notification texts: read and rendered the first time a process sees the shift"),
    ("sign-up", "shift_sign_up: one statement (locks, rules, counters, assignment and notification rows, commit)"),
    ("due keys", "outbox.signed_up_in_database: the new rows' keys for the send task"),
    ("notification rows", "outbox.assignment_event: rows from Python (only where the one statement cannot run)"),
    ("queue after commit", "on commit: keys handed to the send batcher"),
]
OTHER_THREADS = "other threads: the batched send tasks to Redis (communities/notifications/batching.py)"


def profile_run(data: BenchData, count: int, seed: int, warmup: int = 50) -> dict:
    """Sign up ``count`` times through the full Django stack in this process, timing each phase.

    Wall and CPU time per phase, every SQL statement counted and timed, and the CPU the
    PostgreSQL backend spent on them, so the per-request cost can be set against the cores.
    """
    import psutil
    from django.db import connection
    from django.test import Client

    from communities.api import shifts
    from communities.notifications import outbox
    from communities.notifications.batching import SendBatcher
    from communities.services import signup
    from volunteers.authentication import TokenAuthentication

    clock = PhaseClock()
    patches = [
        (TokenAuthentication, "authenticate_credentials", "auth"),
        (shifts.ShiftViewSet, "signup", "view"),
        (signup, "shift_sign_up", "sign-up"),
        (outbox, "sign_up_texts_for", "texts"),
        (outbox, "signed_up_in_database", "due keys"),
        (outbox, "assignment_event", "notification rows"),
        (SendBatcher, "add", "queue after commit"),
    ]
    originals = [(owner, name, owner.__dict__[name]) for owner, name, _phase in patches]
    for owner, name, phase_name in patches:
        setattr(owner, name, clock.wrap(phase_name, getattr(owner, name)))
    plan = plan_make(data, count + warmup, seed)
    # One backend for the whole profile, so its CPU can be read: no recycling after CONN_MAX_AGE.
    connection.close()
    connection.settings_dict["CONN_MAX_AGE"] = None
    client = Client(HTTP_HOST="127.0.0.1")
    codes: dict[int, int] = {}
    one_request: list[str] = []
    try:
        with connection.execute_wrapper(clock.sql):
            for i, (shift_id, token) in enumerate(plan):
                if i == warmup:  # the first requests warm the caches and are not counted
                    with connection.cursor() as cursor:
                        cursor.execute("SELECT pg_backend_pid()")
                        backend = psutil.Process(cursor.fetchone()[0])
                    clock.__init__()
                    clock.statements = one_request
                    backend_cpu, process_cpu, started = _cpu_seconds(backend), time.process_time(), time.perf_counter()
                elif i == warmup + 1:
                    clock.statements = None
                with clock.phase("request"):
                    response = client.post(
                        f"/api/v1/shifts/{shift_id}/signup/",
                        HTTP_AUTHORIZATION=f"Token {token}",
                        HTTP_ACCEPT="application/json",
                    )
                if i >= warmup:
                    codes[response.status_code] = codes.get(response.status_code, 0) + 1
            wall = time.perf_counter() - started
            process_cpu = time.process_time() - process_cpu
            backend_cpu = _cpu_seconds(backend) - backend_cpu
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)
    rows = [
        {
            "key": phase_name,
            "phase": label,
            "ms": 1000 * clock.wall.get(phase_name, 0.0) / count,
            "cpu_ms": 1000 * clock.cpu.get(phase_name, 0.0) / count,
            "queries": clock.sql_count.get(phase_name, 0) / count,
            "sql_ms": 1000 * clock.sql_time.get(phase_name, 0.0) / count,
        }
        for phase_name, label in PHASES
    ]
    # The process's CPU that no phase of the request thread accounts for: the batcher's thread.
    in_phases = sum(row["cpu_ms"] for row in rows)
    rows.append(
        {
            "key": "other threads",
            "phase": OTHER_THREADS,
            "ms": 0.0,
            "cpu_ms": max(0.0, 1000 * process_cpu / count - in_phases),
            "queries": 0.0,
            "sql_ms": 0.0,
        }
    )
    return {
        "rows": rows,
        "codes": codes,
        "statements": one_request,
        "count": count,
        "wall_ms": 1000 * wall / count,
        "python_cpu_ms": 1000 * process_cpu / count,
        "postgres_cpu_ms": 1000 * backend_cpu / count,
    }


def profile_print(profile: dict) -> None:
    print(f"== in-process profile of {profile['count']} sequential sign-ups (codes {profile['codes']})", flush=True)
    print(f"   {'phase (own time, without sub-phases)':<60} {'wall ms':>8} {'CPU ms':>7} {'queries':>8} {'SQL ms':>7}")
    for row in profile["rows"]:
        print(
            f"   {row['phase']:<60} {row['ms']:8.2f} {row['cpu_ms']:7.2f} {row['queries']:8.1f} {row['sql_ms']:7.2f}",
            flush=True,
        )
    total = {key: sum(row[key] for row in profile["rows"]) for key in ("ms", "cpu_ms", "queries", "sql_ms")}
    print(
        f"   {'total':<60} {total['ms']:8.2f} {total['cpu_ms']:7.2f} {total['queries']:8.1f} {total['sql_ms']:7.2f}",
        flush=True,
    )
    cpu = profile["python_cpu_ms"] + profile["postgres_cpu_ms"]
    print(
        f"   CPU per sign-up: Django process {profile['python_cpu_ms']:.2f} ms + PostgreSQL backend "
        f"{profile['postgres_cpu_ms']:.2f} ms = {cpu:.2f} ms, so at most {1000 * (os.cpu_count() or 1) / cpu:.0f} "
        f"sign-ups/s on {os.cpu_count()} cores "
        "before HTTP parsing and the client",
        flush=True,
    )
    print("   statements of one sign-up:", flush=True)
    for statement in profile["statements"]:
        print(f"     {statement}", flush=True)


# --- pgbench --------------------------------------------------------------------------------


def pgbench_path() -> str | None:
    found = shutil.which("pgbench")
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"))
    return str(candidates[-1]) if candidates else None


def pg_connection_room() -> tuple[int, int]:
    """(max_connections, connections in use) on the server."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('max_connections')::int, (SELECT count(*) FROM pg_stat_activity)")
        return cursor.fetchone()


@dataclass
class PgbenchResult:
    clients: int
    requested: int
    tps: float | None
    latency_avg_ms: float | None
    p50_ms: float | None
    p99_ms: float | None
    transactions: int
    failed: int
    inserted: int
    machine_cores: float = 0.0
    pgbench_cores: float = 0.0
    error: str = ""


def _busy(times) -> float:
    return sum(times) - times.idle - getattr(times, "iowait", 0)


def pgbench_run(executable: str, database_url: str, data: BenchData, clients: int, requested: int) -> PgbenchResult:
    import psutil

    from volunteers.models import Volunteer

    params = pg_params(database_url)
    ids = list(Volunteer.objects.order_by("pk").values_list("pk", flat=True))
    shift_ids = sorted(data.shift_ids)
    if shift_ids != list(range(shift_ids[0], shift_ids[-1] + 1)):
        raise RuntimeError("bench shift ids are not contiguous; the pgbench script draws them from a range")
    with tempfile.TemporaryDirectory(prefix="pgbench-") as logs:
        command = [
            executable,
            "-n",
            "-c",
            str(clients),
            "-j",
            "2",
            "-T",
            str(PGBENCH_SECONDS),
            "-f",
            str(PGBENCH_SCRIPT),
            "-l",
            f"--log-prefix={logs}/tx",
            "-D",
            f"shift_min={shift_ids[0]}",
            "-D",
            f"shift_max={shift_ids[-1]}",
            "-D",
            f"volunteer_min={ids[0]}",
            "-D",
            f"volunteer_max={ids[-1]}",
            "-h",
            params["host"],
            "-p",
            str(params["port"]),
            "-U",
            params["user"],
            params["dbname"],
        ]
        print(f"   $ {' '.join(command[:9])} ... ({clients} clients)", flush=True)
        machine_before, children_before = psutil.cpu_times(), resource.getrusage(resource.RUSAGE_CHILDREN)
        began = time.monotonic()
        done = subprocess.run(command, capture_output=True, text=True)
        seconds = time.monotonic() - began
        machine_after, children_after = psutil.cpu_times(), resource.getrusage(resource.RUSAGE_CHILDREN)
        output = done.stdout + done.stderr
        tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", output)
        latency = re.search(r"latency average = ([\d.]+) ms", output)
        processed = re.search(r"number of transactions actually processed: (\d+)", output)
        failed = re.search(r"number of failed transactions: (\d+)", output)
        per_tx = sorted(
            int(line.split()[2]) / 1000
            for log in Path(logs).glob("tx*")
            for line in log.read_text().splitlines()
            if line.strip()
        )
    result = PgbenchResult(
        clients=clients,
        requested=requested,
        tps=float(tps.group(1)) if tps else None,
        latency_avg_ms=float(latency.group(1)) if latency else None,
        p50_ms=per_tx[len(per_tx) // 2] if per_tx else None,
        p99_ms=per_tx[min(len(per_tx) - 1, math.ceil(0.99 * len(per_tx)) - 1)] if per_tx else None,
        transactions=int(processed.group(1)) if processed else 0,
        failed=int(failed.group(1)) if failed else 0,
        inserted=sum(bench_rows(data.shift_ids).values()),
        machine_cores=(_busy(machine_after) - _busy(machine_before)) / seconds,
        pgbench_cores=(
            children_after.ru_utime + children_after.ru_stime - children_before.ru_utime - children_before.ru_stime
        )
        / seconds,
    )
    if done.returncode != 0 or result.tps is None:
        result.error = " ".join(output.strip().splitlines()[-1:])[:200]
    return result


def pgbench_print(r: PgbenchResult) -> None:
    if r.tps is None:
        print(f"   pgbench {r.clients} clients failed: {r.error}", flush=True)
        return
    print(
        f"   pgbench {r.clients:>4} clients: {r.tps:.0f} tps, latency avg {r.latency_avg_ms:.2f} ms, "
        f"p50 {r.p50_ms:.2f} ms, p99 {r.p99_ms:.2f} ms; {r.transactions:,} transactions "
        f"({r.failed} failed), {r.inserted:,} assignments written; CPU cores: pgbench {r.pgbench_cores:.2f}, "
        f"whole machine {r.machine_cores:.2f}",
        flush=True,
    )


# --- Report ---------------------------------------------------------------------------------


def machine_facts() -> dict:
    import psutil
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
        cursor.execute("SHOW max_connections")
        max_connections = cursor.fetchone()[0]
        cursor.execute("SHOW shared_buffers")
        shared_buffers = cursor.fetchone()[0]
        cursor.execute("SHOW synchronous_commit")
        synchronous_commit = cursor.fetchone()[0]
    return {
        "cpus": os.cpu_count(),
        "ram_gb": psutil.virtual_memory().total / 2**30,
        "cpu_model": _cpu_model(),
        "postgres": version,
        "max_connections": max_connections,
        "pg_settings": f"max_connections {max_connections}, shared_buffers {shared_buffers}, "
        f"synchronous_commit {synchronous_commit}",
        "python": platform.python_version(),
    }


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def report_markdown(
    *, args, facts, counts, data, rounds, pgbench, profile, pool, command, when, extra_configs, floor
) -> str:
    lines = [
        START,
        "## Shift sign-up over HTTP (`bench/signup_http.py`)",
        "",
        f"Measured {when} on {facts['cpus']} CPU cores ({facts['cpu_model']}), {facts['ram_gb']:.0f} GB RAM, "
        f"PostgreSQL {facts['postgres']} ({facts['pg_settings']}), Python {facts['python']}. "
        "The cores are shared with other engineers' test runs, so absolute figures are noisy; "
        "compare the rows of one run with each other.",
        "",
        "Rerun (five to fifteen minutes at scale 1, depending on the machine's load; it drops and rebuilds "
        "the database it is given):",
        "",
        "```",
        command,
        "```",
        "",
        f"Data: `seed_demo --scale {args.scale:g}` ({counts}), plus {len(data.shift_ids):,} bench shifts "
        f"(one post in each of the first {COMMUNITIES} communities, 08:00-12:00 on {DAYS} days from day +{FIRST_DAY}, "
        f"capacity {CAPACITY}, {data.places:,} places) and {len(data.volunteer_ids):,} eligible volunteers with API tokens. "
        f"Each level sends the same {args.requests:,} `POST /api/v1/shifts/{{id}}/signup/` requests "
        "(no volunteer twice on one day, so every one must answer 201 confirmed or waitlisted) from "
        f"{args.client_processes} client processes with one keep-alive connection per client, after a warm-up; the "
        "bench shifts are emptied between levels. Server: gunicorn with `config/deploy/gunicorn.conf.py` "
        f"(gthread, {args.workers} workers x {args.threads} threads, so at most {pool} database connections), "
        "`config.settings.production`, Redis for the after-commit SMS task (quiet hours off, so every sign-up queues one, "
        "on a queue no worker reads).",
        "",
        "| clients | requests | sign-ups/s | p50 ms | p95 ms | p99 ms | non-201 | overbooked | web RSS max | "
        "pgbench clients | pgbench TPS | pgbench avg ms | pgbench p99 ms |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r, pg in itertools.zip_longest(rounds, pgbench[: len(rounds)]):
        pg_cells = (
            [f"{pg.clients}" + ("" if pg.clients == pg.requested else f" (of {pg.requested})")]
            + ([f"{pg.tps:.0f}", f"{pg.latency_avg_ms:.2f}", f"{pg.p99_ms:.2f}"] if pg.tps else ["failed", "-", "-"])
            if pg
            else ["-", "-", "-", "-"]
        )
        lines.append(
            f"| {r.clients} | {r.requests:,} | {r.rate:.0f} | {_ms(r.percentile(0.5))} | {_ms(r.percentile(0.95))} | "
            f"{_ms(r.percentile(0.99))} | {r.non_201} | {r.overbooked} | {r.machine.get('web_rss_max_mb', 0):.0f} MB | "
            + " | ".join(pg_cells)
            + " |"
        )
    for pg in pgbench[len(rounds) :]:
        lines.append(
            f"| - | - | - | - | - | - | - | - | - | {pg.clients} (the app's {pool} connections) | "
            + (f"{pg.tps:.0f} | {pg.latency_avg_ms:.2f} | {pg.p99_ms:.2f} |" if pg.tps else "failed | - | - |")
        )
    if pgbench:
        busy = ", ".join(
            f"{pg.machine_cores:.2f} at {pg.clients} clients (pgbench {pg.pgbench_cores:.2f})" for pg in pgbench
        )
        lines += [
            "",
            "pgbench ran after the HTTP levels, the bench shifts emptied before each run, with its client count "
            f"capped by the server's `max_connections` ({facts['max_connections']}) less the connections already open; "
            f"the application itself never holds more than {pool}. Cores busy meanwhile, pgbench itself included: "
            f"{busy}.",
        ]
    lines += [
        "",
        'Per level: CPU cores used (CPU seconds per wall second; "other processes" is everything else on the '
        "machine, mostly other test runs) and what the sign-ups did.",
        "",
        "| clients | gunicorn | PostgreSQL | client | other processes | whole machine | confirmed | waitlisted | "
        "largest worker RSS | client connections per worker | reconnects | invariants |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |",
    ]
    for r in rounds:
        m = r.machine
        checks = ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in r.invariants.items())
        others = max(0.0, m["machine_busy"] - m["web_cpu"] - m["pg_cpu"] - r.client_cpu)
        lines.append(
            f"| {r.clients} | {m['web_cpu'] / r.seconds:.2f} | {m['pg_cpu'] / r.seconds:.2f} | "
            f"{r.client_cpu / r.seconds:.2f} | {others / r.seconds:.2f} | {m['machine_busy'] / r.seconds:.2f} | "
            f"{r.confirmed:,} | {r.waitlisted:,} | {m['worker_rss_max_mb']:.0f} MB | {m['spread']} | {r.retries} | "
            f"{checks} |"
        )
    target_round = next((r for r in rounds if r.clients == TARGET_CLIENTS), None)
    if extra_configs:
        lines += [
            "",
            f"Other server settings tried in this run: 32 clients, the first {args.try_requests:,} requests of the "
            "same plan, the same warm-up.",
            "",
            "| gunicorn workers x threads | sign-ups/s | p50 ms | p95 ms | p99 ms | gunicorn cores | other processes "
            "cores | client connections per worker | web RSS max |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
        ]
        for label, r in extra_configs:
            m = r.machine
            others = max(0.0, m["machine_busy"] - m["web_cpu"] - m["pg_cpu"] - r.client_cpu)
            lines.append(
                f"| {label} | {r.rate:.0f} | {_ms(r.percentile(0.5))} | {_ms(r.percentile(0.95))} | "
                f"{_ms(r.percentile(0.99))} | {m['web_cpu'] / r.seconds:.2f} | {others / r.seconds:.2f} | "
                f"{m['spread']} | {m['web_rss_max_mb']:.0f} MB |"
            )
    if floor:
        lines += [
            "",
            "The stack's floor: the same gunicorn settings and clients, the same requests at "
            f"{TARGET_CLIENTS} clients, to two endpoints that do next to nothing (`bench/floor_urls.py`), beside "
            "the sign-up level.",
            "",
            "| endpoint | requests/s | p50 ms | p99 ms | gunicorn CPU ms per request | PostgreSQL CPU ms per request |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        compared = floor + ([("`POST /api/v1/shifts/{id}/signup/`", target_round)] if target_round else [])
        for label, r in compared:
            web_ms, db_ms = _per_request_ms(r)
            lines.append(
                f"| {label} | {r.rate:.0f} | {_ms(r.percentile(0.5))} | {_ms(r.percentile(0.99))} | "
                f"{web_ms:.2f} | {db_ms:.2f} |"
            )
    if profile:
        cpu = profile["python_cpu_ms"] + profile["postgres_cpu_ms"]
        lines += [
            "",
            f"Where one sign-up's time goes: {profile['count']} sequential sign-ups through the whole Django stack "
            "in one process (Django's test client instead of HTTP, no concurrency); each phase's own time, "
            "without its sub-phases:",
            "",
            "| phase | wall ms | CPU ms (Python) | SQL statements | ms waiting on SQL |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for row in profile["rows"]:
            lines.append(
                f"| {row['phase']} | {row['ms']:.2f} | {row['cpu_ms']:.2f} | {row['queries']:.1f} | {row['sql_ms']:.2f} |"
            )
        total = {key: sum(row[key] for row in profile["rows"]) for key in ("ms", "cpu_ms", "queries", "sql_ms")}
        lines += [
            f"| **total** | **{total['ms']:.2f}** | **{total['cpu_ms']:.2f}** | **{total['queries']:.1f}** | "
            f"**{total['sql_ms']:.2f}** |",
            "",
            f"CPU per sign-up: {profile['python_cpu_ms']:.2f} ms in the Django process and "
            f"{profile['postgres_cpu_ms']:.2f} ms in its PostgreSQL backend, {cpu:.2f} ms in all: "
            f"{facts['cpus']} cores can do at most about {1000 * facts['cpus'] / cpu:.0f} sign-ups/s before HTTP, "
            "gunicorn and the load generator take their share.",
        ]
    target = next((r for r in rounds if r.clients == TARGET_CLIENTS), None)
    lines += ["", verdict(target, pgbench)]
    lines += reading(target, rounds, pgbench, profile, facts["cpus"], pool, len(data.shift_ids), floor, extra_configs)
    lines += [END]
    return "\n".join(lines) + "\n"


def reading(
    target: Round | None,
    rounds: list[Round],
    pgbench: list[PgbenchResult],
    profile,
    cores: int,
    pool: int,
    shifts: int,
    floor: list[tuple[str, Round]],
    extra_configs: list[tuple[str, Round]],
):
    """What the figures say, and what would close the gap; every number comes from this run."""
    if target is None or not profile:
        return []
    python_ms, pg_ms = profile["python_cpu_ms"], profile["postgres_cpu_ms"]
    cpu = python_ms + pg_ms
    budget = 1000 * cores / TARGET_RATE
    statements = sum(row["queries"] for row in profile["rows"])
    web_ms, db_ms = _per_request_ms(target)
    m = target.machine
    others = max(0.0, m["machine_busy"] - m["web_cpu"] - m["pg_cpu"] - target.client_cpu) / target.seconds
    at_pool = next((pg for pg in pgbench if pg.requested == pool and pg.tps), None)
    lines = [
        "",
        "### Reading the figures",
        "",
        f"- **CPU is what bounds the rate.** {TARGET_RATE:.0f} sign-ups/s on {cores} cores leaves {budget:.1f} ms of CPU per "
        "sign-up for everything (gunicorn, Django, PostgreSQL, the load generator). Over HTTP at "
        f"{target.clients} clients a sign-up cost {web_ms:.1f} ms of CPU in gunicorn and {db_ms:.1f} ms in "
        f"PostgreSQL, {(web_ms + db_ms) / budget:.2f} of that budget; sequentially in one process it costs "
        f"{python_ms:.1f} ms of Python and {pg_ms:.1f} ms in PostgreSQL for {statements:.0f} statements, so "
        f"{cores} idle cores would top out near {1000 * cores / cpu:.0f}/s before HTTP. Other processes took "
        f"{others:.2f} of the {cores} cores during the {target.clients}-client level.",
    ]
    if len(floor) == 2:
        (_plain_label, plain), (_token_label, token) = floor
        token_web, token_db = _per_request_ms(token)
        plain_web, _ = _per_request_ms(plain)
        lines.append(
            "- **The stack's own floor.** Over the same gunicorn with the same clients, "
            f"an endpoint that only authenticates its token (DRF, one query) answered {token.rate:.0f} requests/s "
            f"at {token_web:.1f} ms of gunicorn CPU each, and Django alone, without the database, {plain.rate:.0f}/s "
            f"at {plain_web:.1f} ms. At {TARGET_RATE:.0f}/s a sign-up would have "
            f"{max(0.0, budget - token_web - token_db):.1f} ms left for all of its own work (the locks, the rules, "
            "the counters, the insert and the notification rows); it takes "
            f"{max(0.0, web_ms - token_web + db_ms - token_db):.1f} ms."
        )
    if at_pool:
        lines.append(
            f"- **The database is not the limit.** pgbench runs the locking core of the same transaction at "
            f"{at_pool.tps:.0f} TPS over the app's {pool} connections (p99 {at_pool.p99_ms:.0f} ms); the application "
            f"reaches {100 * target.rate / at_pool.tps:.0f}% of that, and its PostgreSQL backends used "
            f"{m['pg_cpu'] / target.seconds:.2f} of a core."
        )
    lines += [
        f"- **Latency is queueing, not locking.** {target.clients} closed-loop clients at {target.rate:.0f}/s wait "
        f"{target.clients / target.rate:.2f} s on average (Little's law) for a worker; with "
        f"{target.requests / shifts:.1f} sign-ups per bench shift per level, shift locks are rarely contended. "
        f"Client connections per gthread worker were {m['spread']}: each worker listens on a socket of its own "
        "and the kernel spreads new connections over them (SO_REUSEPORT), but a kept-alive connection stays on "
        "the worker that accepted it, so an uneven spread makes some workers queue while others idle"
        + (" (other settings, one shared socket among them, in the table above)." if extra_configs else "."),
        "",
        "Levers left, largest first, for a slower or busier machine:"
        if target_met(target)
        else "What would close the gap, largest first:",
        "",
        f"1. Run the web tier on more cores: it is stateless. At {web_ms:.1f} ms of gunicorn CPU per sign-up, "
        f"{TARGET_RATE:.0f}/s needs about {TARGET_RATE * web_ms / 1000:.1f} cores of web workers, with PostgreSQL at "
        f"{db_ms:.1f} ms per sign-up on {max(1.0, TARGET_RATE * db_ms / 1000):.1f} or more of its own.",
        f"2. The sign-up's own work is small now: on PostgreSQL its rules run as one statement "
        f"(`communities_self_sign_up`, which writes the notification rows too; {statements:.0f} statements in all "
        "with the token lookup and, the first time a process sees a shift, the read of its texts); of the "
        f"{python_ms:.1f} ms of Python per sign-up in process, most is Django, DRF and the "
        "notification texts, and over HTTP gunicorn adds its own (the floor rows above). Beyond this point the "
        "remaining levers are the web server and the framework, not the rules.",
    ]
    texts = next((row for row in profile["rows"] if row["key"] == "texts"), None)
    if texts and texts["queries"]:
        lines.append(
            f"3. Keep each shift's rendered notification texts with the shift when it is written: the read and "
            f"render the first time a process sees a shift took {texts['cpu_ms']:.2f} ms of Python and "
            f"{texts['sql_ms']:.2f} ms waiting on SQL per sign-up here, where every bench shift is new to the "
            "process that serves it. Shifts that fill up by the dozen already keep them."
        )
    return lines


def _per_request_ms(r: Round) -> tuple[float, float]:
    """CPU milliseconds per request in gunicorn and in PostgreSQL during a level."""
    return 1000 * r.machine["web_cpu"] / r.requests, 1000 * r.machine["pg_cpu"] / r.requests


def target_met(target: Round) -> bool:
    return (
        target.rate >= TARGET_RATE
        and target.percentile(0.99) < TARGET_P99_MS
        and target.non_201 == 0
        and target.overbooked == 0
    )


def verdict(target: Round | None, pgbench: list[PgbenchResult]) -> str:
    if target is None:
        return f"Target ({TARGET_RATE:.0f} sign-ups/s at {TARGET_CLIENTS} clients, p99 < {TARGET_P99_MS:.0f} ms): not measured in this run."
    p99 = target.percentile(0.99)
    met = target_met(target)
    pg = next((p for p in pgbench if p.clients == TARGET_CLIENTS and p.tps), None)
    ratio = (
        f" The application reaches {100 * target.rate / pg.tps:.0f}% of pgbench's rate for the transaction's "
        "locking core at the same client count."
        if pg
        else ""
    )
    return (
        f"**Target ({TARGET_RATE:.0f} sign-ups/s at {TARGET_CLIENTS} clients with p99 < {TARGET_P99_MS:.0f} ms): "
        f"{'met' if met else 'not met'}** - {target.rate:.0f} sign-ups/s, p99 {p99:.0f} ms.{ratio}"
    )


def docs_write(section: str) -> None:
    text = DOCS.read_text() if DOCS.exists() else DOCS_HEADER
    if START in text and END in text:
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1]
        text = before + section.rstrip("\n") + after
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOCS.write_text(text)


# --- Main -----------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="seed_demo --scale (default 1)")
    parser.add_argument("--clients", default="32,128", help="concurrency levels, comma-separated (default 32,128)")
    parser.add_argument("--requests", type=int, default=3000, help="sign-ups per level (default 3000)")
    parser.add_argument("--warmup", type=int, default=600, help="warm-up sign-ups before the levels (default 600)")
    parser.add_argument(
        "--workers", type=int, default=2, help="gunicorn workers (default 2, as gunicorn.conf.py on 2 cores)"
    )
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (default 4)")
    parser.add_argument(
        "--also-try",
        default="",
        help="more gunicorn settings to compare at 32 clients, e.g. 3x2,5x2,4x1 (workers x threads)",
    )
    parser.add_argument("--client-processes", type=int, default=2, help="client processes (default 2)")
    parser.add_argument("--profile-requests", type=int, default=300, help="in-process profile size (0: skip)")
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vmbench_signup"),
        help="the database to rebuild (default $DATABASE_URL or postgres://postgres@127.0.0.1:5432/vmbench_signup)",
    )
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--settings", default="config.settings.production")
    parser.add_argument("--keep-db", action="store_true", help="keep the database after the run (default: drop it)")
    parser.add_argument(
        "--reuse-db", action="store_true", help="use the database a --keep-db run left (no rebuild); implies --keep-db"
    )
    parser.add_argument("--try-requests", type=int, default=1000, help="sign-ups per --also-try setting (default 1000)")
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/performance.md alone")
    parser.add_argument(
        "--no-floor", action="store_true", help="skip the stack-floor rounds (bench/floor_urls.py endpoints)"
    )
    args = parser.parse_args()
    args.keep_db = args.keep_db or args.reuse_db
    args.queue = f"bench-signup-{secrets.token_hex(4)}"
    args.levels = [int(x) for x in args.clients.split(",") if x.strip()]
    args.extra = [_server_setting(item) for item in args.also_try.split(",") if item.strip()]
    return args


def _server_setting(text: str) -> tuple[int, int, bool, str, bool]:
    """``4x2`` (gthread, keep-alive clients), ``4x2:close`` (a new connection per request),
    ``4x2:shared`` (one listening socket for all workers instead of one each, SO_REUSEPORT), or
    ``6x1:sync`` (gunicorn's sync workers, which close every connection after its request)."""
    size, *modes = text.strip().lower().split(":")
    workers, threads = (int(n) for n in size.split("x"))
    worker_class = "sync" if "sync" in modes else "gthread"
    return workers, threads, "close" not in modes and worker_class == "gthread", worker_class, "shared" not in modes


def rerun_command(args) -> str:
    parts = [".venv/bin/python bench/signup_http.py"]
    if args.scale != 1:
        parts.append(f"--scale {args.scale:g}")
    if args.levels != [32, 128]:
        parts.append(f"--clients {args.clients}")
    if args.requests != 3000:
        parts.append(f"--requests {args.requests}")
    if (args.workers, args.threads) != (2, 4):
        parts.append(f"--workers {args.workers} --threads {args.threads}")
    if args.also_try:
        parts.append(f"--also-try {args.also_try}")
    return " ".join(parts) + "   # or: make bench-signup"


def queue_delete(redis_url: str, queue: str) -> int:
    """Delete this run's queue (the send tasks nobody took) and kombu's bindings for it."""
    import redis

    client = redis.Redis.from_url(redis_url)
    left = client.llen(queue)
    client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    return left


def main() -> int:
    args = parse_args()
    if urlparse(args.database_url).scheme not in ("postgres", "postgresql"):
        raise SystemExit("The sign-up benchmark needs PostgreSQL: DATABASE_URL=postgres://...")
    env = bench_env(args)
    run_step("translation catalogues", [PYTHON, "-m", "config.i18n"], env)
    if not args.reuse_db:
        print(f"== database {args.database_url}: drop and create", flush=True)
        database_recreate(args.database_url)
    server: Server | None = None
    workdir = Path(tempfile.mkdtemp(prefix="bench-signup-"))
    try:
        if not args.reuse_db:
            run_step("migrate", [PYTHON, "manage.py", "migrate", "--verbosity", "1"], env)
            run_step("seed_demo", [PYTHON, "manage.py", "seed_demo", "--scale", f"{args.scale:g}"], env)
        django_setup(env)
        from django.db import connections

        from communities.demo.builder import current_counts

        seeded = current_counts()
        data = bench_data_create()
        if args.reuse_db:  # the bench shifts of the earlier run are in the count already
            seeded["shifts"] -= len(data.shift_ids)
        counts = ", ".join(
            f"{v:,} {k}" for k, v in seeded.items() if k in ("volunteers", "communities", "shifts", "assignments")
        )
        facts = machine_facts()
        database = pg_params(args.database_url)["dbname"]
        warm_plan = plan_make(data, args.warmup, args.seed + 1)
        plan = plan_make(data, args.requests, args.seed)
        rounds: list[Round] = []
        extra_configs: list[tuple[str, Round]] = []

        configs = [(args.workers, args.threads, True, "gthread", True, True)] + [
            (w, t, k, c, r, False) for w, t, k, c, r in args.extra
        ]
        for workers, threads, keep_alive, worker_class, reuse_port, main_config in configs:
            connections.close_all()
            label = f"{workers} x {threads}" if worker_class == "gthread" else f"{workers} sync workers"
            label += "" if keep_alive or worker_class != "gthread" else ", a connection per request"
            label += "" if reuse_port else ", one shared socket"
            print(f"== gunicorn: {label} ({worker_class})", flush=True)
            log = workdir / f"gunicorn-{workers}x{threads}-{worker_class}{'' if reuse_port else '-shared'}.log"
            server = Server.start(env, workers, threads, log, worker_class, reuse_port)
            try:
                load_run(server, warm_plan, min(32, len(warm_plan)), args.client_processes)
                bench_reset(data.shift_ids)
                levels = args.levels if main_config else [TARGET_CLIENTS]
                level_plan = plan if main_config else plan[: args.try_requests]
                for clients in levels:
                    result = load_run(server, level_plan, clients, args.client_processes, database, keep_alive)
                    result.invariants = invariants_check()
                    result.rows = bench_rows(data.shift_ids)
                    round_print(result)
                    if main_config:
                        rounds.append(result)
                    else:
                        extra_configs.append((label, result))
                    bench_reset(data.shift_ids)
            finally:
                server.stop()
                server = None

        floor: list[tuple[str, Round]] = []
        if not args.no_floor:
            connections.close_all()
            floor_env = {**env, "DJANGO_SETTINGS_MODULE": "bench.floor_settings"}
            print(f"== stack floor: gunicorn {args.workers} x {args.threads} with bench/floor_urls.py", flush=True)
            server = Server.start(floor_env, args.workers, args.threads, workdir / "gunicorn-floor.log")
            try:
                for label, path in FLOOR_ENDPOINTS:
                    load_run(server, warm_plan, min(32, len(warm_plan)), args.client_processes, path=path)
                    result = load_run(server, plan, TARGET_CLIENTS, args.client_processes, database, path=path)
                    web_ms, db_ms = _per_request_ms(result)
                    print(
                        f"   {label}: {result.rate:.0f}/s, p50 {result.percentile(0.5):.1f} ms, p99 "
                        f"{result.percentile(0.99):.1f} ms, non-201 {result.non_201}; CPU per request: gunicorn "
                        f"{web_ms:.2f} ms, PostgreSQL {db_ms:.2f} ms",
                        flush=True,
                    )
                    floor.append((label, result))
            finally:
                server.stop()
                server = None

        profile = None
        if args.profile_requests:
            profile = profile_run(data, args.profile_requests, args.seed + 2)
            profile_print(profile)
            bench_reset(data.shift_ids)

        pgbench: list[PgbenchResult] = []
        executable = pgbench_path()
        if executable is None:
            print("== pgbench not found (install postgresql-client); skipped", flush=True)
        else:
            connections.close_all()
            max_connections, in_use = pg_connection_room()
            room = max_connections - in_use - 5
            pool = args.workers * args.threads
            print(f"== pgbench ({executable}); room for {room} more connections", flush=True)
            for requested in [*args.levels, pool]:
                clients = min(requested, room)
                result = pgbench_run(executable, args.database_url, data, clients, requested)
                pgbench_print(result)
                checks = invariants_check()
                print(f"        overbooked: {checks['overbooked']}; {checks}", flush=True)
                pgbench.append(result)
                bench_reset(data.shift_ids)

        print("== invariants after every level: overbooked: " + str(sum(r.overbooked for r in rounds)), flush=True)
        section = report_markdown(
            args=args,
            facts=facts,
            counts=counts,
            data=data,
            rounds=rounds,
            pgbench=pgbench,
            profile=profile,
            pool=args.workers * args.threads,
            command=rerun_command(args),
            when=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            extra_configs=extra_configs,
            floor=floor,
        )
        print(section)
        if not args.no_docs:
            docs_write(section)
            print(f"== written to {DOCS.relative_to(ROOT)}", flush=True)
        return 0
    finally:
        if server is not None:
            server.stop()
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        with contextlib.suppress(Exception):
            print(f"== deleted {queue_delete(args.redis_url, args.queue):,} queued send tasks", flush=True)
        if not args.keep_db:
            database_drop(args.database_url)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
