"""The sign-up function leaves a free place with people waiting to the Python form, and takes its
row locks as ``FOR NO KEY UPDATE``.

A place can be free while volunteers wait: a promotion passes over someone with a clash, which
may go away later. The next sign-up must then offer the place down the waiting line first
(``communities.services.waitlist_promote``), not to the newcomer. The function does not promote;
it now answers ``waitlist_first`` before locking the volunteer or writing anything, and the caller
runs the Python form, which does. Its locks become ``FOR NO KEY UPDATE``, as every lock taken
through ``communities.locks`` (docs/concurrency.md). Otherwise the function is migration 0012's.

Nothing happens on SQLite.
"""

from importlib import import_module

from django.db import migrations

_0012 = import_module("communities.migrations.0012_sign_up_function_writes_notifications")

_STEP_2 = "    -- 2. Then the volunteer"
_WAITLIST_FIRST = """    -- 1b. A free place while people wait: the line comes first, in the Python form.
    IF s.waitlist_count > 0 AND s.confirmed_count < s.capacity THEN
        code := 'waitlist_first';
        RETURN;
    END IF;

"""


def _sign_up() -> str:
    sql = _0012.SIGN_UP
    for old, new in (
        ("FOR UPDATE OF sh;", "FOR NO KEY UPDATE OF sh;"),
        ("FOR UPDATE OF vo;", "FOR NO KEY UPDATE OF vo;"),
        (_STEP_2, _WAITLIST_FIRST + _STEP_2),
    ):
        if sql.count(old) != 1:
            raise ValueError(f"migration 0012's function has changed: {old!r}")
        sql = sql.replace(old, new)
    return sql


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_sign_up())


def restore(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_0012.SIGN_UP)


class Migration(migrations.Migration):
    dependencies = [("communities", "0013_notification_sms_delivery")]

    operations = [migrations.RunPython(create, restore, elidable=False)]
