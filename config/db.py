"""Database resilience: retry transactions that lost a race, answer 503 when the database is away.

PostgreSQL may abort a transaction with a deadlock (40P01) or a serialization failure (40001);
both mean "try again", so the outermost service call is retried a few times with jitter. Inside
an enclosing transaction a retry is impossible (the outer block is already doomed), so the error
is raised for the outermost caller to retry.
"""

from __future__ import annotations

import functools
import logging
import random
import time

from django.db import DatabaseError, InterfaceError, OperationalError, connection

logger = logging.getLogger(__name__)

RETRYABLE_SQLSTATES = {"40001", "40P01"}


def is_retryable(exc: BaseException) -> bool:
    cause = exc.__cause__ or exc
    return (
        getattr(cause, "sqlstate", None) in RETRYABLE_SQLSTATES or getattr(cause, "pgcode", None) in RETRYABLE_SQLSTATES
    )


def retry_on_conflict(func=None, *, attempts: int = 4, base_delay: float = 0.02):
    """Retry ``func`` (which opens its own transaction) on deadlock or serialization failure."""

    def decorate(inner):
        @functools.wraps(inner)
        def wrapper(*args, **kwargs):
            for attempt in range(1, attempts + 1):
                try:
                    return inner(*args, **kwargs)
                except DatabaseError as exc:
                    if connection.in_atomic_block or attempt == attempts or not is_retryable(exc):
                        raise
                    logger.info("retrying %s after %s (attempt %d)", inner.__name__, type(exc).__name__, attempt)
                    time.sleep(base_delay * attempt * (1 + random.random()))
            raise AssertionError("unreachable")

        return wrapper

    return decorate(func) if func is not None else decorate


def database_unavailable(exc: BaseException) -> bool:
    """True for errors that mean the database cannot be reached (not a bad query)."""
    if isinstance(exc, InterfaceError):
        return True
    if isinstance(exc, OperationalError) and not is_retryable(exc):
        text = str(exc).lower()
        return any(
            marker in text
            for marker in (
                "connection",
                "connect",
                "server closed",
                "terminating",
                "could not",
                "timeout",
                "unable to open",
            )
        )
    return False


def connection_problem(alias: str = "default", timeout: int = 5) -> str | None:
    """One line saying why the database cannot be used and what to do, or None if it answers.

    For a person starting the system (``make run``): a server that is down, a database never
    created and a refused user each get their own line instead of a driver traceback.
    """
    import psycopg
    from django.db import connections

    conn = connections[alias]
    db = conn.settings_dict
    host, port = db.get("HOST") or "localhost", db.get("PORT") or 5432
    name, user = db["NAME"], db.get("USER") or "the current user"
    params = {**conn.get_connection_params(), "connect_timeout": timeout}
    try:
        psycopg.connect(**params).close()
    except psycopg.OperationalError as exc:
        text = str(exc)
        reason = text.split("failed: ")[-1].splitlines()[0].removeprefix("FATAL:").strip()
        if f'database "{name}" does not exist' in text:
            return (
                f'PostgreSQL at {host}:{port} has no database "{name}". Create it first, '
                f"e.g. createdb -h {host} -p {port} -U {db.get('USER') or 'postgres'} {name}"
            )
        if "authentication failed" in text or ("role" in text and "does not exist" in text):
            return (
                f"PostgreSQL at {host}:{port} refused {user} ({reason}). Check the user and password in DATABASE_URL."
            )
        return (
            f"No PostgreSQL answers at {host}:{port} ({reason}). Start it or correct DATABASE_URL; "
            "without DATABASE_URL, make run starts an embedded PostgreSQL under var/."
        )
    return None
