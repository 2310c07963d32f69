"""Plain inserts for the demo's big tables (shifts and assignments), without the ORM's per-value work.

``bulk_create`` prepares every value through the field API and builds a multi-row statement
batch by batch; for an assignment that is most of the seed's time, and at --scale 30 (a million
rows) it takes minutes. Here each column gets one converter, chosen once per table, and rows go
in by COPY on PostgreSQL or ``executemany`` on SQLite. Columns the caller leaves out take the
field's default (callable defaults are called per row, ``auto_now`` fields get the current time),
so a field added to a model later with a default needs no change here.

Ids are reserved up front, so the caller can point other rows at these without reading them back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import connection, models
from django.utils import timezone

PASS_THROUGH = {
    "CharField",
    "TextField",
    "SlugField",
    "IntegerField",
    "SmallIntegerField",
    "BigIntegerField",
    "PositiveIntegerField",
    "PositiveSmallIntegerField",
    "PositiveBigIntegerField",
    "AutoField",
    "BigAutoField",
    "ForeignKey",
    "OneToOneField",
    "BooleanField",  # SQLite's driver stores a bool as 0 or 1, as Django does
}


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """``count`` fresh primary keys for ``model``; call inside the transaction that inserts them."""
    table, pk = model._meta.db_table, model._meta.pk.column
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)", [table, pk, count]
            )
            return [row[0] for row in cursor.fetchall()]
        # SQLite: the transaction holds the only write lock, so the ids after the highest ever
        # issued (AUTOINCREMENT never reuses one) stay free until it commits.
        cursor.execute(f'SELECT COALESCE(MAX("{pk}"), 0) FROM "{table}"')  # noqa: S608 - names from the model
        highest = cursor.fetchone()[0]
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        row = cursor.fetchone()
        first = max(highest, row[0] if row else 0) + 1
        return list(range(first, first + count))


def insert_rows(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert ``rows`` (values for ``columns``, by attname such as ``shift_id``); return how many."""
    now = timezone.now()
    fields = [f for f in model._meta.concrete_fields if f.attname in columns or not f.primary_key]
    given = {name: i for i, name in enumerate(columns)}
    getters = [_getter(field, given, now) for field in fields]
    converters = [_converter(field) for field in fields]
    names = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)

    def prepared():
        for row in rows:
            yield tuple(
                value if convert is None or value is None else convert(value)
                for value, convert in zip((get(row) for get in getters), converters, strict=True)
            )

    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in prepared():
                    copy.write_row(row)
                    count += 1
        else:
            batch = list(prepared())
            placeholders = ", ".join(["%s"] * len(fields))
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({placeholders})", batch)  # noqa: S608
            count = len(batch)
    return count


def _getter(field: models.Field, given: dict[str, int], now) -> Callable[[Sequence[Any]], Any]:
    if field.attname in given:
        index = given[field.attname]
        return lambda row: row[index]
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return lambda row: now
    if field.has_default() and callable(field.default):
        return lambda row: field.default()
    value = field.get_default()  # the declared default, "" for text, else None
    return lambda row: value


def _converter(field: models.Field) -> Callable[[Any], Any] | None:
    """How a Python value becomes what the driver takes; None where it takes the value as it is."""
    kind = field.get_internal_type()
    if kind in PASS_THROUGH:
        return None
    if connection.vendor == "postgresql" and kind in {"DateField", "DateTimeField"}:
        return None
    if kind == "DateTimeField":
        # What Django's SQLite backend stores: naive text in the connection's time zone (UTC).
        zone = connection.timezone
        return lambda value: str(value.astimezone(zone).replace(tzinfo=None))
    return lambda value: field.get_db_prep_save(value, connection)
