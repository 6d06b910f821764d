"""``--log-file``: JSON Lines, one object per event, secrets redacted.

Every module logs to the ``batcher`` logger with ``extra={"fields": {...}}``; only the CLI
attaches a handler, so the library stays silent unless asked.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from batcher.localio import disk_error, local_write
from batcher.redact import Redactor

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
    """``redactor`` holds the run's secrets: every text is redacted, and the whole line once
    more (a value nested in a list or dict field is caught there)."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self._redact = redactor or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": "notice" if record.levelno == NOTICE else record.levelname.lower(),
            "event": self._redact(record.getMessage()),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                data[key] = self._redact(value) if isinstance(value, str) else value
        if record.exc_info:
            data["exception"] = self._redact(self.formatException(record.exc_info))
        return self._redact(json.dumps(data, ensure_ascii=False, default=str))


class JsonLinesFileHandler(logging.FileHandler):
    """A full disk (or a failing one) under the log file stops the run like one under the
    report: logging's default would print a traceback, with the unredacted record, to stderr
    and go on losing events."""

    def handleError(self, record: logging.LogRecord) -> None:
        exc = sys.exc_info()[1]
        if exc is not None:
            full = disk_error(exc, self.baseFilename, "log file")
            if full is not None:
                raise full from None
        super().handleError(record)


def attach_log_file(
    path: Path, *, level: int = logging.INFO, redactor: Redactor | None = None
) -> logging.Handler:
    with local_write(path, "log file"):
        handler = JsonLinesFileHandler(path, encoding="utf-8")
    handler.setFormatter(JsonLinesFormatter(redactor))
    logger = log()
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return handler


def detach(handler: logging.Handler) -> None:
    log().removeHandler(handler)
    with contextlib.suppress(OSError):  # a full disk was already reported as DiskFullError
        handler.close()
