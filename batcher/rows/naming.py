"""The file name batcher asks the service to store a row under.

The service keys blobs as ``<workspace-id>/<filename>``: two rows ``a/logo.png`` and
``b/logo.png`` would overwrite each other, and a blob path may be submitted only once (409
``Asset already submitted``). So every upload gets a name of its own, ``<stem>.<token><ext>``,
readable in the service's UI and unique where it must be. The token depends on ``rerun``:

* ``fresh`` (default): hash of the run ID and the file's absolute path, size and mtime.
  Each run (each nightly sweep) gets new blob paths, so a re-run is reviewed again and never
  meets 409; a resumed run keeps its run ID (from the journal) and so its names.
* ``skip``: hash of the absolute path, size and mtime. The same unchanged file always maps
  to the same blob path; if it was submitted before, the service answers 409 and the row is
  reported ``already_submitted`` instead of being reviewed (and billed) twice.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path
from typing import Literal

from batcher.outcome import RowJob

RerunMode = Literal["fresh", "skip"]
_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\\"]+")
_MAX_STEM_BYTES = 150


def _token(parts: list[str]) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogateescape")).hexdigest()[:12]


def _safe_stem(stem: str) -> str:
    stem = unicodedata.normalize("NFC", stem)
    stem = _UNSAFE.sub("_", stem).strip(" .") or "file"
    while len(stem.encode("utf-8")) > _MAX_STEM_BYTES:
        stem = stem[:-1]
    return stem


def upload_filename(job: RowJob, run_id: str, mode: RerunMode) -> str:
    assert job.path is not None
    absolute = str(job.identity or job.path.resolve())
    identity = [absolute, str(job.size), str(job.mtime_ns)]
    token = _token([run_id, *identity] if mode == "fresh" else identity)
    name = Path(job.path.name)
    suffix = _UNSAFE.sub("_", name.suffix)[:16]
    return f"{_safe_stem(name.stem if suffix else name.name)}.{token}{suffix}"
