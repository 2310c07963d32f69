"""The sign-up rules as database functions installed from their sources in communities/sql/.

Every path that places a volunteer or offers a place asks these functions (docs/rules.md);
migrations 0011, 0012 and 0014 no longer carry copies of them. ``SQL_DIGEST`` is the hash of the
sources this migration was written for (``communities.sql.digest``): a changed source needs a new
migration like this one.
"""

from django.db import migrations

from communities import sql

SQL_DIGEST = "386e1dc2db4f93dca8be2c17009c02925d0a19f99d374ba45244392799bbc0bd"


def install(apps, schema_editor):
    sql.install(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("communities", "0016_dispatch_recall")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop, elidable=False)]
