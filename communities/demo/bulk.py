"""Plain inserts for the demo's big tables (shifts and assignments), without the ORM's per-value work.

``bulk_create`` prepares every value through the field API and builds a multi-row statement
batch by batch; for an assignment that is most of the seed's time, and at --scale 30 (a million
rows) it takes minutes. Here each column gets one converter, chosen once per table, and rows go
in by COPY. Columns the caller leaves out take the
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
    "BooleanField",
    "DateField",
    "DateTimeField",
}


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """``count`` fresh primary keys for ``model``; call inside the transaction that inserts them."""
    table, pk = model._meta.db_table, model._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)", [table, pk, count])
        return [row[0] for row in cursor.fetchall()]


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
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for row in prepared():
            copy.write_row(row)
            count += 1
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
    return lambda value: field.get_db_prep_save(value, connection)
