"""A shift lasts at most 24 hours (the list of shifts not yet ended starts its scan a day back).

On SQLite, adding a check constraint rebuilds the shift table, and the rebuild drops the triggers
that keep ``ShiftDayCount`` (0008): they are created again after it, both ways.
"""

import datetime
import importlib

import django.db.models.expressions
from django.db import migrations, models


def shift_triggers_again(apps, schema_editor):
    counters = importlib.import_module("communities.migrations.0008_statistics_counters")
    counters.sqlite_triggers_again(schema_editor, counters.sqlite_shift_triggers())


class Migration(migrations.Migration):
    dependencies = [("communities", "0008_statistics_counters")]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, shift_triggers_again, elidable=False),
        migrations.AddConstraint(
            model_name="shift",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "ends_at__lte",
                        django.db.models.expressions.CombinedExpression(
                            models.F("starts_at"), "+", models.Value(datetime.timedelta(days=1))
                        ),
                    )
                ),
                name="shift_at_most_24_hours",
                violation_error_message="A shift lasts at most 24 hours.",
            ),
        ),
        migrations.RunPython(shift_triggers_again, migrations.RunPython.noop, elidable=False),
    ]
