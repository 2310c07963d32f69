"""Celery tasks for communities: thin wrappers over services, safe to run twice or at once.

Time-driven work comes from beat (``CELERY_BEAT_SCHEDULE``, every minute) sweeping database
state; nothing here is scheduled with an ETA or countdown, so a broker that forgets its queue
(the development Redis keeps nothing on disk) loses no message, only up to a minute of delay.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from . import notifications


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=540, time_limit=600)
def notifications_sweep() -> dict:
    """Create the due reminders, nudges and escalations, then start senders for what is due."""
    created = notifications.sweep()
    created["send_tasks"] = notifications.start_drains()
    return created


@shared_task(acks_late=True, ignore_result=True)
def notifications_send(keys: list[str] | None = None) -> dict:
    """Send the rows named by ``keys`` if they are due, or, without keys, whatever is due.

    Without keys the task sends batch after batch for ``DRAIN_SECONDS`` and, if rows are still
    due then, enqueues its own successor, so one task never runs into its time limit.
    """
    if keys:
        outcome = notifications.send_due(keys=keys)
        return vars(outcome)
    outcome, finished = notifications.drain()
    if not finished:
        notifications_send.apply_async(queue=settings.NOTIFICATIONS["QUEUE"])
    return vars(outcome)


@shared_task(acks_late=True, ignore_result=True)
def no_show_sweep() -> int:
    """Mark confirmed volunteers who have not checked in by the no-show time (attendance service)."""
    from .attendance import no_show_sweep as mark_no_shows

    return mark_no_shows()


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=540, time_limit=600)
def expiry_sweep() -> int:
    """Tell volunteers whose insurance or a qualification expires within a threshold (daily)."""
    from .record_messages import expiry_sweep as announce

    return announce()


@shared_task(acks_late=True, ignore_result=True, soft_time_limit=540, time_limit=600)
def expiry_digest() -> int:
    """The staff's weekly digest of what expires among the volunteers they manage."""
    from .record_messages import expiry_digest as digest

    return digest()
