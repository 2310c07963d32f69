"""Waiting on real processes, servers and threads: until something is true, never for a set time.

A deadline here only turns a hang into a failure with a message; it is far above what the
slowest, busiest machine needs, so no test passes or fails on how loaded the machine is.
"""

from __future__ import annotations

import time
from collections.abc import Callable

HANG_GUARD = 600.0  # seconds


def wait_until(condition: Callable[[], object], *, what: str, timeout: float = HANG_GUARD, interval: float = 0.05):
    """Return ``condition()``'s first truthy value; fail if none comes before the hang guard."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what}: not reached within {timeout:.0f} s"
        time.sleep(interval)
