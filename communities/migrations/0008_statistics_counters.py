"""Triggers that keep ``VolunteerCount`` and ``ShiftDayCount`` exact, and the rollups' first fill.

Head counts and today's shifts change in many places (registration, imports, the admin, dispatch,
anonymisation; sign-up, cancellation, waitlist promotion, shift edits), some of them plain
``UPDATE`` statements. A trigger sees every one of them, in the writer's own transaction, so the
counts commit or roll back with the change and need no call from any service.

PostgreSQL: one statement-level trigger per event with transition tables, so a bulk insert (the
demo's COPY, an import) costs one grouped upsert, rows are locked in key order, and an update that
moves no count (a waitlist ticket, a note) writes nothing. The local day of a shift uses
``TIME_ZONE`` as it is when this migration runs; after changing ``TIME_ZONE``, migrate back to
0007 and forward again. SQLite (development and tests): row triggers, the local day from
SQLite's ``localtime``, which follows the ``TZ`` Django sets from ``TIME_ZONE``.

The counts start from the rows already there. ``OrganizationDayTally`` is kept by
``communities.tallies``, not by a trigger; it is filled here from the existing cells.
"""

from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import migrations

SHIFT_TABLE, SHIFT_COUNTS = "communities_shift", "communities_shiftdaycount"
VOLUNTEER_TABLE, VOLUNTEER_COUNTS = "volunteers_volunteer", "communities_volunteercount"
EVENTS = {"INSERT": ["new"], "UPDATE": ["old", "new"], "DELETE": ["old"]}

# --- PostgreSQL ------------------------------------------------------------------------------


def _pg_shift_rows(source: str, sign: str) -> str:
    return (
        f"SELECT (starts_at AT TIME ZONE TG_ARGV[0])::date AS local_day, community_id, {sign}1 AS shifts, "
        f"{sign}(confirmed_count >= capacity)::int AS filled, {sign}capacity AS places, "
        f"{sign}confirmed_count AS taken FROM {source}_rows WHERE status = 'open'"
    )


def _pg_volunteer_rows(source: str, sign: str) -> str:
    return (
        f"SELECT organization_id, status, COALESCE(deployed_community_id, 0) AS community_key, "
        f"{sign}1 AS volunteers FROM {source}_rows"
    )


def _pg_shift_upsert(sources: list[str]) -> str:
    rows = " UNION ALL ".join(_pg_shift_rows(s, "-" if s == "old" else "") for s in sources)
    return f"""
        INSERT INTO {SHIFT_COUNTS} AS c (date, community_id, shifts, filled, places, taken)
        SELECT local_day, community_id, SUM(shifts), SUM(filled), SUM(places), SUM(taken) FROM ({rows}) AS delta
        GROUP BY local_day, community_id
        HAVING SUM(shifts) <> 0 OR SUM(filled) <> 0 OR SUM(places) <> 0 OR SUM(taken) <> 0
        ORDER BY local_day, community_id
        ON CONFLICT (date, community_id) DO UPDATE SET
            shifts = c.shifts + EXCLUDED.shifts, filled = c.filled + EXCLUDED.filled,
            places = c.places + EXCLUDED.places, taken = c.taken + EXCLUDED.taken;"""


def _pg_volunteer_upsert(sources: list[str]) -> str:
    rows = " UNION ALL ".join(_pg_volunteer_rows(s, "-" if s == "old" else "") for s in sources)
    return f"""
        INSERT INTO {VOLUNTEER_COUNTS} AS c (organization_id, status, community_key, volunteers)
        SELECT organization_id, status, community_key, SUM(volunteers) FROM ({rows}) AS delta
        GROUP BY organization_id, status, community_key
        HAVING SUM(volunteers) <> 0
        ORDER BY organization_id, status, community_key
        ON CONFLICT (organization_id, status, community_key) DO UPDATE SET
            volunteers = c.volunteers + EXCLUDED.volunteers;"""


def _pg_function(name: str, upsert) -> str:
    branches = "\n    ELS".join(f"IF TG_OP = '{event}' THEN {upsert(sources)}" for event, sources in EVENTS.items())
    return f"""
CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    {branches}
    END IF;
    RETURN NULL;
END
$$;"""


def _pg_triggers(name: str, table: str, *args: str) -> list[str]:
    arguments = ", ".join("'" + a.replace("'", "''") + "'" for a in args)
    statements = []
    for event, sources in EVENTS.items():
        referencing = " ".join(f"{s.upper()} TABLE AS {s}_rows" for s in sources)
        statements.append(
            f"CREATE TRIGGER {name}_{event.lower()} AFTER {event} ON {table} REFERENCING {referencing} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {name}({arguments})"
        )
    return statements


def _pg_create(schema_editor, zone: str) -> None:
    run = schema_editor.execute
    run(_pg_function("stats_shift_day_count", _pg_shift_upsert))
    run(_pg_function("stats_volunteer_count", _pg_volunteer_upsert))
    # Creating a trigger locks its table against writes until this migration commits, so the
    # fill below and the triggers count every row exactly once.
    for statement in _pg_triggers("stats_shift_day_count", SHIFT_TABLE, zone):
        run(statement)
    for statement in _pg_triggers("stats_volunteer_count", VOLUNTEER_TABLE):
        run(statement)
    # A day's rows stay together (the fill below and the triggers insert in key order), and the
    # room left in each page lets a busy day's updates stay in place (HOT: no index change).
    for table in (SHIFT_COUNTS, VOLUNTEER_COUNTS):
        run(f"ALTER TABLE {table} SET (fillfactor = 70)")
    run(
        f"INSERT INTO {SHIFT_COUNTS} (date, community_id, shifts, filled, places, taken) "
        "SELECT (starts_at AT TIME ZONE %s)::date, community_id, COUNT(*), "
        "COUNT(*) FILTER (WHERE confirmed_count >= capacity), SUM(capacity), SUM(confirmed_count) "
        f"FROM {SHIFT_TABLE} WHERE status = 'open' GROUP BY 1, 2 ORDER BY 1, 2",
        [zone],
    )


def _pg_drop(schema_editor) -> None:
    for name, table in (("stats_shift_day_count", SHIFT_TABLE), ("stats_volunteer_count", VOLUNTEER_TABLE)):
        for event in EVENTS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}_{event.lower()} ON {table}")
        schema_editor.execute(f"DROP FUNCTION IF EXISTS {name}()")


# --- SQLite ----------------------------------------------------------------------------------

SQLITE_SHIFT_KEY = "date = date({row}.starts_at, 'localtime') AND community_id = {row}.community_id"
SQLITE_VOLUNTEER_KEY = (
    "organization_id = {row}.organization_id AND status = {row}.status "
    "AND community_key = COALESCE({row}.deployed_community_id, 0)"
)


def _sqlite_shift_add(row: str, sign: str) -> str:
    key = SQLITE_SHIFT_KEY.format(row=row)
    update = (
        f"UPDATE {SHIFT_COUNTS} SET shifts = shifts {sign} 1, "
        f"filled = filled {sign} ({row}.confirmed_count >= {row}.capacity), "
        f"places = places {sign} {row}.capacity, taken = taken {sign} {row}.confirmed_count "
        f"WHERE {row}.status = 'open' AND {key};"
    )
    if sign == "-":
        return update
    insert = (
        f"INSERT OR IGNORE INTO {SHIFT_COUNTS} (date, community_id, shifts, filled, places, taken) "
        f"SELECT date({row}.starts_at, 'localtime'), {row}.community_id, 0, 0, 0, 0 WHERE {row}.status = 'open';"
    )
    return insert + "\n    " + update


def _sqlite_volunteer_add(row: str, sign: str) -> str:
    update = (
        f"UPDATE {VOLUNTEER_COUNTS} SET volunteers = volunteers {sign} 1 WHERE {SQLITE_VOLUNTEER_KEY.format(row=row)};"
    )
    if sign == "-":
        return update
    insert = (
        f"INSERT OR IGNORE INTO {VOLUNTEER_COUNTS} (organization_id, status, community_key, volunteers) "
        f"VALUES ({row}.organization_id, {row}.status, COALESCE({row}.deployed_community_id, 0), 0);"
    )
    return insert + "\n    " + update


def _sqlite_triggers(name: str, table: str, add, columns: str, when: str) -> list[str]:
    # A subtraction only updates a row that is there: rows are never created negative, and
    # emptying the tables in any order (the test runner's flush) leaves nothing behind.
    return [
        f"CREATE TRIGGER {name}_insert AFTER INSERT ON {table} BEGIN\n    {add('NEW', '+')}\nEND",
        f"CREATE TRIGGER {name}_delete AFTER DELETE ON {table} BEGIN\n    {add('OLD', '-')}\nEND",
        f"CREATE TRIGGER {name}_update AFTER UPDATE OF {columns} ON {table} WHEN {when} BEGIN\n"
        f"    {add('OLD', '-')}\n    {add('NEW', '+')}\nEND",
    ]


def sqlite_volunteer_triggers() -> list[str]:
    """The SQLite triggers on the volunteer table. A later migration that makes SQLite rebuild that
    table (adding a NOT NULL column does) drops them and must create them again with these."""
    return _sqlite_triggers(
        "stats_volunteer_count",
        VOLUNTEER_TABLE,
        _sqlite_volunteer_add,
        "organization_id, status, deployed_community_id",
        "OLD.organization_id IS NOT NEW.organization_id OR OLD.status IS NOT NEW.status "
        "OR OLD.deployed_community_id IS NOT NEW.deployed_community_id",
    )


def sqlite_shift_triggers() -> list[str]:
    """The SQLite triggers on the shift table; see ``sqlite_volunteer_triggers``."""
    return _sqlite_triggers(
        "stats_shift_day_count",
        SHIFT_TABLE,
        _sqlite_shift_add,
        "status, starts_at, community_id, capacity, confirmed_count",
        "OLD.status IS NOT NEW.status OR OLD.starts_at IS NOT NEW.starts_at OR OLD.community_id IS NOT "
        "NEW.community_id OR OLD.capacity IS NOT NEW.capacity OR OLD.confirmed_count IS NOT NEW.confirmed_count",
    )


def sqlite_triggers_again(schema_editor, statements: list[str]) -> None:
    """Create triggers again after SQLite rebuilt their table (which dropped them)."""
    if schema_editor.connection.vendor != "sqlite":
        return
    for statement in statements:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {statement.split()[2]}")
        schema_editor.execute(statement)


def _sqlite_create(schema_editor) -> None:
    statements = sqlite_shift_triggers() + sqlite_volunteer_triggers()
    for statement in statements:
        schema_editor.execute(statement)
    schema_editor.execute(
        f"INSERT INTO {SHIFT_COUNTS} (date, community_id, shifts, filled, places, taken) "
        "SELECT date(starts_at, 'localtime'), community_id, COUNT(*), SUM(confirmed_count >= capacity), "
        f"SUM(capacity), SUM(confirmed_count) FROM {SHIFT_TABLE} WHERE status = 'open' GROUP BY 1, 2 ORDER BY 1, 2"
    )


def _sqlite_drop(schema_editor) -> None:
    for name in ("stats_shift_day_count", "stats_volunteer_count"):
        for event in EVENTS:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}_{event.lower()}")


# --- Both ------------------------------------------------------------------------------------


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        zone = str(ZoneInfo(settings.TIME_ZONE))  # refuses an unknown zone before it reaches SQL
        _pg_create(schema_editor, zone)
    elif vendor == "sqlite":
        _sqlite_create(schema_editor)
    else:
        raise NotImplementedError(f"statistics counters have no triggers for {vendor}")
    schema_editor.execute(
        f"INSERT INTO {VOLUNTEER_COUNTS} (organization_id, status, community_key, volunteers) "
        "SELECT organization_id, status, COALESCE(deployed_community_id, 0), COUNT(*) "
        f"FROM {VOLUNTEER_TABLE} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    )
    schema_editor.execute(
        "INSERT INTO communities_organizationdaytally (date, organization_id, minutes, completed, no_shows, updated_at) "
        "SELECT date, organization_id, SUM(minutes), SUM(completed), SUM(no_shows), CURRENT_TIMESTAMP "
        "FROM communities_dailytally GROUP BY 1, 2 ORDER BY 1, 2"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _pg_drop(schema_editor)
    elif schema_editor.connection.vendor == "sqlite":
        _sqlite_drop(schema_editor)
    for table in (SHIFT_COUNTS, VOLUNTEER_COUNTS, "communities_organizationdaytally"):
        schema_editor.execute(f"DELETE FROM {table}")


class Migration(migrations.Migration):
    dependencies = [("communities", "0007_statistics_rollups"), ("volunteers", "0003_stats_indexes")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
