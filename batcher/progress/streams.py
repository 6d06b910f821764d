"""A text stream that never stops the run: stderr may be a closed pipe.

``batcher … 2>&1 | head -3`` closes the pipe after three lines. Progress, notices and the
end summary are courtesy output; the report is the record. A write to a broken pipe is
dropped (and every later one), never raised: a BrokenPipeError from a status line once
ended a run with exit 1 and two rows of ten in the report.
"""

from __future__ import annotations

import contextlib
import io
from typing import TextIO, cast


class SafeStream(io.TextIOBase):
    def __init__(self, inner: TextIO, *, owns: bool = False) -> None:
        super().__init__()
        self.inner = inner
        self.owns = owns
        """Close ``inner`` on close (a file we opened; never stderr, even when collected)."""
        self.broken = False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.inner, "encoding", None) or "utf-8"

    def isatty(self) -> bool:
        try:
            return not self.broken and self.inner.isatty()
        except (OSError, ValueError):
            return False

    def fileno(self) -> int:
        return self.inner.fileno()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                self.inner.write(text)
            except (OSError, ValueError):
                self.broken = True
        return len(text)

    def close(self) -> None:
        if self.owns and not self.closed:
            with contextlib.suppress(OSError):
                self.inner.close()
        super().close()

    def flush(self) -> None:
        if not self.broken:
            try:
                self.inner.flush()
            except (OSError, ValueError):
                # EPIPE (the reader went away), a closed stream, or a full disk behind a
                # redirect: each loses the courtesy output and none is a reason to stop.
                self.broken = True


def safe(inner: TextIO, *, owns: bool = False) -> TextIO:
    """``inner`` behind a ``SafeStream``, typed as the text stream it stands in for."""
    return cast(TextIO, SafeStream(inner, owns=owns))
