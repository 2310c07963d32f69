"""The language a volunteer reads messages in (empty: the programme's, ``NOTIFY_LANGUAGE``)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("volunteers", "0003_stats_indexes"),
        ("communities", "0008_statistics_counters"),
    ]

    operations = [
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
    ]
