"""``manage.py import_volunteers FILE [--dry-run] [--kind volunteers|communities|posts] [--user NAME]``.

Thin: reads the file and calls ``communities.services.imports.import_run``. Prints progress, the counts and,
when any row is bad, every error as a table; exits non-zero on errors (nothing is written then).
"""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from communities.services.imports import KINDS, import_run
from config.errors import ServiceError


class Command(BaseCommand):
    help = "Import volunteers, communities or posts from an .xlsx or .csv file (all or nothing)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="Path to the .xlsx or .csv file.")
        parser.add_argument("--kind", choices=KINDS, default="volunteers")
        parser.add_argument("--dry-run", action="store_true", help="Check every row; write nothing.")
        parser.add_argument(
            "--user",
            help="Import as this user (their scope applies and the batch is recorded as theirs). "
            "Without it, the operator may import into any organization or community.",
        )

    def handle(self, *args, file, kind, dry_run, user=None, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        actor = None
        if user:
            actor = get_user_model().objects.filter(username=user).first()
            if actor is None:
                raise CommandError(f"No such user: {user}")
        last_reported: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if last_reported.get(stage) == done:
                return
            last_reported[stage] = done
            self.stdout.write(f"{stage}: {done}/{total}" if total else f"{stage} {path.name}")

        try:
            with path.open("rb") as file:
                result = import_run(
                    kind=kind, file_name=path.name, content=file, actor=actor, dry_run=dry_run, progress=progress
                )
        except ServiceError as error:
            raise CommandError(f"{error.code}: {error.message}") from None

        label = "dry run: " if dry_run else ""
        if not result.ok:
            self.stdout.write(self._table(result.errors))
            raise CommandError(f"{label}{len(result.errors)} error(s) in {result.rows} row(s); nothing was imported.")
        created, updated = ("would be created", "would be updated") if dry_run else ("created", "updated")
        for row in result.changes if dry_run else ():
            changes = "; ".join(f"{c['column']}: {c['before'] or '—'} → {c['after']}" for c in row["changes"])
            self.stdout.write(f"line {row['line']} {row['action']} {row['name']} {row['volunteer_number']}: {changes}")
        self.stdout.write(
            self.style.SUCCESS(
                f"{label}{result.rows} row(s): {result.created} {created}, {result.updated} {updated}, "
                f"{result.unchanged} unchanged."
            )
        )

    @staticmethod
    def _table(errors: list[dict]) -> str:
        header = {"line": "line", "column": "column", "code": "code", "message": "message"}
        rows = [header, *({k: str(e[k]) for k in header} for e in errors)]
        widths = {k: max(_width(r[k]) for r in rows) for k in ("line", "column", "code")}
        lines = []
        for row in rows:
            cells = [_pad(row[k], widths[k]) for k in ("line", "column", "code")]
            lines.append("  ".join([*cells, row["message"]]))
        return "\n".join(lines)


def _width(text: str) -> int:
    # Chinese characters take two columns in a terminal.
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
