"""One JSON object per log line, for log shippers (production: LOG_FORMAT=json)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        for key in ("status_code", "task_id", "task_name"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info or record.exc_text:
            # exc_text is the redacted traceback the personal-data filter leaves on the record.
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)
