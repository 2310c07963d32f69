"""Benchmark: import 5,000 volunteer rows from CSV and from XLSX on PostgreSQL.

    .venv/bin/python bench/import_volunteers.py [--rows 5000] [--no-docs]

Builds a fresh database (``BENCH_DATABASE_URL``, default ``vmbench_import`` on 127.0.0.1; its name
must contain "bench": it is dropped and created again, then migrated), adds reference data
(an organization tree, teams, skills, qualifications, categories), generates valid rows with
every column filled, and times ``communities.services.imports.import_run`` as the command, the admin page
and the API call it: a dry run, the import, and a re-import of the same file (all unchanged).
The XLSX round runs on top of the CSV one, so its lookups search 5,000 existing volunteers.

The figures are printed and written into docs/performance.md between the
``<!-- bench:import start -->`` and ``<!-- bench:import end -->`` markers (the rest of the file
is kept). The target is under 10 seconds for 5,000 rows.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import platform
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "performance.md"
START, END = "<!-- bench:import start -->", "<!-- bench:import end -->"
TARGET_SECONDS = 10.0
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/vmbench_import"


def recreate_database(url: str) -> None:
    from urllib.parse import urlparse

    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(f"BENCH_DATABASE_URL must name a database with 'bench' in it (it is dropped): {name!r}")
    admin = parsed._replace(path="/postgres").geturl().replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(workdir: Path) -> None:
    url = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_URL
    recreate_database(url)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    os.environ["VAR_DIR"] = str(workdir / "var")
    os.environ["DATABASE_URL"] = url
    os.environ["DEBUG"] = "False"  # DEBUG would keep every query in memory
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def reference_data():
    from volunteers.models import Organization, QualificationType, Skill, Team, VolunteerCategory
    from volunteers.services import organization_create

    committee = organization_create(name="苏州金融团工委", code="SZJR", kind=Organization.Kind.COMMITTEE)
    branches = []
    for i in range(5):
        bank = organization_create(name=f"银行{i}", code=f"BANK{i}", kind="institution", parent=committee)
        for j in range(4):
            branch = organization_create(name=f"银行{i}支行{j}", code=f"BANK{i}-{j}", kind="branch", parent=bank)
            Team.objects.create(organization=branch, name="青年突击队")
            branches.append(branch.code)
    for code in ("first-aid", "driving", "publicity", "registration"):
        Skill.objects.create(code=code, name=code)
    for code in ("medical", "psychology"):
        QualificationType.objects.create(code=code, name=code)
    for code in ("youth", "staff", "party"):
        VolunteerCategory.objects.create(code=code, name=code)
    return branches


HEADERS = [
    "姓名",
    "手机号",
    "身份证号",
    "机构代码",
    "突击队",
    "政治面貌",
    "志愿者类别",
    "技能",
    "资质",
    "资质有效期至",
    "意外保险有效期至",
    "监护人同意",
]


def make_rows(count: int, branches: list[str], offset: int) -> list[list[str]]:
    from volunteers.idcard import make_id_number

    rows = []
    insured = (date.today() + timedelta(days=365)).isoformat()
    for n in range(offset, offset + count):
        birth = date(1980, 1, 1) + timedelta(days=n // 900)
        rows.append(
            [
                f"志愿者{n}",
                f"139{n:08d}",
                make_id_number("320505", birth, n % 900),
                branches[n % len(branches)],
                "青年突击队",
                ("共青团员", "中共党员", "群众")[n % 3],
                "youth; staff" if n % 2 else "youth",
                "first-aid; driving" if n % 2 else "publicity",
                "medical" if n % 10 == 0 else "",
                insured if n % 10 == 0 else "",
                insured,
                "否",
            ]
        )
    return rows


def csv_bytes(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(HEADERS)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")


def xlsx_bytes(rows: list[list[str]]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("志愿者")
    sheet.append(HEADERS)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def timed(label: str, **kwargs) -> dict:
    from communities.services.imports import import_run

    def progress(stage: str, done: int, total: int) -> None:
        if total and done in (0, total):
            print(f"    {stage}: {done}/{total}", flush=True)

    print(f"  {label} …", flush=True)
    started = time.perf_counter()
    result = import_run(actor=None, kind="volunteers", progress=progress, **kwargs)
    seconds = time.perf_counter() - started
    if not result.ok:
        raise SystemExit(f"unexpected errors: {result.errors[:5]}")
    print(
        f"  {label}: {seconds:.2f} s ({result.rows} rows, {result.created} created, {result.unchanged} unchanged)",
        flush=True,
    )
    return {"label": label, "seconds": seconds, **result.as_dict()}


def run(rows: int) -> tuple[list[dict], dict]:
    from volunteers.models import Volunteer

    branches = reference_data()
    figures = []
    for offset, file_format in ((0, "csv"), (rows, "xlsx")):
        data = make_rows(rows, branches, offset)
        content = csv_bytes(data) if file_format == "csv" else xlsx_bytes(data)
        name = f"volunteers.{file_format}"
        print(
            f"{file_format.upper()}: {rows} rows, {len(content) / 1024:.0f} KiB; {Volunteer.objects.count()} existing"
        )
        upper = file_format.upper()
        figures.append(timed(f"{upper} dry run", file_name=name, content=content, dry_run=True))
        figures.append(timed(f"{upper} import", file_name=name, content=content))
        figures.append(timed(f"{upper} re-import (unchanged)", file_name=name, content=content))
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    environment = {
        "python": platform.python_version(),
        "postgresql": server,
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "date": date.today().isoformat(),
    }
    return figures, environment


def markdown(figures: list[dict], environment: dict, rows: int) -> str:
    lines = [
        START,
        "## Bulk import of volunteers",
        "",
        f"`bench/import_volunteers.py`: {rows:,} volunteer rows with every column filled, imported through "
        "`communities.services.imports.import_run` into a fresh PostgreSQL database. The XLSX round runs after the CSV "
        f"one, against {rows:,} existing volunteers. Target: under {TARGET_SECONDS:.0f} s for 5,000 rows.",
        "",
        "| run | rows | created | unchanged | seconds | rows/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for f in figures:
        rate = f["rows"] / f["seconds"] if f["seconds"] else 0
        lines.append(
            f"| {f['label']} | {f['rows']:,} | {f['created']:,} | {f['unchanged']:,} | {f['seconds']:.2f} | {rate:,.0f} |"
        )
    lines += [
        "",
        f"Measured {environment['date']} on {environment['machine']}, Python {environment['python']}, "
        f"PostgreSQL {environment['postgresql']}. Rerun with `.venv/bin/python bench/import_volunteers.py`; "
        "it replaces this section.",
        END,
    ]
    return "\n".join(lines)


def write_docs(section: str) -> None:
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    text = DOCS.read_text(encoding="utf-8") if DOCS.exists() else "# Performance\n"
    if START in text and END in text:
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1]
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOCS.write_text(text, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--no-docs", action="store_true", help="Print only; leave docs/performance.md alone.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vm-bench-import-") as workdir:
        setup_django(Path(workdir))
        figures, environment = run(args.rows)
        from django.db import connections

        connections.close_all()
    section = markdown(figures, environment, args.rows)
    print()
    print(section)
    if not args.no_docs:
        write_docs(section)
        print(f"\nwritten to {DOCS.relative_to(ROOT)}")
    slowest = max(f["seconds"] for f in figures)
    return 0 if slowest < TARGET_SECONDS * args.rows / 5000 else 1


if __name__ == "__main__":
    sys.exit(main())
