"""Hot queries of a fixed shape, compiled once per process instead of on every request.

Every page and API call asks the same few questions before it does its own work: whose session
is this, who is the user (with their volunteer record), which roles do they hold, how many
messages are unread. The ORM composes and compiles each of those on every request, which costs
more CPU than PostgreSQL spends answering them (docs/performance.md, "pages next to their API
twins"). Here the ORM still writes each query, once per process and database; the compiled SQL is
then run with the request's values:

- ``Compiled`` takes a function building the QuerySet from named values. It is called once with
  sentinel values; the places where the sentinels land in the compiled parameters are where each
  request's values go. A query whose shape depends on the values (``__in`` lists, ``None``
  turning into ``IS NULL``) cannot be compiled once: ``Compiled`` refuses a value whose sentinel
  does not reach the compiled parameters, rather than guess. A value may appear several times.
- ``Columns`` selects a model's concrete columns under a table alias and builds the instance
  back from a row, with the converters the ORM itself would apply: a model loaded by a
  written-out join, as ``select_related`` would load it.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import Model, QuerySet

# Values no real request passes: each marks where one named value goes in the compiled query.
# Within a 32-bit integer's range, or the ORM would compile a lookup on an ``integer`` column as
# matching nothing.
_SENTINEL_BASE = -2_046_318_517


@dataclass(frozen=True)
class _Prepared:
    sql: str
    params: list[Any]
    slots: list[tuple[int, str]]  # (index in params, the value's name)
    converters: dict  # column position -> (converter functions, expression), as the ORM's compiler keeps them


class Compiled:
    """``build(**values)`` -> QuerySet of ``values_list`` rows, compiled once per database alias
    and run with new values. The rows are converted as the ORM converts them."""

    def __init__(self, build: Callable[..., QuerySet], *names: str):
        self._build = build
        self._names = names
        self._prepared: dict[str, _Prepared] = {}
        self._lock = threading.Lock()

    def _prepare(self, alias: str) -> _Prepared:
        sentinels = {name: _SENTINEL_BASE - index for index, name in enumerate(self._names)}
        queryset = self._build(**sentinels).using(alias)
        compiler = queryset.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        converters = compiler.get_converters([column for column, _sql, _alias in compiler.select])
        slots: list[tuple[int, str]] = []
        by_value = {value: name for name, value in sentinels.items()}
        for index, value in enumerate(params):
            if isinstance(value, int) and value in by_value:
                slots.append((index, by_value[value]))
        found = [name for _index, name in slots]
        for name in self._names:
            if found.count(name) == 0:
                raise ValueError(f"Compiled: {name!r} does not reach the query's parameters as it is")
        return _Prepared(sql, list(params), slots, converters)

    def prepared(self, alias: str = "default") -> _Prepared:
        entry = self._prepared.get(alias)
        if entry is None:
            with self._lock:
                entry = self._prepared.get(alias) or self._prepare(alias)
                self._prepared[alias] = entry
        return entry

    def rows(self, alias: str = "default", **values: Any) -> list[tuple]:
        prepared = self.prepared(alias)
        params = list(prepared.params)
        for index, name in prepared.slots:
            params[index] = values[name]
        with connections[alias].cursor() as cursor:
            cursor.execute(prepared.sql, params)
            rows = cursor.fetchall()
        if prepared.converters:  # as the ORM's compiler applies them, with this thread's connection
            connection = connections[alias]
            converted = []
            for row in rows:
                row = list(row)
                for position, (functions, expression) in prepared.converters.items():
                    for convert in functions:
                        row[position] = convert(row[position], expression, connection)
                converted.append(tuple(row))
            rows = converted
        return rows

    def row(self, alias: str = "default", **values: Any) -> tuple | None:
        found = self.rows(alias, **values)
        return found[0] if found else None


@dataclass(frozen=True)
class Columns:
    """A model's concrete columns as ``alias."column"`` for a SELECT, and the model from a row."""

    model: type[Model]
    alias: str
    attnames: tuple[str, ...]
    sql: str
    converters: tuple[tuple[int, tuple, Any], ...]

    @classmethod
    @functools.cache
    def of(cls, model: type[Model], alias: str, db: str = "default") -> Columns:
        connection = connections[db]
        quote = connection.ops.quote_name
        fields = list(model._meta.concrete_fields)
        converters = []
        for index, field in enumerate(fields):
            column = field.get_col(model._meta.db_table)
            found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if found:
                converters.append((index, tuple(found), column))
        return cls(
            model=model,
            alias=alias,
            attnames=tuple(field.attname for field in fields),
            sql=", ".join(f"{alias}.{quote(field.column)}" for field in fields),
            converters=tuple(converters),
        )

    @property
    def width(self) -> int:
        return len(self.attnames)

    def build(self, row: Sequence, start: int = 0, db: str = "default") -> Model | None:
        """The instance from ``row[start:start + width]``; None when its primary key is NULL (the
        empty side of a LEFT JOIN)."""
        values = list(row[start : start + self.width])
        pk_index = self.attnames.index(self.model._meta.pk.attname)
        if values[pk_index] is None:
            return None
        connection = connections[db]
        for index, functions, column in self.converters:
            for convert in functions:
                values[index] = convert(values[index], column, connection)
        return self.model.from_db(db, self.attnames, values)


def table(model: type[Model], db: str = "default") -> str:
    return connections[db].ops.quote_name(model._meta.db_table)


def column(model: type[Model], name: str, db: str = "default") -> str:
    return connections[db].ops.quote_name(model._meta.get_field(name).column)
