"""Benchmark: latency, query count and memory of the main read endpoints at a given demo scale.

    .venv/bin/python bench/endpoints.py [--scale 30] [--requests 100] [--reuse-db] [--database-url URL]

1. Rebuilds the PostgreSQL database at ``--database-url`` (default ``vmbench_city`` on
   127.0.0.1): drop, create, ``migrate``, ``seed_demo --scale K`` (timed). The seed runs with the
   production settings and throwaway secrets that are kept in ``var/bench/endpoints-<db>.json``,
   so ``--reuse-db`` and the web and worker processes below read the encrypted data with the
   same keys.
2. In process (Django test client, ``force_login``), calls every main read endpoint as the role
   that uses it, ``--requests`` times each after a warm-up, and records p50/p95/p99 and the SQL
   query count of one request (``CaptureQueriesContext``); exports a few times. Then records the
   RSS of this process.
3. Starts gunicorn (``config/deploy/gunicorn.conf.py``, production settings), sends the heavy
   endpoints over HTTP (exports included) and samples every worker's RSS.
4. Starts one Celery worker on a queue of its own, sends it ``tallies_recount_all_task`` and
   ``notifications_sweep`` by name, waits for them and samples the worker's RSS (parent and pool).
5. Writes its part, ``<!-- bench:endpoints-sK start -->`` ... ``end -->`` (K the scale), inside
   the ``bench:endpoints`` section of docs/performance.md, so the demo-scale and the city-scale
   runs each keep their own figures; the rest of the file is kept.

The target (issue): the web and the worker processes stay under 300 MB RSS each at city scale.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent
DOCS = ROOT / "docs" / "performance.md"
STATE_DIR = ROOT / "var" / "bench"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/vmbench_city"
RSS_LIMIT_MB = 300
WORKER_BOOT = "import sys; from config.celery import app; app.worker_main(sys.argv[1:])"
HEAVY_TASKS = ("communities.services.tallies.tallies_recount_all_task", "communities.tasks.notifications_sweep")


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


def markers(scale: float) -> tuple[str, str]:
    name = f"endpoints-s{scale:g}"
    return f"<!-- bench:{name} start -->", f"<!-- bench:{name} end -->"


# --- Environment and database ---------------------------------------------------------------


def pg_params(url: str) -> dict:
    parsed = urlparse(url)
    return {
        "host": parsed.hostname or "127.0.0.1",
        "port": parsed.port or 5432,
        "user": parsed.username or "postgres",
        "dbname": parsed.path.lstrip("/"),
    }


def database_recreate(url: str, *, create: bool = True) -> None:
    import psycopg
    from psycopg import sql

    params = pg_params(url)
    name = params.pop("dbname")
    with psycopg.connect(**params, dbname="postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if create:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def state_path(url: str) -> Path:
    return STATE_DIR / f"endpoints-{pg_params(url)['dbname']}.json"


def state_new(url: str, scale: float) -> dict:
    """Throwaway secrets for one seeded database; the seed encrypts ID numbers with them."""
    from cryptography.fernet import Fernet

    return {
        "database_url": url,
        "scale": scale,
        "secret_key": secrets.token_urlsafe(50),
        "id_number_keys": Fernet.generate_key().decode(),
        "id_number_hash_key": secrets.token_urlsafe(32),
    }


def state_save(state: dict) -> None:
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    path = state_path(state["database_url"])
    path.write_text(json.dumps(state, indent=2))
    path.chmod(0o600)


def bench_env(state: dict, args, settings: str = "config.settings.production") -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE=settings,
        DATABASE_URL=state["database_url"],
        REDIS_URL=args.redis_url,
        SECRET_KEY=state["secret_key"],
        ID_NUMBER_KEYS=state["id_number_keys"],
        ID_NUMBER_HASH_KEY=state["id_number_hash_key"],
        ALLOWED_HOSTS="127.0.0.1",
        NUM_PROXIES="1",  # as production requires; with no X-Forwarded-For the peer address counts
        SECURE_SSL_REDIRECT="false",
        DEBUG="false",
        NOTIFY_QUEUE=args.queue,
        # Messages go to a scratch file, never to a real gateway.
        NOTIFY_SMS_BACKEND="config.sms.backends.FileSmsBackend",
        NOTIFY_SMS_FILE=str(STATE_DIR / f"endpoints-{args.queue}-sms.jsonl"),
        LOG_LEVEL="WARNING",
    )
    return env


def run_step(title: str, command: list[str], env: dict) -> float:
    log(f"{title}: {' '.join(command)}")
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    seconds = time.perf_counter() - started
    log(f"{title} done ({seconds:.1f}s)")
    return seconds


def django_setup(env: dict) -> None:
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client's host


def machine_facts() -> dict:
    import psutil
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    model = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "ram_gb": psutil.virtual_memory().total / 2**30,
        "cpu_model": model,
        "postgres": version,
        "python": platform.python_version(),
    }


# --- In-process latency and query counts ----------------------------------------------------


@dataclass
class Case:
    role: str
    username: str
    url: str
    requests: int
    note: str = ""


@dataclass
class Result:
    case: Case
    status: int
    timings: list[float] = field(default_factory=list)
    queries: int = 0
    size: int = 0
    rows: str = ""

    def pct(self, q: float) -> float:
        ordered = sorted(self.timings)
        return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]

    @property
    def p50(self) -> float:
        return statistics.median(self.timings)


def subjects() -> dict:
    """The demo logins, and a shift and a community the coordinator manages (with people on it)."""
    from django.contrib.auth import get_user_model
    from django.db.models import Count, Q
    from django.utils import timezone

    from communities.demo import DEMO_LOGINS
    from communities.models import Assignment, Shift
    from communities.selectors import shifts as shift_selectors

    users = {name: get_user_model().objects.get(username=name) for _role, name, *_rest in DEMO_LOGINS}
    coordinator = users["coordinator"]
    managed = shift_selectors.communities_managed_by(coordinator).values("id")
    now = timezone.now()
    upcoming = (
        Shift.objects.filter(community_id__in=managed, starts_at__gt=now)
        .annotate(live=Count("assignments", filter=~Q(assignments__status=Assignment.Status.CANCELLED)))
        .order_by("-live", "starts_at")
    )
    shift = upcoming.first() or Shift.objects.filter(community_id__in=managed).order_by("-starts_at").first()
    today_shift = (
        Shift.objects.filter(community_id__in=managed, starts_at__date=timezone.localdate())
        .annotate(live=Count("assignments"))
        .order_by("-live")
        .first()
    )
    community_id = (today_shift or shift).community_id
    return {"users": users, "shift": shift, "community_id": community_id}


def cases(data: dict, requests: int, exports: int) -> list[Case]:
    shift, community = data["shift"], data["community_id"]
    volunteer, coordinator, committee, superuser = "13800000001", "coordinator", "tuanwei", "admin"
    leader = "13800000002"
    many = requests
    return [
        Case("volunteer", volunteer, "/api/v1/shifts/", many),
        Case("volunteer", volunteer, "/api/v1/shifts/?eligible=true&has_space=true", many),
        Case("volunteer", volunteer, "/api/v1/assignments/", many),
        Case("volunteer", volunteer, "/api/v1/me/", many),
        Case("volunteer", volunteer, "/api/v1/notifications/", many),
        Case("volunteer", volunteer, "/api/v1/communities/", many),
        Case("coordinator", coordinator, f"/api/v1/shifts/{shift.pk}/candidates/", many),
        Case("coordinator", coordinator, f"/api/v1/communities/{community}/roster/", many),
        Case("coordinator", coordinator, "/api/v1/attendance/", many),
        Case("team leader", leader, "/team/", many, "page"),
        Case("committee staff", committee, "/api/v1/stats/overview/", many),
        Case("committee staff", committee, "/api/v1/stats/organizations/", many),
        Case("superuser", superuser, "/api/v1/stats/overview/", many),
        Case("superuser", superuser, "/api/v1/stats/organizations/", many),
        Case("committee staff", committee, "/api/v1/reports/daily/", many),
        Case("committee staff", committee, "/api/v1/stats/organizations/?export=xlsx", exports, "export"),
        Case("committee staff", committee, "/api/v1/stats/communities/?export=xlsx", exports, "export"),
        Case("volunteer", volunteer, "/shifts/", many, "page"),
        Case("coordinator", coordinator, "/coordinator/", many, "page"),
        Case("committee staff", committee, "/committee/", many, "page"),
    ]


def row_count(response) -> str:
    if response.get("Content-Type", "").startswith("application/json"):
        with contextlib.suppress(ValueError):
            body = json.loads(response.content)
            if isinstance(body, dict) and "results" in body:
                total = body.get("count")
                return f"{len(body['results'])} of {total:,}" if total is not None else str(len(body["results"]))
            if isinstance(body, list):
                return str(len(body))
    return ""


def content(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def measure(case: Case, user, warmup: int) -> Result:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    client.force_login(user)
    first = client.get(case.url)
    result = Result(case, first.status_code, size=len(content(first)), rows=row_count(first))
    if first.status_code != 200:
        log(f"  {case.url} as {case.username}: HTTP {first.status_code} {content(first)[:200]!r}")
        return result
    if case.note == "export":  # slow by nature: the first request counts the queries, no more warm-up
        with CaptureQueriesContext(connection) as captured:
            content(client.get(case.url))
    else:
        for _ in range(min(warmup, case.requests)):
            content(client.get(case.url))
        with CaptureQueriesContext(connection) as captured:
            content(client.get(case.url))
    result.queries = len(captured)
    for _ in range(case.requests):
        started = time.perf_counter()
        response = client.get(case.url)
        content(response)
        result.timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise RuntimeError(f"{case.url} as {case.username}: HTTP {response.status_code}")
    return result


# --- Real processes: gunicorn and a Celery worker --------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RssSampler:
    """The largest RSS seen of each process in a tree (root and children), every 0.2 s."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak: dict[int, float] = {}
        self.names: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> None:
        import psutil

        with contextlib.suppress(psutil.Error):
            root = psutil.Process(self.pid)
            for index, process in enumerate([root, *root.children(recursive=True)]):
                with contextlib.suppress(psutil.Error):
                    rss = process.memory_info().rss / 2**20
                    self.peak[process.pid] = max(self.peak.get(process.pid, 0.0), rss)
                    self.names.setdefault(process.pid, "parent" if index == 0 else "child")

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(0.2)

    def max_of(self, kind: str) -> float:
        values = [rss for pid, rss in self.peak.items() if self.names[pid] == kind]
        return max(values, default=0.0)


def process_start(command: list[str], env: dict, logfile: Path) -> subprocess.Popen:
    with logfile.open("wb") as out:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def process_stop(process: subprocess.Popen | None, timeout: float = 40) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def http_get(port: int, url: str, headers: dict) -> tuple[int | str, int, float]:
    """Status (or the error, e.g. a worker killed on timeout), body size and milliseconds."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        conn.request("GET", url, headers=headers)
        response = conn.getresponse()
        size = len(response.read())
        return response.status, size, (time.perf_counter() - started) * 1000
    except (OSError, http.client.HTTPException) as error:
        return type(error).__name__, 0, (time.perf_counter() - started) * 1000
    finally:
        conn.close()


def web_memory(env: dict, workdir: Path, targets: list[tuple[str, str, int]], sessions: dict) -> dict:
    """gunicorn with the production settings; the heavy endpoints over HTTP; every worker's RSS."""
    port = free_port()
    server_env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}
    logfile = workdir / "gunicorn.log"
    command = [str(BIN / "gunicorn"), "-c", "config/deploy/gunicorn.conf.py", "config.wsgi"]
    server = process_start(command, server_env, logfile)
    rows = []
    try:
        deadline = time.monotonic() + 90
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({server.returncode}); see {logfile}")
            with contextlib.suppress(OSError):
                if http_get(port, "/health/", {})[0] == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer /health/; see {logfile}")
            time.sleep(0.3)
        with RssSampler(server.pid) as sampler:
            sampler.sample()
            idle = sampler.max_of("child")
            for username, url, count in targets:
                headers = {"Cookie": f"sessionid={sessions[username]}", "Host": "127.0.0.1"}
                timings, statuses, size = [], set(), 0
                for _ in range(count):
                    status, size, ms = http_get(port, url, headers)
                    statuses.add(str(status))
                    timings.append(ms)
                rows.append((username, url, count, sorted(statuses), statistics.median(timings), max(timings), size))
                log(f"  HTTP {url} as {username}: x{count}, status {sorted(statuses)}, p50 {rows[-1][4]:.0f} ms")
            sampler.sample()
        workers = sorted(pid for pid, kind in sampler.names.items() if kind == "child")
        return {
            "workers": len(workers),
            "idle_mb": idle,
            "per_worker_mb": [round(sampler.peak[pid]) for pid in workers],
            "max_mb": sampler.max_of("child"),
            "master_mb": sampler.max_of("parent"),
            "rows": rows,
        }
    finally:
        process_stop(server)


def worker_memory(env: dict, args, workdir: Path) -> dict:
    """One Celery worker on this run's queue; the heaviest periodic tasks sent by name."""
    from celery import Celery

    logfile = workdir / "celery.log"
    command = [PYTHON, "-c", WORKER_BOOT, "worker", "-c", "1", "-Q", args.queue, "-l", "INFO", "--without-mingle"]
    command += ["--without-gossip", "--without-heartbeat", "-n", f"bench-{args.queue}@%h"]
    worker = process_start(command, env, logfile)
    sender = Celery(broker=args.redis_url)
    results = []
    try:
        deadline = time.monotonic() + 90
        while "ready." not in logfile.read_text(errors="replace"):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the Celery worker did not start; see {logfile}")
            time.sleep(0.3)
        with RssSampler(worker.pid) as sampler:
            for name in HEAVY_TASKS:
                task_id = sender.send_task(name, queue=args.queue).id
                started = time.perf_counter()
                log(f"  sent {name} ({task_id})")
                deadline = time.monotonic() + args.task_timeout
                outcome = None
                while outcome is None:
                    text = logfile.read_text(errors="replace")
                    for line in text.splitlines():
                        if task_id in line and (" succeeded in " in line or " raised " in line or "Hard time" in line):
                            outcome = "succeeded" if " succeeded in " in line else "failed"
                    if time.monotonic() > deadline:
                        outcome = f"not finished after {args.task_timeout:.0f}s"
                    if worker.poll() is not None:
                        outcome = "worker exited"
                    time.sleep(0.5)
                results.append((name, outcome, time.perf_counter() - started))
                log(f"  {name}: {outcome} in {results[-1][2]:.1f}s")
        return {
            "tasks": results,
            "parent_mb": sampler.max_of("parent"),
            "child_mb": sampler.max_of("child"),
        }
    finally:
        process_stop(worker, timeout=60)
        sender.close()
        queue_delete(args.redis_url, args.queue)


def queue_delete(redis_url: str, queue: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    client.close()


def session_keys(usernames: list[str]) -> dict[str, str]:
    """A logged-in session per user, for the HTTP requests to gunicorn."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    keys = {}
    for name in usernames:
        client = Client()
        client.force_login(get_user_model().objects.get(username=name))
        keys[name] = client.cookies["sessionid"].value
    return keys


# --- Report ---------------------------------------------------------------------------------


def report(args, facts, state, counts, results, skipped, own_rss, web, worker, loads, when) -> str:
    start, end = markers(args.scale)
    title = "city scale" if args.scale >= 10 else "demo scale"
    seed = state.get("seed_seconds")
    lines = [
        start,
        f"### Read endpoints at {title}: `seed_demo --scale {args.scale:g}` (`bench/endpoints.py`)",
        "",
        f"Measured {when:%Y-%m-%d %H:%M} UTC on {facts['cpus']} CPU cores ({facts['cpu_model']}), "
        f"{facts['ram_gb']:.0f} GB RAM, PostgreSQL {facts['postgres']}, Python {facts['python']}. "
        f"Load average (1 min) {loads[0]:.2f} before and {loads[1]:.2f} after: the cores are shared with other "
        "engineers' work, so compare rows of this run with each other.",
        "",
        f"Rerun: `.venv/bin/python bench/endpoints.py --scale {args.scale:g} --database-url "
        f"postgres://postgres@127.0.0.1:5432/{pg_params(state['database_url'])['dbname']}` "
        "(drops and rebuilds that database; `--reuse-db` keeps it).",
        "",
        "Data: "
        + ", ".join(f"{v:,} {k}" for k, v in counts.items())
        + ". "
        + (
            f"Seed: `migrate` {state['migrate_seconds']:.0f} s, `seed_demo --scale {args.scale:g}` "
            f"**{seed:.0f} s** (on {state['seeded_at']})."
            if seed
            else ""
        ),
        "",
        f"In process (Django test client, `force_login`, the whole request: middleware, auth, queries, "
        f"rendering), one request at a time, {args.requests} timed requests per row after {args.warmup} "
        f"warm-up requests (exports: {args.exports} after one uncounted request); queries counted on one "
        "request with `CaptureQueriesContext` (session and user lookups included). A failing row shows its "
        "HTTP status.",
        "",
        "| role | endpoint | p50 ms | p95 ms | p99 ms | queries | response |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        c = r.case
        if r.status != 200 or not r.timings:
            lines.append(f"| {c.role} | `{c.url}` | - | - | - | - | HTTP {r.status} |")
            continue
        size = f"{r.size / 1024:,.0f} KB" + (f", {r.rows} rows" if r.rows else "")
        lines.append(
            f"| {c.role} | `{c.url}` | {r.p50:.1f} | {r.pct(95):.1f} | {r.pct(99):.1f} | {r.queries} | {size} |"
        )
    for c in skipped:
        lines.append(f"| {c.role} | `{c.url}` | - | - | - | - | not measured (`--skip`) |")
    lines += [
        "",
        f"Memory (RSS, limit {RSS_LIMIT_MB} MB per process):",
        "",
        "| process | what ran | RSS max | under 300 MB |",
        "| --- | --- | ---: | --- |",
        f"| this benchmark process (in-process Django) | every row above | {own_rss:.0f} MB | "
        f"{'yes' if own_rss < RSS_LIMIT_MB else '**no**'} |",
    ]
    if web:
        what = "; ".join(
            f"`{url}` x{count} ({size / 1024:,.0f} KB)" for _u, url, count, _s, _p, _m, size in web["rows"]
        )
        lines.append(
            f"| gunicorn worker ({web['workers']} workers, production settings; idle {web['idle_mb']:.0f} MB; "
            f"each: {', '.join(str(m) for m in web['per_worker_mb'])} MB) | {what} | {web['max_mb']:.0f} MB | "
            f"{'yes' if web['max_mb'] < RSS_LIMIT_MB else '**no**'} |"
        )
        lines.append(
            f"| gunicorn master | - | {web['master_mb']:.0f} MB | {'yes' if web['master_mb'] < RSS_LIMIT_MB else '**no**'} |"
        )
    if worker:
        what = "; ".join(
            f"`{name.rsplit('.', 1)[1]}` {outcome} in {sec:.0f} s" for name, outcome, sec in worker["tasks"]
        )
        for kind, value in (("parent", worker["parent_mb"]), ("pool child (-c 1)", worker["child_mb"])):
            lines.append(
                f"| Celery worker {kind} | {what} | {value:.0f} MB | {'yes' if value < RSS_LIMIT_MB else '**no**'} |"
            )
    if web:
        lines += ["", "HTTP requests to gunicorn (sequential, a new connection each, session cookie):", ""]
        lines += [
            "| user | endpoint | requests | status | p50 ms | max ms |",
            "| --- | --- | ---: | --- | ---: | ---: |",
        ]
        for user, url, count, statuses, p50, top, _size in web["rows"]:
            lines.append(f"| {user} | `{url}` | {count} | {', '.join(statuses)} | {p50:.0f} | {top:.0f} |")
    lines.append(end)
    return "\n".join(lines) + "\n"


SUBSECTION = re.compile(r"<!-- bench:endpoints-s([0-9.]+) start -->.*?<!-- bench:endpoints-s\1 end -->", re.S)
OUTER_START, OUTER_END = "<!-- bench:endpoints start -->", "<!-- bench:endpoints end -->"
OUTER_HEADING = (
    "## Read endpoints (`bench/endpoints.py`)\n\n"
    "Latency and query count of the main read endpoints as the role that uses each, and the RSS of the "
    "web and worker processes, at demo scale and at city scale; each scale's run rewrites its own part.\n"
)


def docs_write(section: str, start: str, end: str) -> None:
    """Replace this scale's part inside the ``bench:endpoints`` section; the rest of the file is kept."""
    text = DOCS.read_text() if DOCS.exists() else "# Performance\n"
    if OUTER_START not in text or OUTER_END not in text:
        text = text.rstrip("\n") + f"\n\n{OUTER_START}\n{OUTER_HEADING}{OUTER_END}\n"
    before, rest = text.split(OUTER_START, 1)
    inner, after = rest.split(OUTER_END, 1)
    parts = {float(m.group(1)): m.group(0) for m in SUBSECTION.finditer(inner)}
    parts[float(SUBSECTION.match(section).group(1))] = section.rstrip("\n")
    head = SUBSECTION.sub("", inner).strip("\n")
    body = "\n\n".join([head, *(parts[scale] for scale in sorted(parts))])  # demo scale first
    DOCS.write_text(f"{before}{OUTER_START}\n{body}\n{OUTER_END}{after}")


# --- Main -----------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=30.0, help="seed_demo --scale (default 30)")
    parser.add_argument("--database-url", default=DEFAULT_URL, help=f"PostgreSQL database (default {DEFAULT_URL})")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--reuse-db", action="store_true", help="use the database an earlier run seeded")
    parser.add_argument("--drop-db", action="store_true", help="drop the database at the end")
    parser.add_argument("--seed-only", action="store_true", help="rebuild and seed the database, then stop")
    parser.add_argument("--requests", type=int, default=100, help="timed requests per endpoint (default 100)")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up requests per endpoint (default 5)")
    parser.add_argument("--exports", type=int, default=2, help="timed requests per export (default 2)")
    parser.add_argument("--http-requests", type=int, default=24, help="HTTP requests per heavy endpoint (default 24)")
    parser.add_argument("--http-exports", type=int, default=3, help="HTTP requests per export (default 3)")
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated URL fragments of endpoints to leave out (listed as not measured in the report)",
    )
    parser.add_argument("--skip-processes", action="store_true", help="skip the gunicorn and Celery memory runs")
    parser.add_argument("--task-timeout", type=float, default=900, help="seconds each Celery task may take")
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/performance.md alone")
    args = parser.parse_args()
    if urlparse(args.database_url).scheme not in ("postgres", "postgresql"):
        parser.error("the endpoints benchmark runs on PostgreSQL")
    args.queue = f"bench-endpoints-{uuid.uuid4().hex[:8]}"
    return args


def seed(args) -> dict:
    state = state_new(args.database_url, args.scale)
    env = bench_env(state, args)
    log(f"database {args.database_url}: drop and create")
    database_recreate(args.database_url)
    state["migrate_seconds"] = run_step("migrate", [PYTHON, "manage.py", "migrate", "--verbosity", "0"], env)
    state_save(state)
    command = [PYTHON, "manage.py", "seed_demo", "--scale", f"{args.scale:g}"]
    state["seed_seconds"] = run_step("seed_demo", command, env)
    state["seeded_at"] = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    state_save(state)
    return state


def main() -> int:
    args = parse_args()
    load_before = os.getloadavg()[0]
    if args.reuse_db:
        path = state_path(args.database_url)
        if not path.exists():
            raise SystemExit(f"--reuse-db: no {path.relative_to(ROOT)}; run once without --reuse-db")
        state = json.loads(path.read_text())
        if state["scale"] != args.scale:
            raise SystemExit(f"--reuse-db: the database was seeded at scale {state['scale']:g}, not {args.scale:g}")
    else:
        state = seed(args)
    if args.seed_only:
        return 0
    env = bench_env(state, args)
    workdir = Path(tempfile.mkdtemp(prefix="bench-endpoints-"))
    try:
        django_setup(bench_env(state, args, settings="config.settings.local"))
        import psutil
        from django.db import connection, connections

        from communities.demo.builder import current_counts

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # as autovacuum would have done in service
        counts = {
            k: v
            for k, v in current_counts().items()
            if k in ("volunteers", "communities", "shifts", "assignments", "organizations")
        }
        log(", ".join(f"{v:,} {k}" for k, v in counts.items()))
        facts = machine_facts()
        data = subjects()
        results = []
        skip = [fragment for fragment in args.skip.split(",") if fragment]
        skipped = [c for c in cases(data, args.requests, args.exports) if any(f in c.url for f in skip)]
        for case in cases(data, args.requests, args.exports):
            if case in skipped:
                log(f"{case.role}: {case.url} skipped (--skip)")
                continue
            log(f"{case.role}: {case.url} x{case.requests}")
            result = measure(case, data["users"][case.username], args.warmup)
            results.append(result)
            if result.timings:
                log(
                    f"  p50 {result.p50:.1f} ms, p95 {result.pct(95):.1f}, p99 {result.pct(99):.1f}, "
                    f"{result.queries} queries, {result.size / 1024:,.0f} KB {result.rows}"
                )
        own_rss = psutil.Process().memory_info().rss / 2**20
        log(f"this process: {own_rss:.0f} MB RSS")

        web = worker = None
        if not args.skip_processes:
            sessions = session_keys(["tuanwei", "admin", "coordinator", "13800000001"])
            connections.close_all()
            heavy = [
                target
                for target in [
                    ("tuanwei", "/api/v1/stats/overview/", args.http_requests),
                    ("admin", "/api/v1/stats/organizations/", args.http_requests),
                    ("tuanwei", "/api/v1/stats/organizations/?export=xlsx", args.http_exports),
                    ("tuanwei", "/api/v1/stats/communities/?export=xlsx", args.http_exports),
                    ("coordinator", f"/api/v1/shifts/{data['shift'].pk}/candidates/", args.http_requests),
                    ("coordinator", "/api/v1/attendance/", args.http_requests),
                    ("13800000001", "/api/v1/shifts/?eligible=true&has_space=true", args.http_requests),
                    ("tuanwei", "/committee/", args.http_requests),
                ]
                if not any(f in target[1] for f in skip)
            ]
            log("gunicorn: heavy endpoints over HTTP")
            web = web_memory(env, workdir, heavy, sessions)
            log(f"  gunicorn workers RSS max {web['max_mb']:.0f} MB ({web['per_worker_mb']})")
            log("Celery worker: the heaviest tasks")
            worker = worker_memory(env, args, workdir)
            log(f"  worker RSS max: parent {worker['parent_mb']:.0f} MB, pool child {worker['child_mb']:.0f} MB")

        section = report(
            args,
            facts,
            state,
            counts,
            results,
            skipped,
            own_rss,
            web,
            worker,
            (load_before, os.getloadavg()[0]),
            datetime.now(UTC),
        )
        print()
        print(section)
        if not args.no_docs:
            docs_write(section, *markers(args.scale))
            log(f"wrote {DOCS.relative_to(ROOT)}")
        return 0
    finally:
        with contextlib.suppress(Exception):
            queue_delete(args.redis_url, args.queue)
        if args.drop_db:
            with contextlib.suppress(Exception):
                from django.db import connections

                connections.close_all()
            database_recreate(args.database_url, create=False)
            state_path(args.database_url).unlink(missing_ok=True)
            log(f"dropped {pg_params(args.database_url)['dbname']}")


if __name__ == "__main__":
    sys.exit(main())
