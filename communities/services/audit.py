"""The audit trail: one row per change to attendance, hours or a shift, written by the services."""

from __future__ import annotations

from datetime import datetime

from communities.models import Assignment, AuditEntry, Shift

ATTENDANCE_FIELDS = ("status", "checked_in_at", "checked_out_at", "credited_minutes", "hours_status")


def _plain(value):
    return value.isoformat() if isinstance(value, datetime) else value


def snapshot(assignment: Assignment, fields=ATTENDANCE_FIELDS) -> dict:
    return {field: _plain(getattr(assignment, field)) for field in fields}


def audit_record(
    *,
    action: str,
    actor=None,
    assignment: Assignment | None = None,
    shift: Shift | None = None,
    volunteer=None,
    before: dict | None = None,
    after: dict | None = None,
    reason: str = "",
) -> AuditEntry:
    return AuditEntry.objects.create(
        action=action,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        assignment=assignment,
        shift=shift or (assignment.shift if assignment is not None else None),
        volunteer=volunteer,
        before=before or {},
        after=after or {},
        reason=reason,
    )
