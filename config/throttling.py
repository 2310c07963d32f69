"""Request throttles, counted per client address as config/client.py reads it."""

from __future__ import annotations

from rest_framework import throttling

from .client import client_ip


class ScopedRateThrottle(throttling.ScopedRateThrottle):
    def get_ident(self, request):
        return client_ip(request) or "unknown"
