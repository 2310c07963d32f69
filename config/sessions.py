"""Django's database sessions, read with one written-out query (config/prepared.py).

Every page reads its session first. ``Session.objects.get(...)`` composes and compiles the same
query on each request; the store below runs it as written once, and builds the same ``Session``.
Writing, expiry and everything else is Django's ``db`` store as it is.
"""

from __future__ import annotations

import functools

from django.contrib.sessions.backends import db
from django.contrib.sessions.models import Session
from django.db import connections, router
from django.utils import timezone

from config.prepared import Columns, column, table


@functools.cache
def _query(alias: str) -> tuple[str, Columns]:
    columns = Columns.of(Session, "s", alias)
    sql = (
        f"SELECT {columns.sql} FROM {table(Session, alias)} s "  # noqa: S608 - quoted names only
        f"WHERE s.{column(Session, 'session_key', alias)} = %s AND s.{column(Session, 'expire_date', alias)} > %s"
    )
    return sql, columns


class SessionStore(db.SessionStore):
    def _get_session_from_db(self):
        key = self.session_key
        if key is None:
            return None
        alias = router.db_for_read(Session)
        sql, columns = _query(alias)
        with connections[alias].cursor() as cursor:
            cursor.execute(sql, [key, timezone.now()])
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return None
        return columns.build(row, db=alias)
