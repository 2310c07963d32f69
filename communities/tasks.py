"""Celery tasks for communities: thin wrappers over services, safe to run twice or at once.

Time-driven work comes from beat (``CELERY_BEAT_SCHEDULE``, every minute) sweeping database
state; nothing here is scheduled with an ETA or countdown, so a broker that forgets its queue
(the development Redis keeps nothing on disk) loses no message, only up to a minute of delay.
"""

from __future__ import annotations

from datetime import date

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=540, time_limit=600)
def notifications_sweep() -> dict:
    """Create the due reminders, nudges and escalations, write out call-outs whose own task never
    ran, then start senders for what is due."""
    from communities.notifications import outbox
    from communities.services.broadcasts import broadcast_pending_sweep

    created = outbox.sweep()
    created["call_outs"] = broadcast_pending_sweep()
    created["send_tasks"] = outbox.start_drains()
    return created


@shared_task(acks_late=True, ignore_result=True)
def notifications_send(keys: list[str] | None = None) -> dict:
    """Send the rows named by ``keys`` if they are due, or, without keys, whatever is due.

    Without keys the task sends batch after batch for ``DRAIN_SECONDS`` and, if rows are still
    due then, enqueues its own successor, so one task never runs into its time limit.
    """
    from communities.notifications import outbox

    if keys:
        outcome = outbox.send_due(keys=keys)
        return vars(outcome)
    outcome, finished = outbox.drain()
    if not finished:
        notifications_send.apply_async(queue=settings.NOTIFICATIONS["QUEUE"])
    return vars(outcome)


@shared_task(acks_late=True, ignore_result=True)
def no_show_sweep() -> int:
    """Mark confirmed volunteers who have not checked in by the no-show time (attendance service)."""
    from communities.services.attendance import no_show_sweep as mark_no_shows

    return mark_no_shows()


# Retried only for what can succeed later: the database away or a lost race (deadlocks and
# serialization failures are OperationalErrors). A bug or bad data fails the same way every
# time; the row stays marked and the nightly rebuild reports it.
@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=5,
)
def tally_assignment_task(assignment_id: int) -> bool:
    from communities.services.tallies import tally_assignment

    return tally_assignment(assignment_id)


@shared_task(acks_late=True)
def tally_pending_sweep_task() -> int:
    from communities.services.tallies import tally_pending_sweep

    return tally_pending_sweep()


@shared_task(acks_late=True, time_limit=3600, soft_time_limit=3500)
def tallies_recount_all_task() -> dict:
    from communities.services.tallies import tallies_recount_all

    return tallies_recount_all()


@shared_task(acks_late=True, time_limit=900, soft_time_limit=840)
def daily_report_task(day: str | None = None) -> int:
    """Beat's daily run: ``day`` as YYYY-MM-DD, today by default. Returns the reports written."""
    from communities.services.reports import daily_report_write

    return len(daily_report_write(day=date.fromisoformat(day) if day else None))


@shared_task(
    acks_late=True,
    ignore_result=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_backoff_max=300,
    max_retries=5,
    soft_time_limit=540,
    time_limit=600,
)
def broadcast_fan_out(broadcast_id: int) -> int:
    """Write a call-out's messages, one per person and channel (run twice: the same rows)."""
    from communities.services.broadcasts import broadcast_fan_out as fan_out

    return fan_out(broadcast_id=broadcast_id)


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=6)
def application_rejection_text(self, application_id: int) -> bool:
    """Text a rejected applicant who has no account yet the reason (no ``Notification`` row can
    hold them: there is no user). Retried with backoff while the provider fails or defers; keyed,
    so a retry after a lost answer is not a second text where the backend deduplicates."""
    from communities.notifications.outbox import rejection_text_send

    result = rejection_text_send(application_id=application_id)
    if result is not None and not result.ok and not result.permanent:
        raise self.retry(countdown=min(60 * 2**self.request.retries, 3600))
    return bool(result and result.ok)


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=540, time_limit=600)
def expiry_sweep() -> int:
    """Tell volunteers whose insurance or a qualification expires within a threshold (daily)."""
    from communities.notifications.records import expiry_sweep as announce

    return announce()


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=540, time_limit=600)
def expiry_digest() -> int:
    """The staff's weekly digest of what expires among the volunteers they manage."""
    from communities.notifications.records import expiry_digest as digest

    return digest()


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=540, time_limit=600)
def applications_retention_sweep() -> int:
    """Delete the personal data of answers to calls that made no volunteer, once their retention
    time is over (daily; a second run finds nothing left to do)."""
    from communities.services.privacy import applications_retention_sweep as sweep

    return sweep()
