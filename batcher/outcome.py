"""What flows between stages (``RowJob``, ``Ticket``) and what lands in the report (``ReportLine``).

A per-row failure is data: ``RowJob.fail`` turns any ``RowError`` into a report line with
the stage, a stable code and the message, so the rest of the batch goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, PrivateAttr
from pydantic.alias_generators import to_camel

from batcher.errors import BatcherError
from batcher.redact import redact

Stage = Literal["manifest", "preflight", "upload", "submit", "poll", "result", "run"]
UploadMethod = Literal["direct", "presigned"]


class ErrorInfo(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    stage: Stage
    code: str
    message: str
    http_status: int | None = None
    retryable: bool = False

    @classmethod
    def of(cls, stage: Stage, exc: BatcherError) -> ErrorInfo:
        return cls(
            stage=stage,
            code=exc.code,
            message=redact(exc.message),
            http_status=getattr(exc, "http_status", None),
            retryable=exc.retryable,
        )


class Note(BaseModel):
    """Something the reader of a line should know that is not an error (``code`` is stable)."""

    code: str
    message: str


@dataclass(frozen=True)
class RowOrigin:
    """What the journal needs of a line's row but the report does not show."""

    key: str | None
    """The row's identity (``rows/identity.py``): what the journal and history are keyed by."""
    mtime_ns: int | None = None
    sha256: str | None = None
    journal: bool = True
    """False for lines that are already on record (replayed or carried): not written again."""


class ReportLine(BaseModel):
    """One line of the JSONL report (README, Report); field order is the documented one."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    row: int
    path: str
    bytes: int | None = None
    content_type: str | None = None
    upload_method: UploadMethod | None = None
    blob_path: str | None = None
    submission_id: str | None = None
    asset_id: str | None = None
    version_group_id: str | None = None
    version_number: int | None = None
    status: Literal["complete", "failed", "error"]
    issue_count: int | None = None
    issues: list[dict[str, Any]] = []
    error: ErrorInfo | None = None
    notes: list[Note] = []
    reused_from: dict[str, Any] | None = None
    """``--incremental``: the row was unchanged and this is an earlier sweep's result
    (``reviewedAt``, ``sweep``), carried as it was instead of being reviewed again."""
    columns: dict[str, Any] = {}
    _origin: RowOrigin | None = PrivateAttr(default=None)

    @property
    def origin(self) -> RowOrigin | None:
        # Read from pydantic's private-attribute dict directly (what its __getattr__ ends up
        # doing, minus the lookups): asked of every line the writer writes.
        private = self.__pydantic_private__
        return None if private is None else private.get("_origin")

    def with_origin(self, origin: RowOrigin | None) -> ReportLine:
        self._origin = origin
        return self

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True)


@dataclass
class RowJob:
    """A manifest row on its way through the stages; fields fill in as it advances."""

    row: int
    path_text: str
    columns: dict[str, Any]
    path: Path | None = None
    identity: Path | None = None
    """``path`` with symlinks resolved: what makes two rows the same file (set once)."""
    key: str | None = None
    """Identity in the journal and the sweep history: the resolved path, or ``--key``'s value."""
    sha256: str | None = None
    """``--checksum``: the content's SHA-256 (hex), what tells a change."""
    size: int | None = None
    mtime_ns: int | None = None
    content_type: str | None = None
    previous_submission_id: str | None = None
    expected_version_group_id: str | None = None
    """``--incremental``: the version group this file's history has, which its next version
    should join (checked against the E4 answer, ``stages/carry.py``)."""
    upload_method: UploadMethod | None = None
    upload_filename: str | None = None
    blob_path: str | None = None
    submission_id: str | None = None
    asset_id: str | None = None
    version_group_id: str | None = None
    version_number: int | None = None
    asset_retries: int = 0
    bytes_sent: int = 0
    create_ambiguous: bool = False
    """E4 for this row was sent and its answer lost (connection cut, or the process died with
    the create in flight): the next create of it may meet 409 (``stages/submit.py``)."""
    notes: list[Note] = field(default_factory=list)
    """Carried to the report line (e.g. resubmitted after an ambiguous create)."""

    def line(self, **kw: Any) -> ReportLine:
        origin = RowOrigin(self.key, self.mtime_ns, self.sha256)
        return ReportLine(
            row=self.row,
            path=self.path_text,
            bytes=self.size,
            content_type=self.content_type,
            upload_method=self.upload_method,
            blob_path=self.blob_path,
            submission_id=self.submission_id,
            asset_id=self.asset_id,
            version_group_id=self.version_group_id,
            version_number=self.version_number,
            notes=list(self.notes),
            columns=self.columns,
            **kw,
        ).with_origin(origin)

    def fail(self, stage: Stage, exc: BatcherError) -> ReportLine:
        return self.line(status="error", error=ErrorInfo.of(stage, exc))


@dataclass
class Ticket:
    """A created submission and its rows, waiting for results (the pollers' unit of work)."""

    submission_id: str
    jobs: dict[str, RowJob]
    """asset ID → row"""
    created_at: float
    polls: int = 0
    done: set[str] = field(default_factory=set)
    progress: tuple[float, int] | None = None
    """(when, progressPercent) at the last change, to predict the end."""
    eta: float | None = None
    """Seconds until the submission should finish, from the progress rate (None: unknown)."""
    resumed: bool = False
    """Created by an earlier run: webhook events for it went there, so poll it at once."""
