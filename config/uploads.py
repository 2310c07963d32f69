"""A request body larger than any upload the application takes is refused before it is read.

Django bounds the form fields of a request (``DATA_UPLOAD_MAX_MEMORY_SIZE``) but not its files:
a 300 MB upload would be streamed to a temporary file and then read by the view. This middleware
answers 413 ``file_too_large`` as soon as the request's Content-Length says the body is larger
than ``UPLOAD_MAX_BYTES`` (the largest import file and the form around it), before a byte of it
is read: JSON in the one error shape for the API, a short page otherwise. Django reads no more
than Content-Length of a body, so the header cannot understate it. The proxy in front refuses
such bodies too (docs/deployment.md); this is the same bound where there is no proxy.

The import service bounds the file itself again (``IMPORT_MAX_BYTES``, read at most one byte
past it), so a file just over its limit inside a body under this one is refused on the import
page and in the API's ``import_invalid`` answer like any other problem with the file.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from config.errors import error_body

MB = 1024 * 1024


def body_too_large(request) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False  # Django reads no body at all without a valid Content-Length
    return length > settings.UPLOAD_MAX_BYTES


class UploadLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not body_too_large(request):
            return self.get_response(request)
        limit = settings.UPLOAD_MAX_BYTES
        message = _("The upload is larger than %(max)d MB.") % {"max": limit // MB}
        if request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", ""):
            return JsonResponse(error_body("file_too_large", message, {"max_bytes": limit}), status=413)
        body = render_to_string("413.html", {"message": message})
        return HttpResponse(body, status=413)
