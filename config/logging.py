"""Keep personal data out of the logs.

Every mainland mobile number and 18-character ID number in a log record (also written with
spaces or dashes) is replaced by the mask the app shows (``138****5678``, ``3205**********1234``),
and every value in a query string by ``*`` (``?q=*&page=*``): a search box takes names and
numbers in any form. A texted log-in code is replaced by stars where it appears as one (a
``code`` field, the text of a code message), and so is the value of a ``code`` or ``password``
key in an ``extra`` dictionary. Two layers, both set up by ``LOGGING``
in config/settings/base.py:

* ``RedactPersonalData``, the filter on the root handler, formats each record's message once,
  masks it (and the traceback, the stack and every ``extra`` attribute, such as the SQL
  parameters ``django.db.backends`` attaches) and stores the result back on the record. The
  record object is shared, so every later handler — files, test capture — sees only masks.
* When logging is configured, the filter also wraps the process's LogRecord factory so each
  message and traceback is masked the moment a record is created. That covers records that never
  reach the root handler: Celery's task loggers and its own root handlers in a worker, and
  Django's ``django.server`` handler.

Django's request logger writes ``request.path`` (never the query string or the body); a number in
a path is masked like any other text. The development server's ``django.server`` logger writes
the whole request line, query string included: its values are masked. ``ADMINS`` is left empty on purpose: the admin e-mail
handler would send request data.
"""

from __future__ import annotations

import logging
import re
import threading

MOBILE_RE = re.compile(r"(?<![0-9])(?:\+?86[ -]?)?(1[3-9][0-9])[ -]?[0-9]{4}[ -]?([0-9]{4})(?![0-9])")
# An ID number as people write it: 18 characters, or with a space or dash (or their URL forms,
# ``+``, ``%20``, ``%2D``) between any of them, as in ``110105 19491231 002X``.
_SEP = r"(?:[ +\-]|%20|%2[Dd])"
_ID_SEP_RE = re.compile(_SEP)
ID_NUMBER_RE = re.compile(
    rf"(?<![0-9])(?<![0-9][ +\-])"
    rf"([0-9](?:{_SEP}?[0-9]){{3}})(?:{_SEP}?[0-9]){{10}}((?:{_SEP}?[0-9]){{3}}{_SEP}?[0-9Xx])"
    rf"(?!{_SEP}?[0-9])"
)
# A query string's values (``?q=张三&page=2`` → ``?q=*&page=*``): names, numbers typed in a
# search box, a calendar token. Only the parameter names stay.
QUERY_VALUE_RE = re.compile(r"(?<=[?&])([\w.\-\[\]%]+)=[^&\s#\"'<>]+")

# A texted log-in code, only where it is one: the ``code`` field of a request body or query
# string, and the text of a log-in code message. Other numbers of six digits (ids, postcodes)
# stay readable.
LOGIN_CODE_RE = re.compile(
    r"""(["']code["']\s*:\s*["']?|(?<![A-Za-z_])code=|验证码(?:为|是|：|:)\s*|log-in code is\s+)([0-9]{4,8})(?![0-9])""",
    re.IGNORECASE,
)
SECRET_KEYS = {"code", "password"}

# Attributes every LogRecord has; anything else was passed in ``extra``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


def _mask_id_number(match: re.Match) -> str:
    first, last = (_ID_SEP_RE.sub("", group) for group in match.groups())
    return f"{first}{'*' * 10}{last}"


def redact(text: str) -> str:
    text = QUERY_VALUE_RE.sub(r"\1=*", text)
    text = ID_NUMBER_RE.sub(_mask_id_number, text)
    text = LOGIN_CODE_RE.sub(lambda m: f"{m.group(1)}{'*' * len(m.group(2))}", text)
    return MOBILE_RE.sub(lambda m: f"{m.group(1)}****{m.group(2)}", text)


def _redact_value(value):
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int) and not isinstance(value, bool):
        # An ID number used as a primary-key lookup arrives as an integer in SQL parameters.
        masked = redact(str(value))
        return value if masked == str(value) else masked
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(item) for item in value)
    if isinstance(value, dict):
        return {
            key: "*" * len(item) if key in SECRET_KEYS and isinstance(item, str) else _redact_value(item)
            for key, item in value.items()
        }
    return value


def redact_record(record: logging.LogRecord, *, extras: bool = True) -> logging.LogRecord:
    try:
        message = record.getMessage()
    except Exception:  # a malformed call must not break logging, nor leak its arguments
        message = f"{record.msg} (unformattable arguments)"
    record.msg, record.args = redact(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    if extras:
        for key, value in list(vars(record).items()):
            if key not in _STANDARD:
                setattr(record, key, _redact_value(value))
    return record


_install_lock = threading.Lock()
_installed = False


def install_record_factory() -> None:
    """Mask every record as it is created, in this process (idempotent)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def redacting_factory(*args, **kwargs):
            # ``extra`` is attached after the factory returns; the root filter masks it.
            return redact_record(previous(*args, **kwargs), extras=False)

        logging.setLogRecordFactory(redacting_factory)
        _installed = True


class RedactPersonalData(logging.Filter):
    def __init__(self, name: str = ""):
        super().__init__(name)
        install_record_factory()

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True
