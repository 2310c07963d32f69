"""Request-wide guards: 503 with a clear code while the database is unreachable; 400 for a query
string with a NUL byte; message storage built only when a request uses it."""

from __future__ import annotations

import logging

from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.core.exceptions import SuspiciousOperation
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.functional import SimpleLazyObject, empty

from config.db import database_unavailable
from config.error_views import wants_json
from config.errors import error_body

logger = logging.getLogger(__name__)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            return self.get_response(request)
        except Exception as exc:
            # Raised outside a view (sessions, authentication middleware) the error reaches here.
            response = self.process_exception(request, exc)
            if response is None:
                raise
            return response

    def process_exception(self, request, exc):
        if not database_unavailable(exc):
            return None
        logger.error("database unavailable: %s", type(exc).__name__)
        if wants_json(request) or "application/json" in request.headers.get("Accept", ""):
            response = JsonResponse(error_body("service_unavailable"), status=503)
        else:
            try:
                body = render_to_string("503.html", request=None)
            except Exception:  # the page must not need the database either
                body = "<h1>503</h1>"
            response = HttpResponse(body, status=503)
        response["Retry-After"] = "5"
        return response


class NulByteMiddleware:
    """Refuse a query string with a NUL byte (``%00``) as a bad request.

    No page or endpoint reads a NUL as part of any value, and PostgreSQL refuses one in text, so a
    view that passes a query value to the database (a search box) would answer 500. Forms and
    serializers refuse NUL themselves; this covers every value read straight from the URL. The 400
    is Django's (``handler400``): JSON under /api/, the 400 page elsewhere.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if any("\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists()):
            raise SuspiciousOperation("NUL byte in the query string")
        return self.get_response(request)


class LazyMessageMiddleware(MessageMiddleware):
    """Django's messages, with the storage built when a request first touches it.

    ``MessageMiddleware`` builds the cookie-and-session storage (and its cookie signer) for every
    request; API requests never read or add a message. A storage nobody touched has nothing to
    save, so its response is left alone, as Django's own ``update`` would leave it.
    """

    def process_request(self, request):
        request._messages = SimpleLazyObject(lambda: default_storage(request))

    def process_response(self, request, response):
        messages = getattr(request, "_messages", None)
        if isinstance(messages, SimpleLazyObject) and messages._wrapped is empty:
            return response
        return super().process_response(request, response)
