"""Django's PostgreSQL backend with a health check that costs no round trip while it can.

With ``CONN_HEALTH_CHECKS`` Django sends ``SELECT 1`` before the first query of every request
that reuses a persistent connection: a round trip per request, a tenth of a sign-up's database
work. A connection the server ended (a restart, ``pg_terminate_backend``, a proxy dropping it)
has something to read on its socket: the server's goodbye, or the end of the stream. So the
check first polls the socket without waiting; only a socket with something on it, or one that
cannot be polled, gets the full ``SELECT 1`` check (and is replaced if that fails). A peer that
vanished without a word still fails the request's first query, as it could between
``SELECT 1`` and that query before. Chosen with ``ENGINE = "config.postgresql"``
(config/settings/base.py).
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def close_if_health_check_failed(self):
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and self._socket_quiet()
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def _socket_quiet(self) -> bool:
        """Nothing waiting to be read: the server has not closed or spoken since the last answer."""
        try:
            poller = select.poll()
            poller.register(self.connection.fileno(), select.POLLIN | select.POLLPRI)
            return not poller.poll(0)
        except (OSError, ValueError, AttributeError, base.Database.Error):
            return False
