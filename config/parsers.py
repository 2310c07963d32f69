"""The API's JSON parser: DRF's, with a limit on a body's size and on how deeply it nests.

Python's ``json`` recurses once per level of nesting, so ``[[[[…]]]]`` a hundred thousand deep
raises ``RecursionError`` (a 500) before any serializer sees it. No request the API documents
nests more than a few levels or needs more than a few kilobytes, so anything beyond the limits
below is refused, counted without recursion and before it is parsed, as ``400 malformed_request``
(too deep) or ``413 request_too_large`` (too big). It is the default parser, so every JSON
endpoint, the anonymous token endpoint included, gets the same limits.
"""

from __future__ import annotations

import io
import re

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, parsers, status

MAX_JSON_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 32

# A whole string literal (whose brackets do not count), or one bracket.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The request is too large.")
    default_code = "request_too_large"


def json_depth_exceeds(text: str, limit: int) -> bool:
    depth = 0
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > limit:
                return True
        elif token in ("]", "}"):
            depth -= 1
    return False


class JSONParser(parsers.JSONParser):
    max_bytes = MAX_JSON_BYTES
    max_depth = MAX_JSON_DEPTH

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read(self.max_bytes + 1) if stream is not None else b""
        if len(raw) > self.max_bytes:
            raise RequestTooLarge()
        encoding = parsers.get_encoding(parser_context or {})
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
        if json_depth_exceeds(text, self.max_depth):
            raise exceptions.ParseError(f"JSON parse error - nested more than {self.max_depth} levels deep")
        return super().parse(io.BytesIO(raw), media_type, parser_context)
