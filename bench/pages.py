"""Benchmark: the pages a volunteer or coordinator opens during a shift, next to their API twins.

    .venv/bin/python bench/pages.py [--requests 300] [--rounds 2] [--reuse-db] [--database-url URL]
    make bench-pages

Each page is loaded over HTTP next to the API call that reads the same rows, in ONE run on the
same gunicorn, so their ratio holds even on a shared, noisy machine:

1. Rebuilds the PostgreSQL database at ``--database-url`` (default ``vmbench_pages``) with
   ``seed_demo --scale 1`` (through bench/endpoints.py, whose throwaway secrets are kept in
   ``var/bench/`` for ``--reuse-db``), then adds the sign-up bench shifts of bench/signup_http.py.
2. Starts gunicorn (``config/deploy/gunicorn.conf.py``, production settings, 2 workers x 4
   threads) and, per pair, loads the page (a session cookie, as the browser sends) and its API
   twin (a token, as the app sends) from 8 closed-loop clients on keep-alive connections in 2
   client processes. Each pair is loaded ``--rounds`` times, page and API in turn (the order
   swapped every round), after a warm-up of every URL.
3. CPU per request = CPU time of the gunicorn processes (psutil, user + system) during the
   pair's load / requests; PostgreSQL's CPU is shown apart. Throughput and p50/p99 latency are
   the clients'.
4. The sign-up: ``POST /shifts/{id}/sign-up/`` (a form with its CSRF token, answered by a
   redirect) against ``POST /api/v1/shifts/{id}/signup/`` (201), each on its own half of one
   plan in which no volunteer takes two shifts on one day; the bench shifts are emptied after each.
5. Writes the table between ``<!-- bench:pages start -->`` and ``<!-- bench:pages end -->`` in
   docs/performance.md.

Target (issue 22): every page within 1.5x the API's CPU per request, the HTML sign-up within 1.3x.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing
import os
import random
import resource
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import endpoints  # noqa: E402  (bench/endpoints.py: the seed and its secrets)
import signup_http  # noqa: E402  (bench/signup_http.py: gunicorn, the CPU sampler, the sign-up data)

ROOT = BENCH.parent
DOCS = ROOT / "docs" / "performance.md"
START, END = "<!-- bench:pages start -->", "<!-- bench:pages end -->"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/vmbench_pages"
PAGE_TARGET, SIGNUP_TARGET = 1.5, 1.3
VOLUNTEER, COORDINATOR = "13800000001", "coordinator"


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


# --- What is measured -----------------------------------------------------------------------


@dataclass
class Pair:
    name: str
    who: str  # username
    page: str
    api: str
    target: float = PAGE_TARGET


def pairs_make() -> list[Pair]:
    """The pages of a shift day and the API call reading the same rows, for the demo's users."""
    from django.contrib.auth import get_user_model
    from django.db.models import Count, Q
    from django.utils import timezone

    from communities.models import Assignment, Shift
    from communities.selectors import shifts as shift_selectors

    users = get_user_model().objects
    volunteer = users.get(username=VOLUNTEER).volunteer
    first = shift_selectors.shift_list(volunteer=volunteer).filter(starts_at__gt=timezone.now()).first()
    detail = first or Shift.objects.order_by("-starts_at").first()
    # The coordinator's busiest community today, and a shift of it with people on it.
    managed = shift_selectors.communities_managed_by(users.get(username=COORDINATOR)).values("id")
    today = (
        Shift.objects.filter(community_id__in=managed, starts_at__date=timezone.localdate())
        .annotate(live=Count("assignments", filter=~Q(assignments__status=Assignment.Status.CANCELLED)))
        .order_by("-live", "starts_at")
    )
    code_shift = today.first() or Shift.objects.filter(community_id__in=managed).order_by("-starts_at").first()
    community = code_shift.community_id
    return [
        Pair("home (volunteer)", VOLUNTEER, "/", "/api/v1/assignments/"),
        Pair("shift list", VOLUNTEER, "/shifts/", "/api/v1/shifts/"),
        Pair("shift detail", VOLUNTEER, f"/shifts/{detail.pk}/", f"/api/v1/shifts/{detail.pk}/"),
        Pair("my shifts", VOLUNTEER, "/my/shifts/", "/api/v1/assignments/"),
        Pair("check-in", VOLUNTEER, "/check-in/", "/api/v1/assignments/?status=confirmed"),
        Pair(
            "coordinator roster",
            COORDINATOR,
            f"/coordinator/communities/{community}/roster/",
            f"/api/v1/communities/{community}/roster/",
        ),
        Pair(
            "check-in code",
            COORDINATOR,
            f"/coordinator/shifts/{code_shift.pk}/code/",
            f"/api/v1/shifts/{code_shift.pk}/checkin-code/",
        ),
    ]


def session_for(user) -> str:
    """A logged-in session of ``user``, as the log-in page leaves it."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def token_for(user) -> str:
    from rest_framework.authtoken.models import Token

    return Token.objects.get_or_create(user=user)[0].key


def get_request(path: str, *, session: str | None = None, token: str | None = None) -> bytes:
    headers = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Accept-Language: zh-hans"]
    if session:
        headers.append(f"Cookie: sessionid={session}")
        headers.append("Accept: text/html")
    if token:
        headers.append(f"Authorization: Token {token}")
        headers.append("Accept: application/json")
    return ("\r\n".join(headers) + "\r\n\r\n").encode()


def page_signup_request(shift_id: int, session: str, csrf: str) -> bytes:
    body = f"csrfmiddlewaretoken={csrf}&next=/shifts/{shift_id}/".encode()
    head = (
        f"POST /shifts/{shift_id}/sign-up/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Language: zh-hans\r\n"
        f"Cookie: sessionid={session}; csrftoken={csrf}\r\nAccept: text/html\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def api_signup_request(shift_id: int, token: str) -> bytes:
    return (
        f"POST /api/v1/shifts/{shift_id}/signup/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Language: zh-hans\r\n"
        f"Authorization: Token {token}\r\nAccept: application/json\r\nContent-Length: 0\r\n\r\n"
    ).encode()


# --- Load -----------------------------------------------------------------------------------


def client_process(port, requests, threads, ready, go, results) -> None:
    """``threads`` closed-loop clients on keep-alive connections, sending ``requests`` in turn."""
    sys.setswitchinterval(0.0005)
    count = len(requests)
    latencies = [0.0] * count
    statuses = [0] * count
    sizes = [0] * count
    counter = iter(range(count))
    lock = threading.Lock()
    samples: dict[int, bytes] = {}

    def worker() -> None:
        sock = signup_http._connect(port)
        reply = signup_http.Reply(sock)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            started = time.perf_counter()
            try:
                sock.sendall(requests[i])
                status, body, closing = reply.read()
            except OSError as error:
                status, body, closing = 0, repr(error).encode(), True
            latencies[i] = time.perf_counter() - started
            statuses[i], sizes[i] = status, len(body)
            if status >= 400 or status == 0:
                samples.setdefault(status, body[:300])
            if closing:
                sock.close()
                sock = signup_http._connect(port)
                reply = signup_http.Reply(sock)
        sock.close()

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    ready.put(os.getpid())
    go.wait()
    before = resource.getrusage(resource.RUSAGE_SELF)
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    after = resource.getrusage(resource.RUSAGE_SELF)
    results.put(
        {
            "latencies": latencies,
            "statuses": statuses,
            "sizes": sizes,
            "samples": samples,
            "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        }
    )


@dataclass
class Load:
    requests: int = 0
    seconds: float = 0.0
    web_cpu: float = 0.0
    pg_cpu: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    size: int = 0
    samples: dict[int, bytes] = field(default_factory=dict)

    def add(self, other: Load) -> None:
        self.requests += other.requests
        self.seconds += other.seconds
        self.web_cpu += other.web_cpu
        self.pg_cpu += other.pg_cpu
        self.latencies_ms = sorted(self.latencies_ms + other.latencies_ms)
        for code, n in other.statuses.items():
            self.statuses[code] = self.statuses.get(code, 0) + n
        self.size = other.size or self.size
        for code, body in other.samples.items():
            self.samples.setdefault(code, body)

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.web_cpu / self.requests if self.requests else math.nan

    @property
    def pg_ms(self) -> float:
        return 1000 * self.pg_cpu / self.requests if self.requests else math.nan

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else math.nan

    def pct(self, q: float) -> float:
        ordered = self.latencies_ms
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))] if ordered else math.nan


def load_run(server, requests: list[bytes], clients: int, processes: int, database: str) -> Load:
    context = multiprocessing.get_context("spawn")
    processes = max(1, min(processes, clients))
    ready, results, go = context.Queue(), context.Queue(), context.Event()
    slices = [requests[p::processes] for p in range(processes)]
    threads = [clients // processes + (1 if p < clients % processes else 0) for p in range(processes)]
    procs = [
        context.Process(target=client_process, args=(server.port, slices[p], threads[p], ready, go, results))
        for p in range(processes)
    ]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get(timeout=120)
    sampler = signup_http.Sampler(server.process.pid, database, server.port)
    sampler.start()
    began = time.monotonic()
    go.set()
    parts = [results.get() for _ in procs]
    seconds = time.monotonic() - began
    for proc in procs:
        proc.join()
    machine = sampler.finish()
    load = Load(requests=len(requests), seconds=seconds, web_cpu=machine["web_cpu"], pg_cpu=machine["pg_cpu"])
    load.latencies_ms = sorted(1000 * x for part in parts for x in part["latencies"])
    for part in parts:
        for code in part["statuses"]:
            load.statuses[code] = load.statuses.get(code, 0) + 1
        for code, body in part["samples"].items():
            load.samples.setdefault(code, body)
    sizes = [s for part in parts for s in part["sizes"] if s]
    load.size = sorted(sizes)[len(sizes) // 2] if sizes else 0
    return load


# --- Report ---------------------------------------------------------------------------------


@dataclass
class Row:
    pair: Pair
    page: Load = field(default_factory=Load)
    api: Load = field(default_factory=Load)
    missing: dict[str, int] = field(default_factory=dict)  # sign-ups sent but not made

    @property
    def ratio(self) -> float:
        return self.page.cpu_ms / self.api.cpu_ms

    @property
    def met(self) -> bool:
        return self.ratio <= self.pair.target


def _statuses(load: Load) -> str:
    return ", ".join(f"{code} x{n}" for code, n in sorted(load.statuses.items()))


def row_print(row: Row) -> None:
    for kind, load, url in (("page", row.page, row.pair.page), ("API ", row.api, row.pair.api)):
        log(
            f"  {kind} {url}: {load.cpu_ms:.1f} ms CPU/request (PostgreSQL {load.pg_ms:.1f}), {load.rate:.0f}/s, "
            f"p50 {load.pct(0.5):.1f} ms, p99 {load.pct(0.99):.1f} ms, {load.size / 1024:.1f} KB; {_statuses(load)}"
        )
        for code, body in load.samples.items():
            log(f"       e.g. {code}: {body[:200]!r}")
    log(f"  ratio {row.ratio:.2f} (target <= {row.pair.target})")


def report(args, facts: dict, rows: list[Row], loads: tuple[float, float], when: datetime, counts: str) -> str:
    lines = [
        START,
        "## Pages next to their API twins (`bench/pages.py`)",
        "",
        f"Measured {when:%Y-%m-%d %H:%M} UTC on {facts['cpus']} CPU cores ({facts['cpu_model']}), "
        f"{facts['ram_gb']:.0f} GB RAM, PostgreSQL {facts['postgres']}, Python {facts['python']}. "
        f"Load average (1 min) {loads[0]:.2f} before and {loads[1]:.2f} after: the machine is shared and other "
        "work runs on it during the run, so absolute figures move from run to run; the ratios compare a page "
        "with its API twin measured on the same server in the same minute, which is what the target is about.",
        "",
        "Rerun: `make bench-pages` (or `.venv/bin/python bench/pages.py`; `--reuse-db` keeps the seeded "
        "database of an earlier run).",
        "",
        f"Data: `seed_demo --scale 1` ({counts}) plus the sign-up bench shifts of `bench/signup_http.py`. "
        f"Server: gunicorn with `config/deploy/gunicorn.conf.py`, {args.workers} workers x {args.threads} "
        f"threads (no worker recycling during the run), `config.settings.production`. Clients: {args.clients} closed-loop clients on keep-alive "
        f"connections in 2 client processes; pages with the session cookie a browser sends, the API with a "
        f"token as the app sends, both `Accept-Language: zh-hans`. Each URL is warmed up, then loaded "
        f"{args.rounds} x {args.requests} requests, page and API in turn (the order swapped every round). "
        "**CPU/req** is the CPU time (user + system) of the gunicorn processes during the load divided by the "
        "requests; PostgreSQL's CPU per request is shown apart (**PG**). The ratio is page CPU/req over API "
        f"CPU/req; target: pages <= {PAGE_TARGET}x, the HTML sign-up <= {SIGNUP_TARGET}x.",
        "",
        "| what | page | CPU/req ms | PG ms | req/s | p50 ms | p99 ms | API twin | CPU/req ms | PG ms | req/s "
        "| p50 ms | p99 ms | ratio | target |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        p, a = row.page, row.api
        lines.append(
            f"| {row.pair.name} | `{row.pair.page}` ({p.size / 1024:.0f} KB) | {p.cpu_ms:.1f} | {p.pg_ms:.1f} | "
            f"{p.rate:.0f} | {p.pct(0.5):.0f} | {p.pct(0.99):.0f} | `{row.pair.api}` ({a.size / 1024:.1f} KB) | "
            f"{a.cpu_ms:.1f} | {a.pg_ms:.1f} | {a.rate:.0f} | {a.pct(0.5):.0f} | {a.pct(0.99):.0f} | "
            f"**{row.ratio:.2f}** | {'met' if row.met else '**missed**'} (<= {row.pair.target}) |"
        )
    bad = [
        f"`{url}`: {_statuses(load)}"
        for row in rows
        for url, load, ok in ((row.pair.page, row.page, (200, 302)), (row.pair.api, row.api, (200, 201)))
        if any(code not in ok for code in load.statuses)
    ]
    bad += [f"{row.pair.name} ({kind}): {n} sign-ups not made" for row in rows for kind, n in row.missing.items()]
    if bad:
        lines += ["", "Unexpected answers: " + "; ".join(bad) + "."]
    missed = [row.pair.name for row in rows if not row.met]
    lines += [
        "",
        f"**Target: {'met on every row' if not missed else 'missed on ' + ', '.join(missed)}.**",
    ]
    if args.notes:
        lines += ["", Path(args.notes).read_text().strip()]
    lines.append(END)
    return "\n".join(lines) + "\n"


def docs_write(section: str) -> None:
    text = DOCS.read_text() if DOCS.exists() else "# Performance\n"
    if START in text and END in text:
        before, rest = text.split(START, 1)
        text = before + section.rstrip("\n") + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOCS.write_text(text)


# --- Main -----------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=DEFAULT_URL, help=f"PostgreSQL database (default {DEFAULT_URL})")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--reuse-db", action="store_true", help="use the database an earlier run seeded")
    parser.add_argument("--requests", type=int, default=300, help="requests per URL and round (default 300)")
    parser.add_argument("--signups", type=int, default=600, help="sign-ups per kind and round (default 600)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds, page and API in turn (default 2)")
    parser.add_argument("--warmup", type=int, default=40, help="warm-up requests per URL (default 40)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (default 4)")
    parser.add_argument("--only", default="", help="comma-separated pair names to run (default: all)")
    parser.add_argument("--notes", default="", help="a Markdown file appended to the section (what was changed)")
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/performance.md alone")
    args = parser.parse_args()
    args.queue = f"bench-pages-{uuid.uuid4().hex[:8]}"
    args.scale = 1.0
    return args


def main() -> int:
    args = parse_args()
    load_before = os.getloadavg()[0]
    if args.reuse_db:
        path = endpoints.state_path(args.database_url)
        if not path.exists():
            raise SystemExit(f"--reuse-db: no {path.relative_to(ROOT)}; run once without --reuse-db")
        state = json.loads(path.read_text())
    else:
        state = endpoints.seed(args)
    env = endpoints.bench_env(state, args)
    if args.reuse_db:  # the code may have moved on since the seed
        endpoints.run_step("migrate", [sys.executable, "manage.py", "migrate", "--verbosity", "0"], env)
    # Quiet hours off: each sign-up queues its SMS at once, as in the daytime rush.
    env.update(NOTIFY_QUIET_HOURS_START="", NOTIFY_QUIET_HOURS_END="")
    endpoints.django_setup(env)
    from django.contrib.auth import get_user_model
    from django.db import connection, connections

    from communities.demo.builder import current_counts

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    counts = ", ".join(
        f"{v:,} {k}" for k, v in current_counts().items() if k in ("volunteers", "communities", "shifts", "assignments")
    )
    facts = signup_http.machine_facts()
    database = endpoints.pg_params(args.database_url)["dbname"]
    users = get_user_model().objects
    sessions = {name: session_for(users.get(username=name)) for name in (VOLUNTEER, COORDINATOR)}
    tokens = {name: token_for(users.get(username=name)) for name in (VOLUNTEER, COORDINATOR)}
    pairs = pairs_make()
    if args.only:
        wanted = {name.strip() for name in args.only.split(",")}
        pairs = [pair for pair in pairs if pair.name in wanted or (pair.name == "sign-up" and "sign-up" in wanted)]

    signup_data = signup_http.bench_data_create()
    plan = signup_http.plan_make(signup_data, 2 * args.signups * args.rounds, seed=2022)
    draw = random.Random(7)
    draw.shuffle(plan)
    volunteer_users = dict(
        get_user_model()
        .objects.filter(auth_token__key__in={token for _s, token in plan})
        .values_list("auth_token__key", "pk")
    )
    from django.utils.crypto import get_random_string

    csrf = get_random_string(32)  # letters and digits, as Django's CSRF check wants
    session_by_token = {}
    for token, user_pk in volunteer_users.items():
        session_by_token[token] = session_for(users.get(pk=user_pk))
    connections.close_all()

    workdir = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    server = signup_http.Server.start(env, args.workers, args.threads, workdir / "gunicorn.log")
    rows: list[Row] = []
    try:
        gets = {
            pair.name: (
                get_request(pair.page, session=sessions[pair.who]),
                get_request(pair.api, token=tokens[pair.who]),
            )
            for pair in pairs
        }
        log(f"warm-up: {args.warmup} requests per URL")
        for page, api in gets.values():
            load_run(server, [page] * args.warmup, args.clients, 2, database)
            load_run(server, [api] * args.warmup, args.clients, 2, database)
        rows = [Row(pair) for pair in pairs]
        for round_no in range(args.rounds):
            for row in rows:
                page, api = gets[row.pair.name]
                order = [("page", page), ("api", api)]
                if round_no % 2:
                    order.reverse()
                for kind, request in order:
                    getattr(row, kind).add(load_run(server, [request] * args.requests, args.clients, 2, database))
            log(f"round {round_no + 1} of {args.rounds} done")
        for row in rows:
            log(row.pair.name)
            row_print(row)

        if not args.only or "sign-up" in args.only:
            signup = Row(Pair("sign-up", VOLUNTEER, "POST /shifts/{id}/sign-up/", "POST /api/v1/shifts/{id}/signup/"))
            signup.pair.target = SIGNUP_TARGET
            half = args.signups
            # Warm both paths on shifts of their own (the first requests of the plan), then reset.
            for round_no in range(args.rounds):
                chunk = plan[round_no * 2 * half : (round_no + 1) * 2 * half]
                order = [
                    ("page", [page_signup_request(s, session_by_token[t], csrf) for s, t in chunk[:half]]),
                    ("api", [api_signup_request(s, t) for s, t in chunk[half:]]),
                ]
                if round_no % 2:
                    order.reverse()
                for kind, requests in order:
                    before = sum(signup_http.bench_rows(signup_data.shift_ids).values())
                    load_run(server, requests[:20], args.clients, 2, database)  # warm-up
                    getattr(signup, kind).add(load_run(server, requests[20:], args.clients, 2, database))
                    made = sum(signup_http.bench_rows(signup_data.shift_ids).values()) - before
                    connections.close_all()
                    if made != len(requests):  # a redirect to the log-in page would pass for a sign-up
                        log(f"  {kind}: {made} sign-ups made of {len(requests)} sent")
                        signup.missing[kind] = len(requests) - made
            signup_http.bench_reset(signup_data.shift_ids)
            connections.close_all()
            log("sign-up")
            row_print(signup)
            rows.append(signup)
    finally:
        server.stop()
        with contextlib.suppress(Exception):
            endpoints.queue_delete(args.redis_url, args.queue)

    section = report(args, facts, rows, (load_before, os.getloadavg()[0]), datetime.now(UTC), counts)
    print()
    print(section)
    if not args.no_docs:
        docs_write(section)
        log(f"wrote {DOCS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
