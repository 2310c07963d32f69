"""Django's error handlers (``handler400`` … ``handler500`` in config/urls.py).

A request under /api/ gets JSON in the one error shape (config/errors.py) whatever went wrong,
even where no DRF view ran: a path that matches no route, a request Django refused before any
view (a malformed body, too many fields), or an exception no handler caught. Every other request
gets the site's error page.
"""

from __future__ import annotations

from django.http import JsonResponse
from django.views import defaults

from config.errors import error_body


def wants_json(request) -> bool:
    return request.path_info.startswith("/api/")


def _json(code: str, status: int) -> JsonResponse:
    return JsonResponse(error_body(code), status=status)


def bad_request(request, exception):
    if wants_json(request):
        return _json("malformed_request", 400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception):
    if wants_json(request):
        return _json("permission_denied", 403)
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception):
    if wants_json(request):
        return _json("not_found", 404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if wants_json(request):
        return _json("server_error", 500)
    return defaults.server_error(request)
