"""The sign-up function writes the notification rows too, when the caller gives their texts.

The function this migration installed, and every later version, is now created from its source
in communities/sql/ by migration 0016 (``communities.sql.install``); no migration carries a
copy of it.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("communities", "0011_self_sign_up_function")]

    operations = []
