"""The sign-up rules as database functions, one source file each (docs/rules.md).

Each ``<name>.sql`` here creates the function ``<name>``; ``FUNCTIONS`` lists them in the order
they are created (a function's body may call those before it). A migration installs them with
``install`` and records ``digest()`` of the sources it was written for: when a source changes, a
new migration installs them again (tests/communities/test_sign_up_function.py fails until one
does), and the drift guard compares the installed functions with these files.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

HERE = Path(__file__).resolve().parent

FUNCTIONS = (
    "communities_birthday",
    "communities_qualifications_missing",
    "communities_schedule_refusal",
    "communities_busy_of",
    "communities_busy",
    "communities_refusal",
    "communities_sign_up_refusal",
    "communities_self_sign_up",
)


def source(name: str) -> str:
    return (HERE / f"{name}.sql").read_text(encoding="utf-8")


def digest() -> str:
    """One hash of every source, in creation order."""
    sha = hashlib.sha256()
    for name in FUNCTIONS:
        sha.update(name.encode() + b"\0" + source(name).encode() + b"\0")
    return sha.hexdigest()


def install(schema_editor) -> None:
    """Drop every version of these functions (a changed signature or result needs it), then create
    them from the sources, in the migration's transaction."""
    with schema_editor.connection.cursor() as cursor:
        # Bodies are checked when first called (and by the drift guard), not here: a source may
        # read a column that a later migration adds.
        cursor.execute("SET LOCAL check_function_bodies = off")
        for name in reversed(FUNCTIONS):
            cursor.execute(
                "SELECT oid::regprocedure::text FROM pg_proc"
                " WHERE proname = %s AND pronamespace = current_schema()::regnamespace",
                [name],
            )
            for (signature,) in cursor.fetchall():
                cursor.execute(f"DROP FUNCTION {signature}")
        for name in FUNCTIONS:
            cursor.execute(source(name))
