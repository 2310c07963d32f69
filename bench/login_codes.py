"""Benchmark: a crowd logs in by texted code over HTTP (gunicorn on PostgreSQL), next to passwords.

    .venv/bin/python bench/login_codes.py [--count N] [--clients 64] [--addresses 5] [--passwords 200]

The morning after a mobilisation call every volunteer asks for a code and logs in with it.

1. Rebuilds the database named by DATABASE_URL (default ``vmbench_login`` on 127.0.0.1): drop,
   create, ``migrate``, ``seed_demo --scale 1`` (3,297 volunteers with mobile numbers).
2. Starts gunicorn with config/deploy/gunicorn.conf.py and the production settings (throwaway
   secrets), the file SMS backend writing to an outbox of the run's own, and Redis database
   ``--redis-db`` (default 7) for the limits, flushed before and after; warms it up from an
   address of its own, then flushes the limits again.
3. The crowd: client processes, each with threads on keep-alive connections bound to one of
   ``--addresses`` local addresses (127.0.0.2 ...), send ``POST /api/v1/auth/sms-code/`` for every
   volunteer, wait for the code to appear in the outbox, then ``POST /api/v1/auth/token/`` with
   it. ``NUM_PROXIES=1`` as production requires: each client is the reverse proxy for its share
   of the crowd and names the crowd's address in ``X-Forwarded-For``. A 429 puts the volunteer
   back in line until its ``retry_after`` (as the log-in page does) and is counted by the limit
   that refused it.
4. Checks that every number got exactly one outbox line, every log-in answered 200, and the
   codes in the database: one used code per volunteer.
5. For comparison, ``--passwords`` accounts log in with a password (the production password
   hasher) through the same endpoint.
6. Prints the figures and writes them into docs/performance.md between the
   ``<!-- bench:login-codes start -->`` and ``<!-- bench:login-codes end -->`` markers.

The target: the whole crowd (3,297 volunteers at scale 1) has its codes and is logged in within
five minutes.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import heapq
import itertools
import json
import math
import os
import re
import resource
import secrets
import shutil
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))

# The shared pieces of the HTTP benchmarks (the bench directory is on the path when run as a script).
from signup_http import (
    ROOT,
    Reply,
    Sampler,
    Server,
    bench_env,
    database_drop,
    database_recreate,
    django_setup,
    machine_facts,
    pg_params,
    queue_delete,
    run_step,
)

PYTHON = sys.executable
DOCS = ROOT / "docs" / "performance.md"
START, END = "<!-- bench:login-codes start -->", "<!-- bench:login-codes end -->"
DOCS_HEADER = "# Performance\n\nFigures from the benchmarks in `bench/`; each section is written by its script.\n"

TARGET_SECONDS = 300.0
SMS_PATH, TOKEN_PATH = "/api/v1/auth/sms-code/", "/api/v1/auth/token/"
WARMUP_ADDRESS = "127.0.0.1"
PASSWORD_ADDRESSES = [f"127.0.1.{n}" for n in range(1, 11)]  # 20 each: under the 30/min password throttle
CODE_RE = re.compile(r"(?<!\d)\d{6}(?!\d)")
RETRY_RE = re.compile(rb'"retry_after(?:_seconds)?":\s*(\d+)')
CODE_RE_BYTES = re.compile(rb'"code":\s*"([a-z_]+)"')


# --- Client side ----------------------------------------------------------------------------


class Connection:
    """One keep-alive connection from a source address, reopened when the server ends it."""

    def __init__(self, port: int, source: str, forwarded_for: str) -> None:
        self.port, self.source, self.forwarded_for = port, source, forwarded_for
        self.sock: socket.socket | None = None
        self.reply: Reply | None = None
        self.reconnects = 0

    def _open(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=120, source_address=(self.source, 0))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.reply = sock, Reply(sock)

    def close(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
        self.sock = self.reply = None

    def post(self, path: str, payload: dict) -> tuple[int, bytes]:
        data = json.dumps(payload).encode()
        request = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nX-Forwarded-For: {self.forwarded_for}\r\n"
            f"Content-Type: application/json\r\nAccept: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
        ).encode() + data
        body = b"no answer"
        for _attempt in (1, 2):
            try:
                if self.sock is None:
                    self._open()
                self.sock.sendall(request)
                status, body, closing = self.reply.read()
                if closing:
                    self.close()
                return status, body
            except OSError as error:  # the server closed an idle kept-alive connection: again
                body = repr(error).encode()
                self.close()
                self.reconnects += 1
        return 0, body


class Outbox(threading.Thread):
    """Tails the file SMS backend's outbox: the latest code texted to each number, and when."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.codes: dict[str, tuple[str, float, float]] = {}  # mobile -> (code, written at, seen at)
        self.changed = threading.Condition()
        self.stop_event = threading.Event()

    def run(self) -> None:
        offset, partial = 0, b""
        while not self.stop_event.is_set():
            try:
                with self.path.open("rb") as handle:
                    handle.seek(offset)
                    chunk = handle.read()
            except FileNotFoundError:
                chunk = b""
            if chunk:
                offset += len(chunk)
                lines = (partial + chunk).split(b"\n")
                partial = lines.pop()
                seen = time.time()
                found = {}
                for line in lines:
                    with contextlib.suppress(ValueError, KeyError, AttributeError):
                        entry = json.loads(line)
                        code = CODE_RE.search(entry["text"]).group(0)
                        found[entry["to"]] = (code, datetime.fromisoformat(entry["at"]).timestamp(), seen)
                if found:
                    with self.changed:
                        self.codes.update(found)
                        self.changed.notify_all()
            self.stop_event.wait(0.005)

    def wait_for(self, mobile: str, after: float, timeout: float) -> tuple[str, float, float] | None:
        """The code texted to ``mobile`` at or after ``after`` (a time.time()), or None."""
        # The outbox stamps a line before writing it; allow for the clock's resolution only.
        with self.changed:
            ready = self.changed.wait_for(
                lambda: mobile in self.codes and self.codes[mobile][1] >= after - 0.001, timeout=timeout
            )
            return self.codes[mobile] if ready else None


def _retry_after(body: bytes) -> int:
    found = RETRY_RE.search(body)
    return int(found.group(1)) if found else 1


def _error_code(body: bytes) -> str:
    found = CODE_RE_BYTES.search(body)
    return found.group(1).decode() if found else "?"


def crowd_process(port, jobs, addresses, threads, outbox_path, code_timeout, deadline, ready, go, results) -> None:
    """One client process: ``threads`` phones at a time, each thread on one address's connection.

    A volunteer asks for a code, waits for the text, and logs in with it. A 429 puts the volunteer
    back in line until its ``retry_after`` while the thread serves the next one in the crowd.
    """
    sys.setswitchinterval(0.0005)
    outbox = Outbox(Path(outbox_path))
    outbox.start()
    address_of = dict(jobs)  # mobile -> the address it asks from
    pending = collections.deque(mobile for mobile, _address in jobs)
    later: list[tuple[float, int, str, str, str]] = []  # (not before, tie, stage, mobile, code)
    tie = itertools.count()
    lock = threading.Lock()
    sms_ms: list[float] = []  # the 202 answers
    refused_ms: list[float] = []  # every other answer of the sms-code call (429s, mostly)
    token_ms: list[float] = []
    delivered_ms: list[float] = []
    seen_ms: list[float] = []
    whole_s: list[float] = []
    statuses = {"sms": collections.Counter(), "token": collections.Counter()}
    throttled = collections.Counter()  # (call, limit) -> count
    samples: dict[str, bytes] = {}
    undelivered: list[str] = []
    failed: list[str] = []
    accepted: set[str] = set()
    first_asked: dict[str, float] = {}
    finished: list[float] = []
    granted: list[tuple[float, str]] = []  # (time, address) of every 202
    # Each phone keeps a connection from every address, opened when first needed.
    connections = [{a: Connection(port, a, a) for a in addresses} for _thread in range(threads)]

    def next_job():
        """(stage, mobile, code) to do now, or None when the crowd is done; waits for a retry."""
        while True:
            with lock:
                now = time.time()
                if now > deadline:  # bounded: whoever is still waiting has failed
                    failed.extend(entry[3] for entry in later)
                    failed.extend(pending)
                    later.clear()
                    pending.clear()
                    return None
                if later and later[0][0] <= now:
                    _due, _tie, stage, mobile, code = heapq.heappop(later)
                    return stage, mobile, code
                if pending:
                    return "sms", pending.popleft(), ""
                if not later:
                    return None
                wait = later[0][0] - now
            time.sleep(min(wait, 0.5))

    def phone(by_address: dict[str, Connection]) -> None:
        while (job := next_job()) is not None:
            stage, mobile, code = job
            conn = by_address[address_of[mobile]]
            if time.time() > deadline:
                with lock:
                    failed.append(mobile)
                continue
            if stage == "sms":
                asked = time.time()
                first_asked.setdefault(mobile, asked)
                started = time.perf_counter()
                status, body = conn.post(SMS_PATH, {"mobile": mobile})
                elapsed = 1000 * (time.perf_counter() - started)
                with lock:
                    (sms_ms if status == 202 else refused_ms).append(elapsed)
                    statuses["sms"][status] += 1
                if status == 429:
                    # The address is checked first and a refusal it makes leaves the number's
                    # allowance untouched, so a number refused before any 202 met the address limit.
                    limit = "per number" if mobile in accepted else "per address"
                    with lock:
                        throttled[("sms-code", limit)] += 1
                        heapq.heappush(later, (time.time() + _retry_after(body), next(tie), "sms", mobile, ""))
                    continue
                if status != 202:
                    with lock:
                        samples.setdefault(f"sms-code {status}", body[:200])
                        failed.append(mobile)
                    continue
                accepted.add(mobile)
                with lock:
                    granted.append((asked, conn.forwarded_for))
                texted = outbox.wait_for(mobile, asked, code_timeout)
                if texted is None:
                    with lock:
                        undelivered.append(mobile)
                    continue
                code, written, seen = texted
                with lock:
                    delivered_ms.append(1000 * (written - asked))
                    seen_ms.append(1000 * (seen - asked))
            started = time.perf_counter()
            status, body = conn.post(TOKEN_PATH, {"mobile": mobile, "code": code})
            elapsed = 1000 * (time.perf_counter() - started)
            with lock:
                token_ms.append(elapsed)
                statuses["token"][status] += 1
                if status == 200 and b'"token"' in body:
                    whole_s.append(time.time() - first_asked[mobile])
                    finished.append(time.monotonic())
                elif status == 429:
                    throttled[("token", _error_code(body))] += 1
                    heapq.heappush(later, (time.time() + _retry_after(body), next(tie), "token", mobile, code))
                else:
                    samples.setdefault(f"token {status}", body[:200])
                    failed.append(mobile)
        for conn in by_address.values():
            conn.close()

    workers = [threading.Thread(target=phone, args=(c,)) for c in connections]
    ready.put(os.getpid())
    go.wait()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    after = resource.getrusage(resource.RUSAGE_SELF)
    outbox.stop_event.set()
    results.put(
        {
            "sms_ms": sms_ms,
            "refused_ms": refused_ms,
            "token_ms": token_ms,
            "delivered_ms": delivered_ms,
            "seen_ms": seen_ms,
            "whole_s": whole_s,
            "statuses": {k: dict(v) for k, v in statuses.items()},
            "throttled": dict(throttled),
            "samples": samples,
            "undelivered": undelivered,
            "failed": failed,
            "finished": finished,
            "granted": granted,
            "reconnects": sum(c.reconnects for by_address in connections for c in by_address.values()),
            "cpu": (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime),
        }
    )


def password_process(port, jobs, addresses, threads, ready, go, results) -> None:
    """One client process logging in with username and password, ``threads`` at a time."""
    counter = itertools.count()
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: collections.Counter = collections.Counter()
    samples: dict[str, bytes] = {}
    finished: list[float] = []
    connections = [
        Connection(port, addresses[t % len(addresses)], addresses[t % len(addresses)]) for t in range(threads)
    ]

    def worker(conn: Connection) -> None:
        while (i := next(counter)) < len(jobs):
            username, password, address = jobs[i]
            conn.forwarded_for = address
            started = time.perf_counter()
            status, body = conn.post(TOKEN_PATH, {"username": username, "password": password})
            elapsed = 1000 * (time.perf_counter() - started)
            with lock:
                latencies.append(elapsed)
                statuses[status] += 1
                finished.append(time.monotonic())
                if status != 200:
                    samples.setdefault(f"{status} {_error_code(body)}", body[:200])
        conn.close()

    workers = [threading.Thread(target=worker, args=(c,)) for c in connections]
    ready.put(os.getpid())
    go.wait()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    results.put({"latencies": latencies, "statuses": dict(statuses), "samples": samples, "finished": finished})


def run_clients(target, per_process_args: list[tuple], sampler_args: tuple | None) -> tuple[list[dict], float, dict]:
    """Start the client processes, let them go at once, and gather their results."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    ready, results, go = context.Queue(), context.Queue(), context.Event()
    workers = [context.Process(target=target, args=(*a, ready, go, results)) for a in per_process_args]
    for worker in workers:
        worker.start()
    for _ in workers:
        ready.get(timeout=120)
    sampler = Sampler(*sampler_args) if sampler_args else None
    if sampler:
        sampler.start()
    began = time.monotonic()
    go.set()
    parts = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    machine = sampler.finish() if sampler else {}
    ended = max((t for part in parts for t in part["finished"]), default=time.monotonic())
    return parts, ended - began, machine


# --- Figures --------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _f(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


@dataclass
class Crowd:
    volunteers: int
    addresses: list[str]
    clients: int
    seconds: float
    sms_ms: list[float]
    refused_ms: list[float]
    token_ms: list[float]
    delivered_ms: list[float]
    seen_ms: list[float]
    whole_s: list[float]
    statuses: dict[str, dict[int, int]]
    throttled: dict[tuple[str, str], int]
    samples: dict[str, bytes]
    undelivered: int
    failed: int
    reconnects: int
    client_cpu: float
    peak_per_address_minute: int
    machine: dict
    outbox: dict = field(default_factory=dict)
    codes: dict = field(default_factory=dict)
    load_before: tuple = ()
    load_after: tuple = ()

    @property
    def logged_in(self) -> int:
        return self.statuses["token"].get(200, 0)


def crowd_merge(parts, seconds, machine, volunteers, addresses, clients) -> Crowd:
    statuses: dict[str, collections.Counter] = {"sms": collections.Counter(), "token": collections.Counter()}
    throttled: collections.Counter = collections.Counter()
    samples: dict[str, bytes] = {}
    for part in parts:
        for call, counts in part["statuses"].items():
            statuses[call].update(counts)
        throttled.update(part["throttled"])
        for key, body in part["samples"].items():
            samples.setdefault(key, body)
    return Crowd(
        volunteers=volunteers,
        addresses=addresses,
        clients=clients,
        seconds=seconds,
        sms_ms=[x for p in parts for x in p["sms_ms"]],
        refused_ms=[x for p in parts for x in p["refused_ms"]],
        token_ms=[x for p in parts for x in p["token_ms"]],
        delivered_ms=[x for p in parts for x in p["delivered_ms"]],
        seen_ms=[x for p in parts for x in p["seen_ms"]],
        whole_s=[x for p in parts for x in p["whole_s"]],
        statuses={k: dict(v) for k, v in statuses.items()},
        throttled=dict(throttled),
        samples=samples,
        undelivered=sum(len(p["undelivered"]) for p in parts),
        failed=sum(len(p["failed"]) for p in parts),
        reconnects=sum(p["reconnects"] for p in parts),
        client_cpu=sum(p["cpu"] for p in parts),
        peak_per_address_minute=peak_per_minute([g for p in parts for g in p["granted"]]),
        machine=machine,
    )


def peak_per_minute(granted: list[tuple[float, str]]) -> int:
    """The most codes granted to one address within any 60 seconds (the per-minute limit's window)."""
    peak = 0
    by_address: dict[str, list[float]] = collections.defaultdict(list)
    for at, address in granted:
        by_address[address].append(at)
    for times in by_address.values():
        times.sort()
        first = 0
        for last, at in enumerate(times):
            while at - times[first] >= 60:
                first += 1
            peak = max(peak, last - first + 1)
    return peak


def outbox_check(path: Path, mobiles: list[str]) -> dict:
    """Lines per number in the outbox: every number of the crowd exactly once, nobody else."""
    per_number: collections.Counter = collections.Counter()
    keys: collections.Counter = collections.Counter()
    if path.exists():
        for line in path.read_text().splitlines():
            with contextlib.suppress(ValueError, KeyError):
                entry = json.loads(line)
                per_number[entry["to"]] += 1
                keys[entry["key"]] += 1
    crowd = set(mobiles)
    duplicates = path.with_name(path.name + ".duplicates")
    return {
        "lines": sum(per_number.values()),
        "exactly_once": sum(1 for m in crowd if per_number[m] == 1),
        "none": sum(1 for m in crowd if per_number[m] == 0),
        "more_than_once": sum(1 for m in crowd if per_number[m] > 1),
        "others": sum(n for m, n in per_number.items() if m not in crowd),
        "repeated_keys": sum(1 for n in keys.values() if n > 1),
        "duplicates_refused": len(duplicates.read_text().splitlines()) if duplicates.exists() else 0,
    }


def codes_check(mobiles: list[str]) -> dict:
    """The codes in the database: one used code per volunteer, none left live."""
    from django.db.models import Count, Q

    from volunteers.models import LoginCode

    rows = LoginCode.objects.filter(mobile__in=mobiles).aggregate(
        codes=Count("id"),
        used=Count("id", filter=Q(used_at__isnull=False)),
        live=Count("id", filter=Q(closed_at__isnull=True)),
        numbers_used=Count("mobile", filter=Q(used_at__isnull=False), distinct=True),
    )
    return rows


def crowd_print(c: Crowd) -> None:
    print(
        f"   crowd of {c.volunteers:,} over {len(c.addresses)} addresses, {c.clients} phones at a time: "
        f"{c.logged_in:,} logged in in {c.seconds:.1f}s ({c.logged_in / c.seconds:.1f} log-ins/s); "
        f"target {TARGET_SECONDS:.0f}s",
        flush=True,
    )
    for name, values in (
        ("sms-code 202", c.sms_ms),
        ("sms-code other", c.refused_ms),
        ("code delivered", c.delivered_ms),
        ("token (code)", c.token_ms),
    ):
        print(
            f"   {name:<15} n={len(values):,} p50 {_f(pct(values, 0.5))} ms, p95 {_f(pct(values, 0.95))} ms, "
            f"p99 {_f(pct(values, 0.99))} ms, max {_f(max(values, default=None))} ms",
            flush=True,
        )
    print(
        f"   statuses {c.statuses}; 429 by limit {c.throttled or 'none'}; peak per address in 60 s {c.peak_per_address_minute}; undelivered {c.undelivered}, "
        f"failed {c.failed}, reconnects {c.reconnects}",
        flush=True,
    )
    print(f"   outbox {c.outbox}; codes in the database {c.codes}", flush=True)
    for key, body in c.samples.items():
        print(f"   e.g. {key}: {body!r}", flush=True)


# --- The run --------------------------------------------------------------------------------


def crowd_mobiles() -> list[str]:
    """Every number that logs in to an active volunteer account, in a stable order."""
    from volunteers.models import Volunteer

    mobiles = (
        Volunteer.objects.filter(user__is_active=True, anonymised_at__isnull=True)
        .exclude(mobile="")
        .order_by("mobile")
        .values_list("mobile", flat=True)
        .distinct()
    )
    return list(mobiles)


def passwords_set(mobiles: list[str], count: int) -> tuple[list[tuple[str, str]], float]:
    """A password for ``count`` volunteers, hashed once with the production hasher (the check
    costs the same for every copy); (username, password) pairs and the seconds one hash took."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from volunteers.models import Volunteer

    password = "bench-" + secrets.token_urlsafe(12)
    started = time.perf_counter()
    hashed = make_password(password)
    one_hash = time.perf_counter() - started
    step = max(1, len(mobiles) // max(1, count))
    chosen = mobiles[::step][:count]
    user_ids = list(Volunteer.objects.filter(mobile__in=chosen).values_list("user_id", flat=True))
    users = get_user_model().objects.filter(pk__in=user_ids)
    users.update(password=hashed)
    return [(username, password) for username in users.values_list("username", flat=True)], one_hash


def warm_up(port: int, mobiles: set[str], count: int) -> None:
    """Unknown numbers from an address of its own: the code path without texting anyone."""
    conn = Connection(port, WARMUP_ADDRESS, WARMUP_ADDRESS)
    sent = 0
    for n in itertools.count(19900000000):
        if sent >= count:
            break
        if str(n) in mobiles:
            continue
        conn.post(SMS_PATH, {"mobile": str(n)})
        conn.post(TOKEN_PATH, {"mobile": str(n), "code": "000000"})
        sent += 1
    conn.close()


def redis_flush(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def parse_args() -> argparse.Namespace:
    from config.env import redis_url_with_db

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="seed_demo --scale (default 1: 3,297 volunteers)")
    parser.add_argument("--count", type=int, default=0, help="volunteers in the crowd (default: all of them)")
    parser.add_argument("--clients", type=int, default=64, help="phones at a time, over all processes (default 64)")
    parser.add_argument("--client-processes", type=int, default=2, help="client processes (default 2)")
    parser.add_argument("--addresses", type=int, default=5, help="client addresses, 127.0.0.2 ... (default 5)")
    parser.add_argument("--passwords", type=int, default=200, help="password log-ins to compare (default 200; 0: skip)")
    parser.add_argument("--password-clients", type=int, default=8, help="password clients at a time (default 8)")
    parser.add_argument("--warmup", type=int, default=100, help="warm-up requests of each call (default 100)")
    parser.add_argument("--code-timeout", type=float, default=60.0, help="seconds to wait for a text (default 60)")
    parser.add_argument("--deadline", type=float, default=900.0, help="give up on the crowd after this (default 900 s)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (default 4)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_LOGIN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vmbench_login"),
        help="the database to rebuild (default postgres://postgres@127.0.0.1:5432/vmbench_login)",
    )
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--redis-db", type=int, default=7, help="the Redis database of the run, flushed (default 7)")
    parser.add_argument("--settings", default="config.settings.production")
    parser.add_argument("--keep-db", action="store_true", help="keep the database after the run (default: drop it)")
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/performance.md alone")
    args = parser.parse_args()
    if args.addresses < 1 or args.addresses > 200:
        parser.error("--addresses must be between 1 and 200")
    args.redis_url = redis_url_with_db(args.redis_url, args.redis_db)
    args.queue = f"bench-login-{secrets.token_hex(4)}"
    return args


def rerun_command(args) -> str:
    parts = [".venv/bin/python bench/login_codes.py"]
    if args.scale != 1:
        parts.append(f"--scale {args.scale:g}")
    if args.count:
        parts.append(f"--count {args.count}")
    if args.clients != 64:
        parts.append(f"--clients {args.clients}")
    if args.addresses != 5:
        parts.append(f"--addresses {args.addresses}")
    if args.passwords != 200:
        parts.append(f"--passwords {args.passwords}")
    if (args.workers, args.threads) != (2, 4):
        parts.append(f"--workers {args.workers} --threads {args.threads}")
    return " ".join(parts)


def main() -> int:
    sys.path.insert(0, str(ROOT))
    args = parse_args()
    if urlparse(args.database_url).scheme not in ("postgres", "postgresql"):
        raise SystemExit("The log-in benchmark needs PostgreSQL: --database-url postgres://...")
    workdir = Path(tempfile.mkdtemp(prefix="bench-login-"))
    outbox_path = workdir / "outbox.jsonl"
    env = bench_env(args)
    env.update(
        CACHE_REDIS_URL=args.redis_url,  # the limits and throttles, in the run's own database
        NUM_PROXIES="1",  # as production requires; the clients play the proxy (X-Forwarded-For)
        NOTIFY_SMS_BACKEND="config.sms.backends.FileSmsBackend",
        NOTIFY_SMS_FILE=str(outbox_path),
        SMS_ALLOW_DEVELOPMENT_BACKEND="true",
    )
    run_step("translation catalogues", [PYTHON, "-m", "config.i18n"], env)
    print(f"== database {args.database_url}: drop and create; Redis {args.redis_url}: flush", flush=True)
    database_recreate(args.database_url)
    redis_flush(args.redis_url)
    server: Server | None = None
    try:
        run_step("migrate", [PYTHON, "manage.py", "migrate", "--verbosity", "1"], env)
        run_step("seed_demo", [PYTHON, "manage.py", "seed_demo", "--scale", f"{args.scale:g}"], env)
        django_setup(env)
        from django.db import connections

        mobiles = crowd_mobiles()
        everyone = len(mobiles)
        if args.count:
            mobiles = mobiles[: args.count]
        passwords, one_hash = passwords_set(crowd_mobiles(), args.passwords) if args.passwords else ([], 0.0)
        from django.conf import settings

        hasher = settings.PASSWORD_HASHERS[0].rsplit(".", 1)[-1]
        limits = limits_in_force()
        facts = machine_facts()
        database = pg_params(args.database_url)["dbname"]
        connections.close_all()
        addresses = [f"127.0.0.{2 + n}" for n in range(args.addresses)]

        print(f"== gunicorn {args.workers} x {args.threads}, outbox {outbox_path}", flush=True)
        server = Server.start(env, args.workers, args.threads, workdir / "gunicorn.log")
        warm_up(server.port, set(mobiles), args.warmup)
        redis_flush(args.redis_url)  # the crowd starts with every limit empty

        processes = max(1, min(args.client_processes, args.clients))
        threads = [args.clients // processes + (1 if p < args.clients % processes else 0) for p in range(processes)]
        deadline = time.time() + args.deadline
        # Volunteer i asks from address i mod n: every address carries the same share of the crowd.
        jobs = [(mobile, addresses[i % len(addresses)]) for i, mobile in enumerate(mobiles)]
        per_process = [
            (server.port, jobs[p::processes], addresses, threads[p], str(outbox_path), args.code_timeout, deadline)
            for p in range(processes)
        ]
        print(f"== the crowd: {len(mobiles):,} volunteers, {args.clients} phones, addresses {addresses}", flush=True)
        load_before = os.getloadavg()
        parts, seconds, machine = run_clients(crowd_process, per_process, (server.process.pid, database, server.port))
        crowd = crowd_merge(parts, seconds, machine, len(mobiles), addresses, args.clients)
        crowd.load_before, crowd.load_after = load_before, os.getloadavg()
        crowd.outbox = outbox_check(outbox_path, mobiles)
        crowd.codes = codes_check(mobiles)
        crowd_print(crowd)

        password = None
        if passwords:
            jobs = [(u, p, PASSWORD_ADDRESSES[i % len(PASSWORD_ADDRESSES)]) for i, (u, p) in enumerate(passwords)]
            pprocs = max(1, min(args.client_processes, args.password_clients))
            pthreads = [
                args.password_clients // pprocs + (1 if p < args.password_clients % pprocs else 0)
                for p in range(pprocs)
            ]
            per_process = [(server.port, jobs[p::pprocs], PASSWORD_ADDRESSES, pthreads[p]) for p in range(pprocs)]
            print(f"== password log-ins: {len(jobs)} accounts, {args.password_clients} clients ({hasher})", flush=True)
            pparts, pseconds, pmachine = run_clients(
                password_process, per_process, (server.process.pid, database, server.port)
            )
            statuses: collections.Counter = collections.Counter()
            samples: dict[str, bytes] = {}
            for part in pparts:
                statuses.update(part["statuses"])
                samples.update(part["samples"])
            password = {
                "latencies": [x for p in pparts for x in p["latencies"]],
                "statuses": dict(statuses),
                "samples": samples,
                "seconds": pseconds,
                "machine": pmachine,
                "count": len(jobs),
            }
            lat = password["latencies"]
            print(
                f"   {len(lat)} password log-ins in {pseconds:.1f}s: p50 {_f(pct(lat, 0.5))} ms, p95 "
                f"{_f(pct(lat, 0.95))} ms, p99 {_f(pct(lat, 0.99))} ms; statuses {password['statuses']}; "
                f"gunicorn CPU {1000 * pmachine['web_cpu'] / max(1, len(lat)):.0f} ms per log-in",
                flush=True,
            )
            for key, body in samples.items():
                print(f"   e.g. {key}: {body!r}", flush=True)
        server.stop()
        server = None

        section = report_markdown(
            args=args,
            facts=facts,
            crowd=crowd,
            everyone=everyone,
            password=password,
            hasher=hasher,
            one_hash=one_hash,
            limits=limits,
            command=rerun_command(args),
            when=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        )
        print(section)
        if not args.no_docs:
            docs_write(section)
            print(f"== written to {DOCS.relative_to(ROOT)}", flush=True)
        ok = (
            crowd.logged_in == crowd.volunteers
            and crowd.outbox["exactly_once"] == crowd.volunteers
            and crowd.outbox["others"] == 0
        )
        return 0 if ok else 1
    finally:
        if server is not None:
            server.stop()
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
        with contextlib.suppress(Exception):
            queue_delete(args.redis_url, args.queue)
            redis_flush(args.redis_url)
        if not args.keep_db:
            database_drop(args.database_url)
        shutil.rmtree(workdir, ignore_errors=True)


# --- Report ---------------------------------------------------------------------------------


def limits_in_force() -> dict:
    """The limits of the settings the server runs with, as the report states them."""
    from django.conf import settings

    from volunteers.login_codes import code_settings

    def spell(limits):
        names = {60: "min", 3600: "h", 86400: "day"}
        return ", ".join(f"{count:,}/{names.get(seconds, f'{seconds}s')}" for count, seconds in limits)

    config = code_settings()
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    return {
        "per_number": spell(config["PER_NUMBER"]),
        "per_address": spell(config["PER_IP"]),
        "per_address_minute": next((count for count, seconds in config["PER_IP"] if seconds == 60), None),
        "auth_code": rates.get("auth_code"),
        "auth": rates.get("auth"),
    }


def report_markdown(*, args, facts, crowd: Crowd, everyone, password, hasher, one_hash, limits, command, when) -> str:
    c = crowd
    m = c.machine
    per_login_web = 1000 * m["web_cpu"] / max(1, c.logged_in)
    per_login_pg = 1000 * m["pg_cpu"] / max(1, c.logged_in)
    met = c.seconds <= TARGET_SECONDS and c.logged_in == c.volunteers and c.outbox["exactly_once"] == c.volunteers
    throttled = ", ".join(f"{n:,} on `{call}` ({limit})" for (call, limit), n in sorted(c.throttled.items()))
    others = {k: v for k, v in c.statuses["sms"].items() if k not in (202, 429)}
    token_others = {k: v for k, v in c.statuses["token"].items() if k not in (200, 429)}
    crowd_note = "" if c.volunteers == everyone else f", the first {c.volunteers:,} of {everyone:,}: `--count`"
    lines = [
        START,
        "## Log-in by texted code, a crowd at once (`bench/login_codes.py`)",
        "",
        f"Measured {when} on {facts['cpus']} CPU cores ({facts['cpu_model']}), {facts['ram_gb']:.0f} GB RAM, "
        f"PostgreSQL {facts['postgres']}, Python {facts['python']}; load average "
        f"{c.load_before[0]:.1f} / {c.load_before[1]:.1f} / {c.load_before[2]:.1f} (1 / 5 / 15 min) when the crowd "
        f"started and {c.load_after[0]:.1f} / {c.load_after[1]:.1f} / {c.load_after[2]:.1f} when it was done. "
        "The cores are shared with other engineers' work, so absolute figures are noisy.",
        "",
        "Rerun (it drops and rebuilds the database it is given, and flushes its own Redis database):",
        "",
        "```",
        command,
        "```",
        "",
        f"The morning after a mobilisation call: every volunteer of `seed_demo --scale {args.scale:g}` "
        f"({c.volunteers:,} numbers{crowd_note}) asks for a code (`POST /api/v1/auth/sms-code/`), waits until the "
        "text is in the outbox of the file SMS backend, and logs in with it (`POST /api/v1/auth/token/` "
        f'`{{"mobile", "code"}}`). {c.clients} phones at a time from 2 client processes on keep-alive connections, '
        f"the crowd spread evenly over {len(c.addresses)} client addresses ({c.addresses[0]}-{c.addresses[-1]}; "
        "the sockets are bound to them and, with `NUM_PROXIES=1` as production requires, each client plays the "
        "reverse proxy and names its address in `X-Forwarded-For`). A 429 puts that volunteer back in line until "
        "its `retry_after`, as the log-in page does, while the phone serves the next one. Server: gunicorn with "
        f"`config/deploy/gunicorn.conf.py` (gthread, {args.workers} workers x {args.threads} threads), "
        f"`config.settings.production` with its limits (codes per number {limits['per_number']}; per address "
        f"{limits['per_address']}; log-ins per address {limits['auth_code']} by code, {limits['auth']} by "
        "password), codes "
        "texted after commit on the web process's background thread, the SMS file fsynced per batch, after "
        f"{args.warmup} warm-up requests of each call from another address.",
        "",
        "| call | requests | p50 ms | p95 ms | p99 ms | max ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    rows = [
        ("`POST /api/v1/auth/sms-code/`, the 202 answers", c.sms_ms),
        ("`POST /api/v1/auth/sms-code/`, every other answer (the 429s)", c.refused_ms),
        ("code delivered: request sent to the line stamped in the outbox", c.delivered_ms),
        ("`POST /api/v1/auth/token/` with the code", c.token_ms),
    ]
    if password:
        rows.append(
            (
                f"`POST /api/v1/auth/token/` with a password ({password['count']} accounts, "
                f"{args.password_clients} clients, {hasher})",
                password["latencies"],
            )
        )
    for label, values in rows:
        lines.append(
            f"| {label} | {len(values):,} | {_f(pct(values, 0.5))} | {_f(pct(values, 0.95))} | "
            f"{_f(pct(values, 0.99))} | {_f(max(values, default=None))} |"
        )
    lines += [
        "",
        f"- **Whole crowd: {c.logged_in:,} of {c.volunteers:,} logged in in {c.seconds:.1f} s** against the "
        f"{TARGET_SECONDS:.0f} s target ({'met' if met else 'not met'}): {c.logged_in / c.seconds:.1f} log-ins/s, "
        f"{(len(c.sms_ms) + len(c.refused_ms) + len(c.token_ms)) / c.seconds:.1f} requests/s. From a volunteer's first request to the "
        f"token: p50 {_f(pct(c.whole_s, 0.5), 2)} s, p99 {_f(pct(c.whole_s, 0.99), 2)} s.",
        f"- **Texts**: {c.outbox['lines']:,} outbox lines; {c.outbox['exactly_once']:,} numbers texted exactly once, "
        f"{c.outbox['none']} never, {c.outbox['more_than_once']} more than once, {c.outbox['others']} lines to other "
        f"numbers, {c.outbox['repeated_keys']} repeated keys, {c.outbox['duplicates_refused']} resends refused as "
        f"duplicates; {c.undelivered} codes not seen within {args.code_timeout:.0f} s. In the database: "
        f"{c.codes['codes']:,} codes, {c.codes['used']:,} used ({c.codes['numbers_used']:,} numbers), "
        f"{c.codes['live']} left live.",
        f"- **Answers**: sms-code {c.statuses['sms'].get(202, 0):,} x 202, token {c.statuses['token'].get(200, 0):,} "
        f"x 200; 429s: {throttled or 'none'}; other statuses: sms-code {others or 'none'}, token "
        f"{token_others or 'none'}; {c.failed} volunteers failed; {c.reconnects} reconnects after the server "
        "closed an idle connection.",
        f"- **Per-address limit**: {c.volunteers / len(c.addresses):,.0f} volunteers behind each of "
        f"{len(c.addresses)} addresses; "
        + (
            "no request met it"
            if not any(limit == "per address" for (_call, limit) in c.throttled)
            else f"it refused {sum(n for (_c, limit), n in c.throttled.items() if limit == 'per address'):,} code "
            "requests; those volunteers waited their `retry_after` and came back. With "
            f"{len(c.addresses)} addresses at {limits['per_address_minute']}/min the limit admits about "
            f"{len(c.addresses) * (limits['per_address_minute'] or 0) / 60:.0f} codes/s in all, and the crowd "
            f"logged in at {c.logged_in / c.seconds:.1f}/s: the limit, not the server, set the pace"
        )
        + f"; the most codes granted to one address within 60 s were {c.peak_per_address_minute:,} "
        f"(limit {limits['per_address_minute']}; counted by the clients' send times, while Redis counts by "
        "arrival, so queueing can move a few across the window's edge).",
        f"- **CPU**: gunicorn {m['web_cpu'] / c.seconds:.2f} cores, PostgreSQL {m['pg_cpu'] / c.seconds:.2f}, "
        f"the clients {c.client_cpu / c.seconds:.2f}, the whole machine {m['machine_busy'] / c.seconds:.2f} of "
        f"{facts['cpus']}; per volunteer logged in (two requests and the text) {per_login_web:.1f} ms in gunicorn "
        f"and {per_login_pg:.1f} ms in PostgreSQL.",
    ]
    if password:
        pm = password["machine"]
        count = max(1, len(password["latencies"]))
        lines.append(
            f"- **Passwords, for comparison**: {len(password['latencies'])} log-ins in {password['seconds']:.1f} s, "
            f"statuses {password['statuses']}; {1000 * pm['web_cpu'] / count:.0f} ms of gunicorn CPU per log-in "
            f"(one `make_password` in the bench process took {1000 * one_hash:.0f} ms): the hashing a code log-in "
            "does not do. The accounts share one hash, made once; checking it costs the same for each."
        )
    lines += [END]
    return "\n".join(lines) + "\n"


def docs_write(section: str) -> None:
    text = DOCS.read_text() if DOCS.exists() else DOCS_HEADER
    if START in text and END in text:
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1]
        text = before + section.rstrip("\n") + after
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOCS.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
