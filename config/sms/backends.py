"""SMS backends: how a text message leaves the system.

``settings.NOTIFICATIONS["SMS_BACKEND"]`` names the class. Every backend takes a list of
``SmsMessage`` and answers one ``SmsResult`` per message, in order; it never raises for a
single message's failure. Each message carries the notification's unique key, and a backend
must accept a key at most once (the provider's idempotency or message id): that is what turns
"a worker killed after the provider accepted, before the row was marked sent" into a harmless
resubmission instead of a second text (docs/notifications.md).

- ``FileSmsBackend`` (the default): one JSON line per accepted message, idempotent by key
  across processes. Development reads the file; the tests and the benchmark count it.
- ``ConsoleSmsBackend``: prints each message; idempotent only within one process.
- ``HttpSmsBackend``: the adapter for an HTTP provider configured by settings.
- ``config.sms.providers``: Aliyun and Tencent Cloud, which send only approved templates
  under an approved signature. They take the message's ``kind`` and ``params`` (the template's
  named parameters); the rendered ``text`` stays in the inbox and the file backend. Neither
  provider deduplicates by our key, so they are not ``idempotent``: the sender records the
  outside id a row was handed over under before each call and never hands it over again
  (docs/notifications.md, "Providers that do not deduplicate").
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmsMessage:
    key: str  # idempotency key: the provider accepts it at most once
    to: str
    text: str
    kind: str = ""  # the notification kind (reminder_24h reads as reminder): picks the template
    params: dict = field(default_factory=dict)  # the template's named parameters (template backends)


@dataclass(frozen=True)
class SmsResult:
    ok: bool
    duplicate: bool = False  # accepted earlier under the same key; nothing new was sent
    error: str = ""
    permanent: bool = False  # retrying cannot help (bad number, refused text)
    deferred: bool = False  # the provider's rate limit: try again later, not an attempt
    provider_id: str = ""  # the provider's message id (Aliyun BizId, Tencent SerialNo)

    @classmethod
    def failed(cls, error: str, *, permanent: bool = False) -> SmsResult:
        return cls(ok=False, error=error[:300], permanent=permanent)

    @classmethod
    def later(cls, error: str) -> SmsResult:
        return cls(ok=False, error=error[:300], deferred=True)


class BaseSmsBackend:
    # Messages handed over per call; the sender marks rows sent after each call.
    chunk_size = 100
    # Takes ``SmsMessage.kind`` and ``params`` rather than the text (the sender works them out).
    uses_templates = False
    # Accepts a key at most once, so a resubmission after a dead worker is harmless.
    idempotent = True

    def outside_ids(self, messages: list[SmsMessage]) -> list[str]:
        """The outside id each message will be handed over under (its receipt names it)."""
        return [message.key for message in messages]

    def __init__(self, options: dict | None = None):
        self.options = options if options is not None else settings.NOTIFICATIONS

    @classmethod
    def param_max_length(cls, options: dict | None = None) -> int | None:
        """The most characters a template variable may carry (``None``: the text goes whole)."""
        return None

    def send_messages(self, messages: list[SmsMessage]) -> list[SmsResult]:
        raise NotImplementedError


def get_backend() -> BaseSmsBackend:
    return import_string(settings.NOTIFICATIONS["SMS_BACKEND"])()


def param_max_length() -> int | None:
    """The configured backend's limit on a template variable, without building the backend."""
    return import_string(settings.NOTIFICATIONS["SMS_BACKEND"]).param_max_length()


# --- Console ------------------------------------------------------------------------------


class ConsoleSmsBackend(BaseSmsBackend):
    _seen: set[str] = set()
    _lock = threading.Lock()

    def send_messages(self, messages: list[SmsMessage]) -> list[SmsResult]:
        results = []
        with self._lock:
            for message in messages:
                if message.key in self._seen:
                    results.append(SmsResult(ok=True, duplicate=True))
                    continue
                sys.stdout.write(f"SMS to {message.to} [{message.key}]: {message.text}\n")
                self._seen.add(message.key)
                results.append(SmsResult(ok=True))
            sys.stdout.flush()
        return results


# --- File ---------------------------------------------------------------------------------


@dataclass
class _FileIndex:
    """The keys already in one outbox file, and how far this process has read it."""

    inode: int = -1
    offset: int = 0
    keys: set[str] = field(default_factory=set)


_indexes: dict[str, _FileIndex] = {}
_indexes_lock = threading.Lock()


class FileSmsBackend(BaseSmsBackend):
    """Appends ``{"key", "to", "text", "at"}`` as one JSON line per accepted message.

    Idempotent by key across processes: under an exclusive ``flock`` on the file, a writer
    first reads whatever others appended since it last looked, then writes only keys the file
    does not hold yet. A key seen again is answered as a duplicate (accepted earlier) and
    recorded in ``<file>.duplicates``, so a test can tell "sent once" from "submitted once".
    A line cut short by a killed process was never accepted; the next writer ends it with a
    newline and it is ignored, so that message is written again in full when it is retried.
    """

    chunk_size = 1000  # a whole batch per call: one lock and one fsync per batch

    def __init__(self, options: dict | None = None):
        super().__init__(options)
        self.path = Path(self.options["SMS_FILE"])
        self.delay = float(self.options.get("SMS_FILE_DELAY") or 0)
        self.fsync = bool(self.options.get("SMS_FILE_FSYNC", True))
        if self.delay:
            # A slow "provider" hands over one message at a time, as an HTTP one would.
            self.chunk_size = 1

    @property
    def duplicates_path(self) -> Path:
        return self.path.with_name(self.path.name + ".duplicates")

    def send_messages(self, messages: list[SmsMessage]) -> list[SmsResult]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        results: list[SmsResult] = []
        duplicates: list[bytes] = []
        with _indexes_lock, open(self.path, "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                index = self._catch_up(handle)
                at = timezone.now().isoformat()
                for message in messages:
                    if message.key in index.keys:
                        results.append(SmsResult(ok=True, duplicate=True))
                        duplicates.append(_json_line({"key": message.key, "at": at}))
                        continue
                    if self.delay:
                        time.sleep(self.delay)
                    handle.write(_json_line({"key": message.key, "to": message.to, "text": message.text, "at": at}))
                    if self.delay:
                        handle.flush()
                    index.keys.add(message.key)
                    results.append(SmsResult(ok=True))
                handle.flush()
                if self.fsync:
                    os.fsync(handle.fileno())
                index.offset = os.fstat(handle.fileno()).st_size
                if duplicates:
                    with open(self.duplicates_path, "ab") as sidecar:
                        sidecar.write(b"".join(duplicates))
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return results

    def _catch_up(self, handle) -> _FileIndex:
        """Learn the keys other processes wrote since this one last read the file."""
        stat = os.fstat(handle.fileno())
        index = _indexes.setdefault(str(self.path), _FileIndex())
        if index.inode != stat.st_ino or stat.st_size < index.offset:
            index.inode, index.offset, index.keys = stat.st_ino, 0, set()
        if stat.st_size > index.offset:
            handle.seek(index.offset)
            data = handle.read(stat.st_size - index.offset)
            for line in data.split(b"\n"):
                key = _key_of(line)
                if key:
                    index.keys.add(key)
            if not data.endswith(b"\n"):
                handle.write(b"\n")  # close a line a killed writer left unfinished
                handle.flush()
            index.offset = os.fstat(handle.fileno()).st_size
        return index


def _json_line(data: dict) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def _key_of(line: bytes) -> str | None:
    if not line.strip():
        return None
    try:
        return json.loads(line)["key"]
    except (ValueError, KeyError, TypeError):
        return None  # a torn line: never accepted


def read_outbox(path: Path) -> tuple[list[str], int]:
    """The keys in an outbox file in order (repeats kept), and how many lines were torn."""
    keys, torn = [], 0
    if not path.exists():
        return keys, torn
    for line in path.read_bytes().split(b"\n"):
        if not line.strip():
            continue
        key = _key_of(line)
        if key is None:
            torn += 1
        else:
            keys.append(key)
    return keys, torn


# --- HTTP provider ------------------------------------------------------------------------


class HttpSmsBackend(BaseSmsBackend):
    """POSTs ``{"to", "text", "message_id"}`` as JSON to ``SMS_HTTP_URL``, one message per request.

    The notification key travels as ``message_id`` and as the ``Idempotency-Key`` header: the
    provider must treat a repeated key as the same message. 2xx means accepted; 409 means the
    key was accepted before. Other 4xx answers (but 408 and 429) are permanent failures; 5xx,
    408, 429, timeouts and connection errors are retried later with backoff.
    """

    chunk_size = 20

    def __init__(self, options: dict | None = None):
        super().__init__(options)
        self.url = self.options["SMS_HTTP_URL"]
        self.api_key = self.options.get("SMS_HTTP_KEY", "")
        self.timeout = float(self.options.get("SMS_HTTP_TIMEOUT", 10))
        if not self.url.startswith(("https://", "http://")):
            raise ValueError("NOTIFICATIONS['SMS_HTTP_URL'] must be an http(s) URL")

    def send_messages(self, messages: list[SmsMessage]) -> list[SmsResult]:
        return [self._send(message) for message in messages]

    def _send(self, message: SmsMessage) -> SmsResult:
        body = json.dumps({"to": message.to, "text": message.text, "message_id": message.key}).encode()
        request = urllib.request.Request(  # noqa: S310 - the URL is settings', checked to be http(s)
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Authorization": f"Bearer {self.api_key}",
                "Idempotency-Key": message.key,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                response.read()
            return SmsResult(ok=True)
        except urllib.error.HTTPError as error:
            if error.code == 409:
                return SmsResult(ok=True, duplicate=True)
            detail = f"HTTP {error.code}: {_read_quietly(error)}"
            permanent = 400 <= error.code < 500 and error.code not in (408, 429)
            return SmsResult.failed(detail, permanent=permanent)
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            return SmsResult.failed(f"{type(error).__name__}: {error}")


def _read_quietly(error: urllib.error.HTTPError) -> str:
    try:
        return error.read(200).decode(errors="replace")
    except OSError:
        return ""
