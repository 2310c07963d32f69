"""Run every benchmark, at demo scale and at city scale where it applies, then refresh the summary.

    .venv/bin/python bench/run_all.py [--dry-run] [--only NAME,...] [--skip NAME,...]
    make bench

Each benchmark is its own command and writes its own section of docs/performance.md; this runs
them in order, printing progress, and stops at the first one that fails. At the end it rewrites
the introduction and the ``bench:summary`` section at the top of docs/performance.md: the
machine, the date, the command and one line per benchmark with a link to its section.

City scale (``seed_demo --scale 30``: about 100,000 volunteers, 12,000 communities, a million
assignments) is seeded once by ``endpoints.py`` into ``vmbench_city``, which ``stats.py`` then
reuses. Expect an hour or more on two cores.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DOCS = ROOT / "docs" / "performance.md"
PG = "postgres://postgres@127.0.0.1:5432"
CITY_URL = f"{PG}/vmbench_city"
SUMMARY_START, SUMMARY_END = "<!-- bench:summary start -->", "<!-- bench:summary end -->"
INTRO = """# Performance

Figures from the benchmarks in `bench/` (see `bench/README.md`). Every section below is written by
its own script between `<!-- bench:NAME start -->` and `<!-- bench:NAME end -->` markers; a rerun
replaces only its section.

Rerun everything with `make bench` (`.venv/bin/python bench/run_all.py`; an hour or more, needs
PostgreSQL and Redis), or one benchmark with the command named in its section. The machine is
shared with other engineers' work: absolute figures are noisy, so compare ratios between rows of
one run rather than figures from different runs.
"""


@dataclass
class Step:
    name: str
    what: str
    command: list[str]
    marker: str  # the docs section the step writes


def steps() -> list[Step]:
    bench = ROOT / "bench"
    return [
        Step(
            "import",
            "bulk import of 5,000 volunteers, CSV and XLSX (PostgreSQL, vmbench_import)",
            [PYTHON, str(bench / "import_volunteers.py")],
            "import",
        ),
        Step(
            "reminders",
            "100,000 due reminders through one Celery worker (PostgreSQL, vmbench_reminders)",
            [PYTHON, str(bench / "reminders.py")],
            "reminders-postgresql",
        ),
        Step(
            "signup",
            "concurrent sign-ups over HTTP at 32 and 128 clients, scale 1 (`--scale 30` also works)",
            [PYTHON, str(bench / "signup_http.py"), "--scale", "1"],
            "signup",
        ),
        Step(
            "login-codes",
            "a crowd of volunteers logs in by texted code within five minutes, next to passwords (scale 1)",
            [PYTHON, str(bench / "login_codes.py")],
            "login-codes",
        ),
        Step(
            "pages",
            "the pages of a shift day next to their API twins: CPU per request side by side (scale 1)",
            [PYTHON, str(bench / "pages.py")],
            "pages",
        ),
        Step(
            "endpoints-s1",
            "read endpoints: latency, queries, RSS at demo scale",
            [
                PYTHON,
                str(bench / "endpoints.py"),
                "--scale",
                "1",
                "--database-url",
                f"{PG}/vmbench_endpoints_demo",
                "--drop-db",
            ],
            "endpoints-s1",
        ),
        Step(
            "endpoints-s30",
            "city scale: seed time, read endpoints' latency, queries, RSS (keeps vmbench_city)",
            # The communities XLSX export is quadratic in its rows (minutes per request at this
            # scale: `ws.max_row` per cell in communities/render/exports.py); measured at demo scale only for now.
            [
                PYTHON,
                str(bench / "endpoints.py"),
                "--scale",
                "30",
                "--database-url",
                CITY_URL,
                "--skip",
                "communities/?export",
            ],
            "endpoints-s30",
        ),
        Step(
            "stats",
            "statistics endpoints at city scale (reuses vmbench_city)",
            [PYTHON, str(bench / "stats.py"), "--scale", "30", "--database-url", CITY_URL],
            "stats",
        ),
        Step(
            "live",
            "the live operations board at city scale: the shared computation and each poll",
            [PYTHON, str(bench / "live_board.py"), "--scale", "30", "--database-url", CITY_URL],
            "live",
        ),
    ]


def machine() -> str:
    import psutil

    model = platform.processor() or "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    postgres = "PostgreSQL unknown"
    with contextlib.suppress(Exception):
        import psycopg

        with psycopg.connect(f"{PG}/postgres") as conn:
            postgres = "PostgreSQL " + conn.execute("SHOW server_version").fetchone()[0]
    return (
        f"{os.cpu_count()} CPU cores ({model}), {psutil.virtual_memory().total / 2**30:.0f} GB RAM, "
        f"{postgres}, Python {platform.python_version()}, {platform.system()} {platform.machine()}"
    )


def anchor(marker: str, text: str) -> str:
    """GitHub's anchor for the first heading of a section, or "" when the section is missing."""
    start = f"<!-- bench:{marker} start -->"
    if start not in text:
        return ""
    for line in text.split(start, 1)[1].splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            return re.sub(r"[^\w\- ]", "", title).replace(" ", "-")
    return ""


def section_date(marker: str, text: str) -> str:
    """The first date written in a section: when its benchmark last ran."""
    start, end = f"<!-- bench:{marker} start -->", f"<!-- bench:{marker} end -->"
    if start not in text or end not in text:
        return "missing"
    found = re.search(r"20\d\d-\d\d-\d\d", text.split(start, 1)[1].split(end, 1)[0])
    return found.group(0) if found else "-"


def summary(chosen: list[Step], ran: dict[str, tuple[str, float]], command: str, text: str) -> str:
    loads = os.getloadavg()
    lines = [
        SUMMARY_START,
        "## Summary",
        "",
        f"Written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by `{command}` on {machine()}; "
        f"load average at the end {loads[0]:.1f} / {loads[1]:.1f} / {loads[2]:.1f} (1 / 5 / 15 min).",
        "",
        "| benchmark | what | command | this run | section dated |",
        "| --- | --- | --- | --- | --- |",
    ]
    for step in chosen:
        command_text = " ".join(shlex.quote(part) for part in step_display(step.command))
        link = anchor(step.marker, text)
        name = f"[{step.name}](#{link})" if link else step.name
        if step.name in ran:
            outcome, seconds = ran[step.name]
            result = f"{outcome} in this run ({seconds / 60:.1f} min)"
        else:
            result = "not rerun"
        lines.append(f"| {name} | {step.what} | `{command_text}` | {result} | {section_date(step.marker, text)} |")
    lines.append(SUMMARY_END)
    return "\n".join(lines) + "\n"


def step_display(command: list[str]) -> list[str]:
    """The command as a reader would type it from the project root."""
    shown = [".venv/bin/python" if command[0] == PYTHON else command[0]]
    return shown + [str(Path(part).relative_to(ROOT)) if part.startswith(str(ROOT)) else part for part in command[1:]]


def docs_refresh(section: str) -> None:
    """The intro and the summary at the top; every other section kept as it is."""
    text = DOCS.read_text() if DOCS.exists() else ""
    if SUMMARY_START in text and SUMMARY_END in text:
        text = text.split(SUMMARY_END, 1)[1]
    first = text.find("<!-- bench:")
    body = text[first:] if first >= 0 else ""
    DOCS.write_text(f"{INTRO}\n{section}\n{body.lstrip()}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="print the commands and change nothing")
    parser.add_argument("--only", default="", help="comma-separated benchmark names to run (default: all)")
    parser.add_argument("--skip", default="", help="comma-separated benchmark names to leave out")
    parser.add_argument(
        "--summary-only", action="store_true", help="run nothing; rewrite the intro and summary from the sections"
    )
    args = parser.parse_args()
    chosen = steps()
    names = [s.name for s in chosen]
    for option in (args.only, args.skip):
        unknown = {n for n in option.split(",") if n} - set(names)
        if unknown:
            parser.error(f"unknown benchmark(s) {', '.join(sorted(unknown))}; choose from {', '.join(names)}")
    if args.only:
        chosen = [s for s in chosen if s.name in args.only.split(",")]
    chosen = [s for s in chosen if s.name not in args.skip.split(",")]
    command = "make bench" if os.environ.get("MAKELEVEL") else " ".join(["bench/run_all.py", *sys.argv[1:]])

    ran: dict[str, tuple[str, float]] = {}
    for index, step in enumerate([] if args.summary_only else chosen, start=1):
        shown = " ".join(shlex.quote(part) for part in step_display(step.command))
        print(f"\n=== [{index}/{len(chosen)}] {step.name}: {shown}", flush=True)
        if args.dry_run:
            print(f"    writes <!-- bench:{step.marker} --> in {DOCS.relative_to(ROOT)}", flush=True)
            continue
        started = time.perf_counter()
        completed = subprocess.run(step.command, cwd=ROOT)
        seconds = time.perf_counter() - started
        if completed.returncode != 0:
            print(
                f"\n=== FAILED: {step.name} exited with status {completed.returncode} after {seconds / 60:.1f} min.\n"
                f"    Command: {shown}\n"
                "    The benchmarks after it did not run; docs/performance.md keeps the sections written so far.",
                file=sys.stderr,
                flush=True,
            )
            return completed.returncode
        ran[step.name] = ("done", seconds)
        print(f"=== {step.name} done in {seconds / 60:.1f} min", flush=True)

    if args.dry_run:
        print("\n(dry run: nothing ran, docs/performance.md unchanged)")
        return 0
    text = DOCS.read_text() if DOCS.exists() else ""
    docs_refresh(summary(steps(), ran, command, text))
    print(f"\n=== {len(ran)} benchmark(s) run; summary written to {DOCS.relative_to(ROOT)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
