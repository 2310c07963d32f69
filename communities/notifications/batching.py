"""Hand due notification keys to the broker in batches, off the request thread.

Publishing one Celery message per committed sign-up costs about a millisecond of CPU on the
request path (building the message, the round trip to Redis). Under a burst the web process
instead gathers the keys that commit within ``NOTIFICATIONS["SEND_BATCH_SECONDS"]`` and a
background thread publishes them as one task. A volunteer's confirmation leaves at most that
much later; the worker sends a batch in one claim.

Nothing is lost if the keys never leave the process (it is killed, or the broker is down): the
rows are already committed as ``pending``, and the minute sweep starts a drain for every due row
(docs/notifications.md). With a window of 0 (the test settings) keys are published at once, on
the committing thread, as before.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)


class SendBatcher:
    """Collects keys from any thread; one daemon thread per process publishes them."""

    def __init__(self, publish: Callable[[list[str]], None], window: Callable[[], float]) -> None:
        self._publish = publish
        self._window = window
        self._lock = threading.Lock()
        self._keys: list[str] = []
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        atexit.register(self.flush)
        # gunicorn and Celery fork after import: a child starts empty, with a thread of its own.
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()
        self._keys = []
        self._wake = threading.Event()
        self._thread = None

    def add(self, keys: list[str]) -> None:
        window = self._window()
        if window <= 0:
            self._publish(keys)
            return
        with self._lock:
            self._keys.extend(keys)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="notification-send-batcher", daemon=True)
                self._thread.start()
        self._wake.set()

    def flush(self) -> int:
        """Publish whatever is gathered now (at exit, and in tests). Returns how many keys."""
        with self._lock:
            self._wake.clear()
            keys, self._keys = self._keys, []
        if keys:
            try:
                self._publish(keys)
            except Exception:  # the publisher logs; the sweep sends these rows
                logger.warning("batched notification send not queued (%s keys)", len(keys), exc_info=True)
        return len(keys)

    def _run(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(self._window())
            self.flush()
