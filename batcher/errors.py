"""The exception tree, the only one batcher raises on purpose.

Foreign failures are translated once, at a boundary: ``batcher.http_errors`` turns aiohttp's
and the socket layer's exceptions into ``TransportError`` for every host; the status of an
answer is mapped per service (``batcher.api.errors_map`` for the API, ``batcher.blob.errors``
for Azure Blob); local writes go through ``batcher.localio``. Stages only look at the class
and its flags, never at HTTP statuses or ``code`` strings.

    BatcherError
    ├── UsageError                  exit 2: bad options, configuration or manifest
    │   ├── ReportWriteError        the report cannot be written (the run stops)
    │   └── ReportUnreadable        ``batcher report``/``retry``: the report cannot be read
    ├── DiskFullError               exit 74: a local write failed (no room, I/O error)
    ├── Interrupted                 exit 130: Ctrl-C / SIGTERM; the next run resumes
    │   └── ThrottledTooLong        a Retry-After longer than --max-throttle-wait
    ├── ServiceUnreachable          a host stayed away past --max-outage: clean stop, resumable
    ├── FatalApiError               exit 3: the service refuses the whole run
    │   ├── AuthenticationError     401 (missing / invalid / expired / revoked key)
    │   └── PlanError               402 (plan lacks the Integrations API)
    └── RowError                    one row fails; becomes data in the report
        ├── InputError              pre-flight: missing file, bad type, over a cap ...
        ├── ApiError                the API answered with an error status
        │   ├── ConflictError       409 (asset not retryable, retry already running ...)
        │   │   └── AlreadySubmittedError   409 "Asset already submitted"
        │   ├── RateLimitedError    429 (carries Retry-After; slows the run, fails no row)
        │   └── ServerError         500 / 502 (retryable)
        ├── BlobError               Azure Blob (or the sandbox's blob host) answered an error
        │   └── BlobMd5MismatchError    the body was damaged on the way (resent once)
        ├── TransportError          connection refused / reset, DNS, TLS, cut answers
        │   └── RequestTimeoutError no answer within the per-request timeout
        ├── FileChangedError        the file changed while it was being uploaded
        └── DeadlineError           a row's time budget ran out (e.g. polling deadline)

``retryable`` says whether sending the same request again may help; ``code`` is the
stable short name written to the report's ``error.code``.
"""

from __future__ import annotations


class BatcherError(Exception):
    """Base of every error batcher raises on purpose."""

    code: str = "error"
    retryable: bool = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(BatcherError):
    """The command line, configuration or manifest cannot be used (exit 2)."""

    code = "usage"


class ReportWriteError(UsageError):
    """The report cannot be written (disk full, permissions): the run cannot keep its promise
    that every row ends in the report, so it stops."""

    code = "report_unwritable"


class ReportUnreadable(UsageError):
    code = "report_unreadable"


class Interrupted(BatcherError):
    code = "interrupted"


class DiskFullError(BatcherError):
    """A local write failed for lack of room (ENOSPC, EDQUOT, SQLite "database or disk is
    full") or because the device failed (EIO, SQLite "disk I/O error"): the report, journal,
    log file or summary. The run stops (exit 74); what the journal holds is kept, so a re-run
    on a disk with room finishes the run. Made only by ``batcher.localio``."""

    code = "disk_full"

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class ThrottledTooLong(Interrupted):
    """A bucket was shut (``Retry-After``) for longer than ``--max-throttle-wait``: the
    run stops like an interruption, and a re-run after ``until`` finishes it."""

    code = "throttled"

    def __init__(self, message: str, *, bucket: str, until: str) -> None:
        super().__init__(message)
        self.bucket = bucket
        self.until = until


class ServiceUnreachable(BatcherError):
    """A host (the API or the blob storage) stayed unreachable longer than ``--max-outage``.
    Not a row's failure: the run stops, unfinished rows get provisional lines and the next
    run of the same command resumes them."""

    code = "service_unreachable"
    # Not retried by the Retrier: the breaker already waited --max-outage. The report
    # lines it leaves say retryable (the next run picks the rows up).
    retryable = False


class FatalApiError(BatcherError):
    """An answer that makes every further request pointless: abort the run (exit 3)."""

    code = "fatal"

    def __init__(self, message: str, *, http_status: int) -> None:
        super().__init__(message)
        self.http_status = http_status


class AuthenticationError(FatalApiError):
    code = "unauthorized"


class PlanError(FatalApiError):
    code = "plan_not_authorized"


class RowError(BatcherError):
    """A failure confined to one manifest row (or one batch of rows)."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        http_status: int | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        if retryable is not None:
            self.retryable = retryable
        self.http_status = http_status


class InputError(RowError):
    code = "invalid_input"


class ApiError(RowError):
    code = "api_error"


class ConflictError(ApiError):
    code = "conflict"


class AlreadySubmittedError(ConflictError):
    code = "already_submitted"


class RateLimitedError(ApiError):
    code = "rate_limited"
    retryable = True

    def __init__(self, message: str, *, retry_after: float | None, http_status: int = 429) -> None:
        super().__init__(message, http_status=http_status)
        self.retry_after = retry_after


class ServerError(ApiError):
    code = "server_error"
    retryable = True


class BlobError(RowError):
    """Azure Blob said no. ``azure_code`` is the ``x-ms-error-code`` (may be empty: Azurite
    answers some 400s with no code at all)."""

    code = "blob_error"

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None,
        azure_code: str = "",
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, http_status=http_status, retryable=retryable)
        self.azure_code = azure_code
        self.retry_after = retry_after

    @property
    def sas_expired(self) -> bool:
        # Real Azure says AuthenticationFailed, Azurite AuthorizationFailure (docs/blob.md, Errors).
        return self.http_status == 403 and self.azure_code in {
            "AuthenticationFailed",
            "AuthorizationFailure",
        }


class BlobMd5MismatchError(BlobError):
    """The service computed another MD5 than the Content-MD5 we sent."""

    code = "md5_mismatch"


class TransportError(RowError):
    """The request may or may not have reached the service (``ambiguous``)."""

    code = "transport"
    retryable = True

    def __init__(self, message: str, *, ambiguous: bool = True) -> None:
        super().__init__(message)
        self.ambiguous = ambiguous


class RequestTimeoutError(TransportError):
    code = "timeout"


class FileChangedError(RowError):
    code = "file_changed"


class DeadlineError(RowError):
    code = "deadline_exceeded"
