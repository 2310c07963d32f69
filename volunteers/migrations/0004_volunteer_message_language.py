"""The language a volunteer reads messages in (empty: the programme's, ``NOTIFY_LANGUAGE``).

On SQLite, adding a NOT NULL column rebuilds the volunteer table, and the rebuild drops the
triggers that keep ``communities.VolunteerCount`` (communities/0008): they are created again
after the column is added, and again after it is removed when migrating back.
"""

import importlib

from django.db import migrations, models


def sqlite_triggers_again(apps, schema_editor):
    counters = importlib.import_module("communities.migrations.0008_statistics_counters")
    counters.sqlite_triggers_again(schema_editor, counters.sqlite_volunteer_triggers())


class Migration(migrations.Migration):
    dependencies = [
        ("volunteers", "0003_stats_indexes"),
        # The triggers exist before the table is rebuilt, so they can be created again after it.
        ("communities", "0008_statistics_counters"),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, sqlite_triggers_again, elidable=False),
        migrations.AddField(
            model_name="volunteer",
            name="message_language",
            field=models.CharField(
                blank=True,
                choices=[("zh-hans", "Simplified Chinese"), ("en", "English")],
                default="",
                max_length=16,
                verbose_name="language of messages",
            ),
        ),
        migrations.RunPython(sqlite_triggers_again, migrations.RunPython.noop, elidable=False),
    ]
