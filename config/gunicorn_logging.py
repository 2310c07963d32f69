"""gunicorn's logger with the client's address, as config/client.py reads it, in the access log.

gunicorn's own ``%(h)s`` is the socket's peer: behind a proxy, the proxy, for every request.
"""

from __future__ import annotations

from gunicorn.glogging import Logger

from config.client import client_address


class ClientAddressLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["h"] = client_address(environ) or "-"
        return atoms
