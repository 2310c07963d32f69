"""Domain events raised by the services, delivered after the transaction commits.

The services call ``publish`` explicitly (no signals). Subscribers register a function per event
name; each runs in ``transaction.on_commit``, so a refused or rolled-back operation announces
nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from django.db import transaction

_subscribers: dict[str, list[Callable[..., None]]] = defaultdict(list)


def subscribe(event: str, handler: Callable[..., None]) -> None:
    if handler not in _subscribers[event]:
        _subscribers[event].append(handler)


def publish(event: str, **payload) -> None:
    for handler in list(_subscribers[event]):
        transaction.on_commit(lambda handler=handler: handler(event=event, **payload))
