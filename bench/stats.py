"""Latency of the statistics overview and organization endpoints on a city-scale demo, on PostgreSQL.

    .venv/bin/python bench/stats.py [--scale 30] [--requests 200] [--database-url URL] [--no-write]

Seeds (or reuses) the database at ``--database-url`` with ``seed_demo --scale N`` (about 100,000
volunteers and a million assignments at 30), fills the tallies, then calls each endpoint in
process through Django's test client with a token, as committee staff of the whole tree and as
staff of one institution, and reports p50/p95/p99. The figures go into docs/performance.md
between ``<!-- bench:stats start -->`` and ``<!-- bench:stats end -->``; other sections are kept.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/vmbench_stats"
START, END = "<!-- bench:stats start -->", "<!-- bench:stats end -->"
# Vacuumed once after seeding, as autovacuum would in service, so index-only scans see visible pages.
TABLES = (
    "volunteers_volunteer",
    "volunteers_volunteertally",
    "volunteers_organization",
    "communities_shift",
    "communities_assignment",
    "communities_dailytally",
    "communities_organizationdaytally",
    "communities_volunteercount",
    "communities_shiftdaycount",
)
ENDPOINTS = ["/api/v1/stats/overview/", "/api/v1/stats/organizations/"]


def log(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


def ensure_database(url: str) -> None:
    from urllib.parse import urlparse

    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            log(f"creating database {name}")
            connection.execute(f'CREATE DATABASE "{name}"')


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    os.environ["DEBUG"] = "false"  # no query log: it would slow every request and grow memory
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.test.utils import setup_test_environment

    setup_test_environment()


def prepare(scale: float) -> dict:
    from django.core.management import call_command
    from django.db import connection

    from communities.models import Assignment, DailyTally, Shift
    from communities.services import tallies
    from volunteers.models import Volunteer

    log("migrating")
    call_command("migrate", verbosity=0)
    if not Volunteer.objects.exists():
        log(f"seeding the demo at scale {scale:g} (several minutes)")
        call_command("seed_demo", scale=scale, stdout=sys.stdout)
    else:
        log("reusing the seeded database")
    if not DailyTally.objects.exists():
        log("filling the tallies")
        tallies.tallies_recount_all()
    log("vacuum analyze")
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"VACUUM ANALYZE {table}")
    return {
        "volunteers": Volunteer.objects.count(),
        "assignments": Assignment.objects.count(),
        "shifts": Shift.objects.count(),
        "tally_cells": DailyTally.objects.count(),
    }


def callers() -> list[tuple[str, object]]:
    from django.contrib.auth import get_user_model

    from volunteers.models import Organization, OrganizationStaff

    user_model = get_user_model()
    committee = user_model.objects.get(username="tuanwei")
    institution = Organization.objects.filter(kind=Organization.Kind.INSTITUTION).order_by("path").first()
    staff, _created = user_model.objects.get_or_create(username="bench-institution-staff")
    OrganizationStaff.objects.get_or_create(user=staff, organization=institution)
    return [("committee staff (whole tree)", committee), (f"institution staff ({institution.code})", staff)]


def measure(user, url: str, requests: int) -> dict:
    from django.db import connection, reset_queries
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    token, _created = Token.objects.get_or_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    for _ in range(10):  # warm the connection, caches and code paths
        assert client.get(url).status_code == 200
    timings = []
    for index in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.content[:200]
        if (index + 1) % 50 == 0:
            log(f"  {url}: {index + 1}/{requests}")
    connection.force_debug_cursor = True
    reset_queries()
    client.get(url)
    queries = len(connection.queries)
    connection.force_debug_cursor = False
    timings.sort()

    def pct(p: float) -> float:
        return timings[min(len(timings) - 1, max(0, round(p / 100 * len(timings)) - 1))]

    return {
        "p50": statistics.median(timings),
        "p95": pct(95),
        "p99": pct(99),
        "max": timings[-1],
        "queries": queries,
    }


def write_section(text: str) -> Path:
    path = ROOT / "docs" / "performance.md"
    path.parent.mkdir(exist_ok=True)
    current = (
        path.read_text()
        if path.exists()
        else "# Performance\n\nBenchmark figures; each section is written by its script in `bench/`.\n"
    )
    section = f"{START}\n{text.rstrip()}\n{END}"
    if START in current and END in current:
        before, rest = current.split(START, 1)
        after = rest.split(END, 1)[1]
        current = before + section + after
    else:
        current = current.rstrip() + "\n\n" + section + "\n"
    path.write_text(current)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=30)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/performance.md alone")
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        parser.error("the target is measured on PostgreSQL")

    ensure_database(args.database_url)
    setup_django(args.database_url)
    sizes = prepare(args.scale)
    log(", ".join(f"{value:,} {name}" for name, value in sizes.items()))
    load_before = os.getloadavg()[0]
    rows = []
    for label, user in callers():
        for url in ENDPOINTS:
            log(f"{label}: {url} × {args.requests}")
            result = measure(user, url, args.requests)
            rows.append((label, url, result))
            log(f"  p50 {result['p50']:.1f} ms, p95 {result['p95']:.1f} ms, p99 {result['p99']:.1f} ms")

    from django.db import connection

    server = connection.cursor().connection.info.server_version
    lines = [
        "## Statistics endpoints (`bench/stats.py`)",
        "",
        f"`seed_demo --scale {args.scale:g}` on PostgreSQL {server // 10000}.{server % 10000}: "
        + ", ".join(f"{value:,} {name.replace('_', ' ')}" for name, value in sizes.items())
        + f". {args.requests} requests per row after 10 warm-up requests, in process (Django test client, token "
        f"authentication, the whole request: middleware, scope, queries, JSON), one at a time, on "
        f"{os.cpu_count()} CPU cores ({platform.machine()}), {datetime.now():%Y-%m-%d}; load average "
        f"{load_before:.1f} before and {os.getloadavg()[0]:.1f} after (other work shared the machine). "
        "Target: p95 under 50 ms. Analysis and what remains: docs/statistics.md.",
        "",
        "| caller | endpoint | p50 ms | p95 ms | p99 ms | max ms | queries |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, url, r in rows:
        lines.append(
            f"| {label} | `{url}` | {r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} | {r['max']:.1f} | {r['queries']} |"
        )
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    if not args.no_write:
        log(f"wrote {write_section(text).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
