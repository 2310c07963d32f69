"""The sign-up rules installed again from communities/sql/: a volunteer's busy time
(``communities_busy``) is now their row of ``communities_busy_of``, everyone's busy time near a
span, which a coordinator's candidates read in one pass (docs/rules.md). ``SQL_DIGEST`` is the
hash of the sources this migration was written for (``communities.sql.digest``).
"""

from django.db import migrations

from communities import sql

SQL_DIGEST = "357989403f2852b9c185cafc19379d6818ccaebad067ec204215ae15ee49f773"


def install(apps, schema_editor):
    sql.install(schema_editor)


class Migration(migrations.Migration):
    dependencies = [("communities", "0019_mobilisation_loop")]

    operations = [migrations.RunPython(install, migrations.RunPython.noop, elidable=False)]
