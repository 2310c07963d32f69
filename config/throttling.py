"""Request throttles: counted per client address (config/client.py), in Redis, atomically.

DRF's own throttles keep a list of request times under one cache key, read it and write it back:
a burst that arrives at once reads the same list and every request in it passes. Here each
request increments a counter (Redis ``INCR``, atomic) for the current window of the rate, so a
burst of any size gets exactly the rate. The window is fixed (``30/min``: the counter of the
current minute), so a client can spend a window's allowance at its end and another at the start
of the next; the lockout in the database, not the throttle, is the security limit on passwords.

Redis is shared by every process and machine, so the limit is the rate, not the rate times the
number of workers. While Redis is unreachable the throttle lets requests through (logged): it is
a flood guard, and log-ins must not depend on the broker.
"""

from __future__ import annotations

import logging
import math

from django.core.cache import cache
from redis.exceptions import RedisError
from rest_framework import throttling

from config.client import client_ip

logger = logging.getLogger(__name__)


class ScopedRateThrottle(throttling.ScopedRateThrottle):
    def get_ident(self, request):
        return client_ip(request) or "unknown"

    def allow_request(self, request, view):
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        now = self.timer()
        window = int(now // self.duration)
        self.wait_seconds = math.ceil((window + 1) * self.duration - now)
        try:
            count = _count(f"{key}:{window}", timeout=self.duration + 1)
        except RedisError as exc:
            logger.warning("Throttle %s not counted, Redis unreachable: %s", self.scope, type(exc).__name__)
            return True
        return count <= self.num_requests

    def wait(self):
        return max(1, self.wait_seconds)


def _count(key: str, *, timeout: int) -> int:
    """Add one to the counter at ``key`` (created with ``timeout``) and return the new count."""
    for _attempt in range(2):
        cache.add(key, 0, timeout=timeout)
        try:
            return cache.incr(key)
        except ValueError:  # expired between the two calls: create it again
            continue
    return cache.incr(key)
