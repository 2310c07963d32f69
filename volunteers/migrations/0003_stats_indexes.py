"""A covering index for the statistics' head counts (docs/statistics.md).

Counting volunteers, the deployed and the communities they cover per organization reads this
index alone (an index-only scan) instead of the table.
"""

from django.db import migrations

INDEXES = [
    (
        "stats_volunteer_org",
        "volunteers_volunteer (organization_id, status) INCLUDE (deployed_community_id)",
    ),
]


def create(apps, schema_editor):
    for name, definition in INDEXES:
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {definition}")


def drop(apps, schema_editor):
    for name, _definition in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("volunteers", "0002_loginfailure_volunteer_notify_by_email_and_more")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
