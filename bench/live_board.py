"""Cost of the live operations board at city scale: 20 boards polling ``/api/v1/live/``, on PostgreSQL.

    .venv/bin/python bench/live_board.py [--scale 30] [--boards 20] [--rounds 30] [--database-url URL] [--no-write]

Seeds (or reuses) the database at ``--database-url`` with ``seed_demo --scale N``, checks in a
share of the volunteers of the shifts under way (through the rollup's repair, which counts what
the check-in service would have counted), then runs ``--boards`` threads, each a committee
member's board with its own connection, that poll at the same instant ``--rounds`` times (the
worst case: every board asking together; in service they spread over the 15 s). Each poll is the
whole request in process (Django test client, session authentication, middleware, selector,
JSON). Reports latency, queries per poll, the database time per poll, and what 20 boards cost per
15 s. The figures go into docs/performance.md between ``<!-- bench:live start -->`` and
``<!-- bench:live end -->``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stats import ensure_database, log, setup_django

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/vm_ops_bench"
START, END = "<!-- bench:live start -->", "<!-- bench:live end -->"
URL = "/api/v1/live/"


def prepare(scale: float) -> dict:
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import F
    from django.utils import timezone

    from communities.models import Assignment, Shift, ShiftAttendance
    from communities.selectors.live import _under_way
    from communities.services import live
    from volunteers.models import Volunteer

    log("migrating")
    call_command("migrate", verbosity=0)
    if not Volunteer.objects.exists():
        log(f"seeding the demo at scale {scale:g} (several minutes)")
        call_command("seed_demo", scale=scale, stdout=sys.stdout)
    else:
        log("reusing the seeded database")
    now = timezone.now()
    under_way = list(_under_way(now).values_list("pk", flat=True))
    if not under_way:
        # The demo's shifts are set in its own days: move a day's worth to now, so the board has
        # shifts under way, as it would during a mobilisation.
        log("no shifts under way: moving one day's shifts to now")
        first = Shift.objects.filter(confirmed_count__gt=0).order_by("starts_at").first()
        day_start = first.starts_at.replace(hour=0, minute=0, second=0, microsecond=0)
        offset = now - first.starts_at - timedelta(minutes=40)
        Shift.objects.filter(starts_at__gte=day_start, starts_at__lt=day_start + timedelta(days=1)).update(
            starts_at=F("starts_at") + offset, ends_at=F("ends_at") + offset
        )
        under_way = list(_under_way(now).values_list("pk", flat=True))
    log(f"{len(under_way):,} shifts under way; checking in two volunteers in three")
    confirmed = Assignment.objects.filter(shift_id__in=under_way, status=Assignment.Status.CONFIRMED).order_by("pk")
    ids = list(confirmed.values_list("pk", flat=True))
    Assignment.objects.filter(pk__in=[pk for index, pk in enumerate(ids) if index % 3]).update(
        checked_in_at=now, checkin_method="code"
    )
    live.shift_attendance_repair(since=now - timedelta(days=1), now=now)
    log("vacuum analyze")
    with connection.cursor() as cursor:
        for table in ("communities_shift", "communities_shiftattendance", "communities_notification"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    return {
        "volunteers": Volunteer.objects.count(),
        "assignments": Assignment.objects.count(),
        "shifts": Shift.objects.count(),
        "shifts under way": len(under_way),
        "rollup rows": ShiftAttendance.objects.count(),
    }


def board_user():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username="tuanwei")


def run(boards: int, rounds: int) -> dict:
    from django.db import connection, connections, reset_queries
    from django.test import Client

    user = board_user()
    barrier = threading.Barrier(boards)
    timings: list[float] = []
    db_ms: list[float] = []
    queries: list[int] = []
    lock = threading.Lock()
    errors: list[str] = []

    def board():
        client = Client()
        client.force_login(user)
        try:
            assert client.get(URL).status_code == 200  # warm up
            for _ in range(rounds):
                barrier.wait()
                connection.force_debug_cursor = True
                reset_queries()
                started = time.perf_counter()
                response = client.get(URL)
                elapsed = (time.perf_counter() - started) * 1000
                spent = sum(float(query["time"]) for query in connection.queries) * 1000
                count = len(connection.queries)
                connection.force_debug_cursor = False
                if response.status_code != 200:
                    errors.append(str(response.status_code))
                with lock:
                    timings.append(elapsed)
                    db_ms.append(spent)
                    queries.append(count)
        except Exception as error:  # reported below
            errors.append(repr(error))
            barrier.abort()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=board) for _ in range(boards)]
    wall = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - wall
    if errors:
        raise SystemExit(f"polls failed: {errors[:5]}")
    timings.sort()

    def pct(p: float) -> float:
        return timings[min(len(timings) - 1, max(0, round(p / 100 * len(timings)) - 1))]

    return {
        "polls": len(timings),
        "p50": statistics.median(timings),
        "p95": pct(95),
        "p99": pct(99),
        "max": timings[-1],
        "queries": max(queries),
        "db_ms": statistics.mean(db_ms),
        "wall": wall,
    }


def city_pass(runs: int = 10) -> dict:
    """The shared part alone, worked out afresh ``runs`` times one after another."""
    from django.db import connection, reset_queries
    from django.utils import timezone

    from communities.selectors.live import _city

    _city(timezone.now())  # warm
    timings, db_ms = [], []
    for _ in range(runs):
        connection.force_debug_cursor = True
        reset_queries()
        started = time.perf_counter()
        _city(timezone.now())
        timings.append((time.perf_counter() - started) * 1000)
        db_ms.append(sum(float(query["time"]) for query in connection.queries) * 1000)
        connection.force_debug_cursor = False
    return {"p50": statistics.median(timings), "max": max(timings), "db_ms": statistics.median(db_ms)}


def write_section(text: str) -> Path:
    path = ROOT / "docs" / "performance.md"
    current = path.read_text()
    section = f"{START}\n{text.rstrip()}\n{END}"
    if START in current and END in current:
        before, rest = current.split(START, 1)
        current = before + section + rest.split(END, 1)[1]
    else:
        current = current.rstrip() + "\n\n" + section + "\n"
    path.write_text(current)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=30)
    parser.add_argument("--boards", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/performance.md alone")
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        parser.error("the target is measured on PostgreSQL")
    ensure_database(args.database_url)
    setup_django(args.database_url)
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    sizes = prepare(args.scale)
    log(", ".join(f"{value:,} {name}" for name, value in sizes.items()))
    load_before = os.getloadavg()[0]
    log("the city's figures worked out afresh, 10 times")
    city = city_pass()
    log(f"city pass p50 {city['p50']:.0f} ms, database {city['db_ms']:.0f} ms")
    from django.conf import settings

    log(f"{args.boards} boards × {args.rounds} polls, all at once")
    result = run(args.boards, args.rounds)
    log(f"p50 {result['p50']:.1f} ms, p95 {result['p95']:.1f} ms, {result['queries']} queries")

    from django.db import connection

    server = connection.cursor().connection.info.server_version
    shared = settings.LIVE_BOARD_CACHE_SECONDS
    per_window = args.boards * result["db_ms"] + (15 / shared if shared else 0) * city["db_ms"]
    lines = [
        "## Live operations board (`bench/live_board.py`)",
        "",
        f"`seed_demo --scale {args.scale:g}` on PostgreSQL {server // 10000}.{server % 10000}: "
        + ", ".join(f"{value:,} {name}" for name, value in sizes.items())
        + f". {args.boards} boards (threads, one connection each, committee staff of the whole tree) polled "
        f"`{URL}` together {args.rounds} times ({result['polls']} polls), in process (Django test client, "
        f"session authentication, the whole request), on {os.cpu_count()} CPU cores ({platform.machine()}), "
        f"{datetime.now():%Y-%m-%d}; load average {load_before:.1f} before and {os.getloadavg()[0]:.1f} after "
        "(other work shared the machine).",
        "",
        f"The city's figures (one pass over the shifts under way joined to their check-in rollup, the day "
        f"counters, requests and failed texts), worked out afresh: p50 {city['p50']:.0f} ms, max "
        f"{city['max']:.0f} ms, of which {city['db_ms']:.0f} ms in the database. Every board shares them for "
        f"`LIVE_BOARD_CACHE_SECONDS` = {shared}; each poll adds only the caller's hours and the team leaders' "
        "numbers:",
        "",
        "| polls | p50 ms | p95 ms | p99 ms | max ms | queries per poll (max) | database ms per poll |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {result['polls']} | {result['p50']:.1f} | {result['p95']:.1f} | {result['p99']:.1f} | {result['max']:.1f} "
        f"| {result['queries']} | {result['db_ms']:.1f} |",
        "",
        f"So {args.boards} boards polling every 15 s cost about {per_window:.0f} ms of database time per 15 s "
        f"({per_window / 150:.1f}% of one core): the polls' own reads plus the city pass once per "
        f"{shared} s, whatever the number of boards. Nothing reads assignments but the short list of who is "
        "missing at the (at most 20) shifts the rollup shows people missing at (docs/mobilisation.md).",
    ]
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    if not args.no_write:
        log(f"wrote {write_section(text).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
