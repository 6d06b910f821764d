"""``--log-file``: JSON Lines, one object per event, secrets redacted.

Every module logs to the ``batcher`` logger with ``extra={"fields": {...}}``; only the CLI
attaches a handler, so the library stays silent unless asked.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from batcher.redact import redact

LOGGER = "batcher"
NOTICE = 25
"""Between INFO and WARNING (as rclone's NOTICE): what a user should see at the default
level, e.g. resuming or stopping. Named by our formatter, not registered with ``logging``
(the registry is process-wide)."""
LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "NOTICE": NOTICE, "ERROR": logging.ERROR}


def log() -> logging.Logger:
    return logging.getLogger(LOGGER)


def event(level: int, message: str, **fields: Any) -> None:
    logger = log()
    if logger.isEnabledFor(level):
        logger.log(level, message, extra={"fields": fields})


class JsonLinesFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": "notice" if record.levelno == NOTICE else record.levelname.lower(),
            "event": redact(record.getMessage()),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                data[key] = redact(value) if isinstance(value, str) else value
        if record.exc_info:
            data["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False, default=str)


def attach_log_file(path: Path, *, level: int = logging.INFO) -> logging.Handler:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonLinesFormatter())
    logger = log()
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return handler


def detach(handler: logging.Handler) -> None:
    log().removeHandler(handler)
    handler.close()
