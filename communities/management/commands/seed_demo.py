"""``manage.py seed_demo [--seed N] [--scale K]``: the Suzhou 2022 demo scenario."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from communities.demo import DEMO_LOGINS, DEMO_PASSWORD
from communities.demo.builder import COMMUNITIES, DEPLOYED, MAX_SCALE, VOLUNTEERS, DemoConflict, demo_seed


class Command(BaseCommand):
    help = (
        f"Load the demo: {VOLUNTEERS:,} volunteers, {DEPLOYED:,} of them deployed to {COMMUNITIES:,} communities, "
        "two weeks of shifts around today. Deterministic per --seed; does nothing if the demo is already loaded."
    )

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=2022, help="random seed (default 2022)")
        parser.add_argument(
            "--scale",
            type=float,
            default=1.0,
            help=f"multiply volunteers and communities, e.g. 30 for benchmarks, 0.1 for a quick look (max {MAX_SCALE})",
        )

    def handle(self, *args, seed: int, scale: float, **options):
        if not 0 < scale <= MAX_SCALE:
            raise CommandError(f"--scale must be above 0 and at most {MAX_SCALE}.")
        try:
            summary = demo_seed(seed=seed, scale=scale, log=self.stdout.write)
        except (DemoConflict, ValueError) as error:
            raise CommandError(str(error)) from error

        counts = ", ".join(f"{value:,} {name}" for name, value in summary.counts.items())
        if not summary.created:
            self.stdout.write(f"The demo data is already loaded; nothing changed. ({counts})")
            return
        # Fresh planner statistics: without them the first queries plan for empty tables.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        self.stdout.write(self.style.SUCCESS(f"Demo loaded in {summary.seconds:.1f}s: {counts}."))
        self.stdout.write(f"Log in with password {DEMO_PASSWORD!r}, or by texted code to the mobile, as:")
        for role, username, mobile, what in DEMO_LOGINS:
            self.stdout.write(f"  {username:<12} {mobile or '-':<12} {role}: {what}")
