"""Benchmark: the sign-up over HTTP, this checkout against another one (the code before a change),
alternating in one run.

    .venv/bin/python bench/signup_pairs.py --before ../before-checkout [--pairs 3] [--requests 3000]

1. Rebuilds the database (default ``vmbench_signup_pairs``) with the BEFORE checkout: drop,
   create, its ``migrate``, its ``seed_demo --scale K``; reads the database functions it installed
   (``pg_get_functiondef`` of every ``communities_*`` function). Then ``migrate`` of this
   checkout, and reads its functions likewise.
2. Adds the bench data of bench/signup_http.py (3,000 shifts of 5 places, tokens).
3. For each pair, runs both checkouts one after the other, the order alternating from pair to
   pair (before, after; after, before; ...): installs that checkout's functions, starts gunicorn
   (config/deploy/gunicorn.conf.py, production settings) from that checkout, warms it up, sends
   the same sign-ups at ``--clients`` concurrent clients, checks the invariants and empties the
   bench shifts.
4. Prints every run and the medians, and writes them into docs/performance.md between
   ``<!-- bench:signup-pairs start -->`` and ``<!-- bench:signup-pairs end -->``.

Target: the median throughput after within 5 % of before (or better), p99 under 150 ms and at least
500 sign-ups/s at 32 clients.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import signup_http as bench  # the benchmark's own helpers, next to this file

START, END = "<!-- bench:signup-pairs start -->", "<!-- bench:signup-pairs end -->"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="the checkout with the code before (a git worktree)")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=600)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--client-processes", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2022)
    parser.add_argument(
        "--database-url",
        default="postgres://postgres@127.0.0.1:5432/vmbench_signup_pairs",
        help="rebuilt, then dropped",
    )
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--settings", default="config.settings.production")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    args.queue = f"bench-signup-{secrets.token_hex(4)}"
    args.before = Path(args.before).resolve()
    return args


def functions_installed() -> list[str]:
    """Every communities_* function's CREATE OR REPLACE statement, as installed."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_functiondef(p.oid) FROM pg_proc p"
            " WHERE p.proname LIKE 'communities\\_%%' AND p.prokind = 'f'"
            " AND p.pronamespace = current_schema()::regnamespace ORDER BY p.proname"
        )
        return [row[0] for row in cursor.fetchall()]


def functions_install(definitions: list[str]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET check_function_bodies = off")
        for definition in definitions:
            cursor.execute(definition)
        cursor.execute("RESET check_function_bodies")


def git_head(root: Path) -> str:
    answer = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True)
    return answer.stdout.strip() or "?"


def main() -> int:
    args = parse_args()
    env = bench.bench_env(args)
    before_python = args.before / ".venv" / "bin" / "python"
    before_python = str(before_python if before_python.exists() else bench.PYTHON)
    for root, python in ((args.before, before_python), (bench.ROOT, bench.PYTHON)):
        bench.run_step(f"translation catalogues ({root})", [python, "-m", "config.i18n"], env, cwd=root)
    print(f"== database {args.database_url}: drop and create", flush=True)
    bench.database_recreate(args.database_url)
    workdir = Path(tempfile.mkdtemp(prefix="bench-signup-pairs-"))
    server = None
    try:
        bench.run_step("migrate (before)", [before_python, "manage.py", "migrate", "-v", "1"], env, cwd=args.before)
        bench.run_step(
            "seed_demo (before)",
            [before_python, "manage.py", "seed_demo", "--scale", f"{args.scale:g}"],
            env,
            cwd=args.before,
        )
        bench.django_setup(env)
        from django.db import connections

        before_functions = functions_installed()
        connections.close_all()
        bench.run_step("migrate (after)", [bench.PYTHON, "manage.py", "migrate", "-v", "1"], env)
        after_functions = functions_installed()
        data = bench.bench_data_create()
        database = bench.pg_params(args.database_url)["dbname"]
        warm_plan = bench.plan_make(data, args.warmup, args.seed + 1)
        plan = bench.plan_make(data, args.requests, args.seed)
        trees = {
            "before": (args.before, before_functions, git_head(args.before)),
            "after": (bench.ROOT, after_functions, git_head(bench.ROOT)),
        }
        runs: list[tuple[int, str, bench.Round]] = []
        for pair in range(args.pairs):
            order = ("before", "after") if pair % 2 == 0 else ("after", "before")
            for name in order:
                root, functions, _head = trees[name]
                functions_install(functions)
                connections.close_all()
                print(f"== pair {pair + 1}, {name}: gunicorn from {root}", flush=True)
                log = workdir / f"gunicorn-{pair}-{name}.log"
                server = bench.Server.start(env, args.workers, args.threads, log, root=root)
                try:
                    bench.load_run(server, warm_plan, min(32, len(warm_plan)), args.client_processes)
                    bench.bench_reset(data.shift_ids)
                    result = bench.load_run(server, plan, args.clients, args.client_processes, database)
                    result.invariants = bench.invariants_check()
                    result.rows = bench.bench_rows(data.shift_ids)
                    bench.round_print(result)
                    runs.append((pair, name, result))
                    bench.bench_reset(data.shift_ids)
                finally:
                    server.stop()
                    server = None
        functions_install(after_functions)
        section = report(args, trees, runs, bench.machine_facts())
        print(section)
        if not args.no_docs:
            docs_write(section)
            print(f"== written to {bench.DOCS.relative_to(bench.ROOT)}", flush=True)
    finally:
        if server is not None:
            server.stop()
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            bench.database_drop(args.database_url)
        bench.queue_delete(args.redis_url, args.queue)
    return 0


def report(args, trees, runs, facts) -> str:
    def figures(name):
        return [r for _pair, n, r in runs if n == name]

    rows = []
    for pair, name, r in runs:
        rows.append(
            f"| {pair + 1} | {name} (`{trees[name][2]}`) | {r.rate:.0f} | {r.percentile(0.5):.1f} | "
            f"{r.percentile(0.99):.1f} | {r.non_201} | {r.overbooked} | "
            f"{r.machine.get('web_cpu', 0) / r.seconds:.2f} | {r.machine.get('pg_cpu', 0) / r.seconds:.2f} | "
            f"{r.machine.get('machine_busy', 0) / r.seconds:.2f} |"
        )
    before_rate = statistics.median(r.rate for r in figures("before"))
    after_rate = statistics.median(r.rate for r in figures("after"))
    before_p99 = statistics.median(r.percentile(0.99) for r in figures("before"))
    after_p99 = statistics.median(r.percentile(0.99) for r in figures("after"))
    ratio = after_rate / before_rate
    met = {
        "within 5 % of before or better": ratio >= 0.95,
        "p99 under 150 ms": max(r.percentile(0.99) for r in figures("after")) < 150,
        "at least 500 sign-ups/s": after_rate >= 500,
    }
    verdict = "; ".join(f"{what}: {'yes' if ok else 'NO'}" for what, ok in met.items())
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"""{START}
## Sign-up: the code before and after, alternating (`bench/signup_pairs.py`)

Measured {when} on {facts.get("cpus", "?")} CPU cores ({facts.get("cpu_model", "?")}), PostgreSQL
{facts.get("postgres", "?")}, Python {facts.get("python", "?")}. `seed_demo --scale {args.scale:g}` built by the
code before, then migrated by the code after; the bench data of `bench/signup_http.py`. Each run:
gunicorn {args.workers} x {args.threads} from that checkout with its own database functions installed,
{args.warmup} warm-up sign-ups, then {args.requests:,} sign-ups at {args.clients} clients; the order
alternates from pair to pair. The machine is shared with other work: compare the two columns of a pair.

| pair | code | sign-ups/s | p50 ms | p99 ms | non-201 | overbooked | cores: gunicorn | cores: PostgreSQL | cores: whole machine |
| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
{chr(10).join(rows)}

Medians: before {before_rate:.0f}/s (p99 {before_p99:.1f} ms), after {after_rate:.0f}/s (p99 {after_p99:.1f} ms):
after / before = {ratio:.3f}. Targets: {verdict}.

Rerun: `.venv/bin/python bench/signup_pairs.py --before <checkout of the code before> --pairs {args.pairs}`.
{END}
"""


def docs_write(section: str) -> None:
    text = bench.DOCS.read_text()
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + section.rstrip("\n") + rest.split(END, 1)[1]
    else:
        marker = "<!-- bench:signup end -->"
        head, tail = text.split(marker, 1)
        text = head + marker + "\n\n" + section.rstrip("\n") + tail
    bench.DOCS.write_text(text)


if __name__ == "__main__":
    raise SystemExit(main())
