"""Triggers that keep ``VolunteerCount`` and ``ShiftDayCount`` exact, and the rollups' first fill.

Head counts and today's shifts change in many places (registration, imports, the admin, dispatch,
anonymisation; sign-up, cancellation, waitlist promotion, shift edits), some of them plain
``UPDATE`` statements. A trigger sees every one of them, in the writer's own transaction, so the
counts commit or roll back with the change and need no call from any service.

One statement-level trigger per event with transition tables, so a bulk insert (the demo's COPY,
an import) costs one grouped upsert, rows are locked in key order, and an update that moves no
count (a waitlist ticket, a note) writes nothing. The local day of a shift uses ``TIME_ZONE`` as
it is when this migration runs; after changing ``TIME_ZONE``, migrate back to 0007 and forward
again. (Migration note: this file also held SQLite row triggers until SQLite was retired; every
database is PostgreSQL now, README "Database".)

The counts start from the rows already there. ``OrganizationDayTally`` is kept by
``communities.tallies``, not by a trigger; it is filled here from the existing cells.
"""

from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import migrations

SHIFT_TABLE, SHIFT_COUNTS = "communities_shift", "communities_shiftdaycount"
VOLUNTEER_TABLE, VOLUNTEER_COUNTS = "volunteers_volunteer", "communities_volunteercount"
EVENTS = {"INSERT": ["new"], "UPDATE": ["old", "new"], "DELETE": ["old"]}

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


def create(apps, schema_editor):
    zone = str(ZoneInfo(settings.TIME_ZONE))  # refuses an unknown zone before it reaches SQL
    _pg_create(schema_editor, zone)
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
    _pg_drop(schema_editor)
    for table in (SHIFT_COUNTS, VOLUNTEER_COUNTS, "communities_organizationdaytally"):
        schema_editor.execute(f"DELETE FROM {table}")


class Migration(migrations.Migration):
    dependencies = [("communities", "0007_statistics_rollups"), ("volunteers", "0003_stats_indexes")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
