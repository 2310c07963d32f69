"""Schema post-processing: every operation documents the one error shape it can answer with."""

from __future__ import annotations

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error: a stable machine-readable code, a translated message, and details.",
    "properties": {
        "code": {"type": "string", "example": "overlapping_shift"},
        "message": {"type": "string"},
        "details": {"type": "object", "additionalProperties": True},
    },
    "required": ["code", "message", "details"],
}

COMMON_ERRORS = {
    "400": "Malformed input; `details` holds the field errors.",
    "401": "Not authenticated.",
    "403": "Not allowed, or not eligible.",
    "404": "Not found, or outside the caller's scope.",
    "405": "Method not allowed.",
    "406": "The requested format is not available.",
    "409": "Refused by a rule; `code` says which.",
    "413": "`request_too_large`: a JSON body over 1 MiB.",
    "415": "Unsupported media type.",
    "429": "Too many requests.",
    "503": "The database is temporarily unavailable.",
}


def add_error_responses(result, generator, request, public):
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR_SCHEMA)
    ref = {"$ref": "#/components/schemas/Error"}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for status, description in COMMON_ERRORS.items():
                responses.setdefault(
                    status, {"description": description, "content": {"application/json": {"schema": ref}}}
                )
    return result
