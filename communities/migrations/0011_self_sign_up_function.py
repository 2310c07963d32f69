"""A volunteer's own sign-up as one PostgreSQL function (communities_self_sign_up).

The function this migration installed, and every later version, is now created from its source
in communities/sql/ by migration 0016 (``communities.sql.install``); no migration carries a
copy of it.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("communities", "0010_shift_start_order_index"),
        ("volunteers", "0004_volunteer_message_language"),
    ]

    operations = []
