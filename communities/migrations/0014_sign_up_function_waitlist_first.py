"""The sign-up function leaves a free place with people waiting to the Python form, and takes its

The function this migration installed, and every later version, is now created from its source
in communities/sql/ by migration 0016 (``communities.sql.install``); no migration carries a
copy of it.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("communities", "0013_notification_sms_delivery")]

    operations = []
