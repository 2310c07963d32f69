"""A shift lasts at most 24 hours (the list of shifts not yet ended starts its scan a day back)."""

import datetime

import django.db.models.expressions
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("communities", "0008_statistics_counters")]

    operations = [
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
    ]
