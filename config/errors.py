"""One error shape for every endpoint: ``{"code", "message", "details"}``.

Services raise ``ServiceError`` with a stable machine-readable code; the API exception handler
and the web pages turn it into a response. Messages are translated lazily, so the caller's
language (``Accept-Language`` or the session) decides what a person reads.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, DataError, InterfaceError, OperationalError
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.parsers import RequestTooLarge

# code -> (HTTP status, message). The single list of codes a client may see.
ERRORS: dict[str, tuple[int, Any]] = {
    "already_signed_up": (409, _("You are already signed up for this shift.")),
    "overlapping_shift": (409, _("You already have a confirmed shift at the same time.")),
    "not_eligible": (403, _("You do not meet the requirements of this post.")),
    "signup_closed": (409, _("Sign-up for this shift is not open.")),
    "shift_cancelled": (409, _("This shift has been cancelled.")),
    "shift_over": (409, _("This shift has already ended.")),
    "daily_limit": (409, _("This shift would take you over the daily limit of service hours.")),
    "rest_period": (409, _("You need more rest between this shift and another of your shifts.")),
    "cancel_cutoff_passed": (409, _("It is too late to cancel this shift; please contact the coordinator.")),
    "not_cancellable": (409, _("Only a confirmed or waitlisted place can be cancelled.")),
    "capacity_below_confirmed": (409, _("Capacity cannot be lower than the number of confirmed volunteers.")),
    "not_a_volunteer": (403, _("Only registered volunteers can do this.")),
    "checkin_code_invalid": (
        409,
        _("The check-in code is wrong or has expired. Scan the code shown at the post again."),
    ),
    "checkin_too_many_attempts": (429, _("Too many wrong check-in codes. Wait for the next code and try again.")),
    "checkin_locked": (
        409,
        _("Check-in by code is locked after too many wrong codes. Ask the coordinator at the post to check you in."),
    ),
    "checkin_not_open": (409, _("Check-in for this shift has not opened yet.")),
    "already_checked_in": (409, _("You have already checked in for this shift.")),
    "not_checkable": (409, _("This assignment cannot be changed that way in its current state.")),
    "not_checked_in": (409, _("There is no check-in to check out from.")),
    "shift_not_started": (409, _("The shift has not started yet.")),
    "shift_has_attendance": (
        409,
        _("Attendance is already recorded for this shift, so its times cannot change."),
    ),
    "no_show_too_early": (
        409,
        _("It is too early to mark a no-show; confirm that you are marking it early, and say why."),
    ),
    "reason_required": (400, _("Please give a reason; it is kept in the audit trail.")),
    "hours_not_pending": (409, _("These hours are not awaiting approval.")),
    "hours_out_of_range": (400, _("Credited time must be between zero and the shift's length.")),
    "shift_change_conflicts": (409, _("The change conflicts with the schedules of volunteers on this shift.")),
    "rota_invalid": (400, _("The rota pattern is not valid.")),
    "duplicate_slot": (400, _("The rota lists the same time slot more than once.")),
    "rota_too_large": (400, _("The rota would create too many shifts at once.")),
    "shift_in_past": (400, _("A shift cannot start or be moved into the past.")),
    "not_enough_volunteers": (409, _("Not enough volunteers match the request.")),
    "nothing_to_recall": (409, _("None of these volunteers is deployed there any more; nobody was recalled.")),
    "import_plan_changed": (
        409,
        _("The records changed after the dry run; check the file again and confirm the new changes."),
    ),
    "notification_not_failed": (409, _("Only a failed notification can be sent again.")),
    "request_closed": (409, _("This request is already closed.")),
    "more_than_missing": (409, _("More volunteers than the request still misses.")),
    "audience_empty": (409, _("Nobody is in this audience.")),
    "call_closed": (409, _("This recruitment call is no longer taking answers.")),
    "call_status_conflict": (409, _("The call cannot change to that state from its current one.")),
    "agreement_changed": (
        409,
        _("The volunteer agreement has changed since you opened the page. Please read it again and accept it."),
    ),
    "already_applied": (409, _("You have already answered this call.")),
    "contact_staff": (
        409,
        _("We cannot register you with these details here. Please contact the staff who published this call."),
    ),
    "application_not_pending": (409, _("This application has already been reviewed.")),
    "applicant_conflict": (
        409,
        _(
            "The applicant's mobile number or ID number now belongs to another registered person; "
            "check with the applicant before approving."
        ),
    ),
    "invalid": (400, _("The request contains invalid data.")),
    "malformed_request": (400, _("The request could not be read.")),
    "not_authenticated": (401, _("Authentication is required.")),
    "authentication_failed": (401, _("The credentials are not valid.")),
    "permission_denied": (403, _("You do not have permission to do this.")),
    "not_found": (404, _("Not found.")),
    "method_not_allowed": (405, _("This method is not allowed here.")),
    "not_acceptable": (406, _("The requested format is not available.")),
    "unsupported_media_type": (415, _("This content type is not supported.")),
    "throttled": (429, _("Too many requests. Please wait and try again.")),
    "login_locked": (429, _("Too many failed log-ins. Please wait and try again.")),
    "sms_code_throttled": (429, _("Too many codes asked for. Please wait and try again.")),
    "login_code_invalid": (401, _("The code is wrong or has expired. Ask for a new code.")),
    "import_invalid": (400, _("The file has errors; nothing was imported.")),
    "file_too_large": (413, _("The upload is larger than the limit.")),
    "password_incorrect": (400, _("The password is not correct.")),
    "volunteer_anonymised": (409, _("This volunteer's personal data has been deleted.")),
    "volunteer_has_upcoming_shifts": (
        409,
        _(
            "This volunteer has shifts ahead that this change would take away. Release them (their places "
            "go to the waitlist and everyone is told), or leave the record as it is."
        ),
    ),
    "out_of_scope": (403, _("That organization or team is outside the ones you manage.")),
    "proof_invalid": (400, _("The proof must be a photo (JPEG or PNG) or a PDF file.")),
    "proof_too_large": (400, _("The proof file is larger than the limit.")),
    "change_request_pending": (409, _("A request for this is already waiting for approval.")),
    "change_request_not_pending": (409, _("This request has already been decided.")),
    "mobile_taken": (409, _("This mobile number belongs to another account.")),
    "correction_pending": (409, _("An error in this record is already reported and waiting for an answer.")),
    "correction_not_applicable": (
        409,
        _("Only the record of a shift you held (attended, missed or not checked in) can be reported."),
    ),
    "correction_not_pending": (409, _("This report has already been answered.")),
    "service_unavailable": (503, _("The service is temporarily unavailable. Please try again shortly.")),
    "request_too_large": (413, _("The request is too large.")),
    "server_error": (500, _("Something went wrong on our side. Please try again later.")),
}


class ServiceError(Exception):
    """A refused operation. Raised inside a transaction, so nothing it touched is kept."""

    def __init__(self, code: str, details: dict | None = None, message: Any = None):
        if code not in ERRORS:
            raise ValueError(f"unknown error code {code!r}")
        self.code = code
        self.status = ERRORS[code][0]
        self.message = message if message is not None else ERRORS[code][1]
        self.details = details or {}
        super().__init__(code)


def error_body(code: str, message: Any = None, details: dict | None = None) -> dict:
    return {"code": code, "message": str(message if message is not None else ERRORS[code][1]), "details": details or {}}


_DRF_CODES = {
    exceptions.ParseError: "malformed_request",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    RequestTooLarge: "request_too_large",
}


def api_exception_handler(exc, context):
    if isinstance(exc, ServiceError):
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status)
    if isinstance(exc, OverflowError | DataError):
        # A number or text the database cannot hold (an id beyond 64 bits): bad input, not a fault.
        return Response(error_body("invalid", details={"non_field_errors": [str(ERRORS["invalid"][1])]}), status=400)
    if isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge()
    elif isinstance(exc, SuspiciousOperation):
        # Django's refusals of a malformed request (too many fields, a bad multipart body).
        exc = exceptions.ParseError()
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, OperationalError | InterfaceError) or (
        isinstance(exc, DatabaseError) and "connection" in str(exc).lower()
    ):
        return Response(error_body("service_unavailable"), status=503, headers={"Retry-After": "5"})
    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        return Response(error_body("invalid", details=details), status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), None)
    if code is None:
        code = getattr(exc, "default_code", "error")
        message = exc.detail if isinstance(exc.detail, str) else ERRORS.get(code, (0, exc.default_detail))[1]
        response.data = {"code": code, "message": str(message), "details": {}}
        return response
    details = {}
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        details["retry_after_seconds"] = int(exc.wait)
    message = exc.detail if code in ("authentication_failed", "permission_denied") else None
    response.data = error_body(code, message if isinstance(message, str) else None, details)
    return response
