"""Covering indexes for the statistics (docs/statistics.md, docs/performance.md).

Created with SQL rather than ``Meta.indexes``: INCLUDE columns make them covering, so today's
shifts, today's check-ins and a week of tally cells are read by index-only scans.
"""

from django.db import migrations

INDEXES = [
    (
        "stats_shift_day",
        "communities_shift (starts_at) INCLUDE (status, community_id, capacity, confirmed_count)",
    ),
    (
        "stats_assignment_checkin",
        "communities_assignment (checked_in_at) INCLUDE (volunteer_id) WHERE checked_in_at IS NOT NULL",
    ),
    (
        "stats_tally_date",
        "communities_dailytally (date) INCLUDE (organization_id, community_id, minutes, completed, no_shows)",
    ),
    (
        "stats_tally_org",
        "communities_dailytally (organization_id) INCLUDE (date, community_id, minutes, completed, no_shows)",
    ),
]


def create(apps, schema_editor):
    for name, definition in INDEXES:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {definition}")


def drop(apps, schema_editor):
    for name, _definition in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("communities", "0005_notification_state_skipped")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
