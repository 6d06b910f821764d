"""An in-memory Azure Blob (block blobs over SAS) implementing BlobTransport, for unit tests.

Behaves like the real service where the uploader depends on it (docs/blob.md): Content-MD5
checked, equal-length block ids, Put Block List with <Latest>, Get Block List needing ``r``,
403 AuthenticationFailed for expired signatures. Faults are scripted per operation.
No sockets and no real sleeping: requests yield to the event loop a few times so that
concurrent requests genuinely overlap.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import anyio.lowlevel
import yarl
from multidict import CIMultiDict

from batcher.blob.reader import md5_b64
from batcher.blob.transport import BlobResponse
from batcher.clock import Clock
from batcher.errors import BatcherError, TransportError

_LATEST = re.compile(rb"<Latest>([^<]*)</Latest>")


@dataclass
class FakeRequest:
    method: str
    op: str
    blob: str
    query: dict[str, str]
    headers: Mapping[str, str]
    body: bytes


@dataclass
class _Fault:
    op: str
    times: int
    status: int = 0
    code: str = ""
    retry_after: str | None = None
    error: BatcherError | None = None
    corrupt: bool = False


@dataclass
class FakeBlob:
    uncommitted: dict[str, bytes] = field(default_factory=dict)
    committed: dict[str, bytes] = field(default_factory=dict)
    data: bytes | None = None
    content_type: str | None = None


class FakeBlobService:
    def __init__(self, *, yields_per_request: int = 3) -> None:
        self.blobs: dict[str, FakeBlob] = {}
        self.log: list[FakeRequest] = []
        self.expired_sigs: set[str] = set()
        self.before: Callable[[FakeRequest], Awaitable[None]] | None = None
        """Awaited before a request is handled (to pause or cancel mid-file in tests)."""
        self.in_flight_bytes = 0
        self.max_in_flight_bytes = 0
        self._faults: list[_Fault] = []
        self._yields = yields_per_request
        self._outages: list[tuple[Clock, float, float]] = []
        self.refused = 0
        """Requests refused by an outage."""

    # -- scripting -------------------------------------------------------------------------
    def fail(
        self, op: str, status: int = 503, code: str = "ServerBusy", *, times: int = 1,
        retry_after: str | None = None,
    ) -> None:  # fmt: skip
        self._faults.append(_Fault(op, times, status, code, retry_after))

    def raise_error(self, op: str, error: BatcherError, *, times: int = 1) -> None:
        """Make the transport raise ``error`` (e.g. a TransportError for a dropped link)."""
        self._faults.append(_Fault(op, times, error=error))

    def corrupt(self, op: str, *, times: int = 1) -> None:
        """Flip a bit of the next body in transit (the service will see an MD5 mismatch)."""
        self._faults.append(_Fault(op, times, corrupt=True))

    def outage(self, clock: Clock, start: float, end: float) -> None:
        """Refuse every connection between these times of ``clock``."""
        self._outages.append((clock, start, end))

    def ops(self, op: str | None = None) -> list[FakeRequest]:
        return [r for r in self.log if op is None or r.op == op]

    # -- BlobTransport ---------------------------------------------------------------------
    async def request(
        self,
        method: str,
        url: yarl.URL,
        *,
        op: str,
        headers: Mapping[str, str],
        body: bytes | memoryview | None,
        time_limit: float,
    ) -> BlobResponse:
        if any(start <= clock.now() < end for clock, start, end in self._outages):
            self.refused += 1
            await anyio.lowlevel.checkpoint()
            raise TransportError(f"{op}: cannot connect (fake outage)", ambiguous=False)
        query = {k: v[0] for k, v in parse_qs(url.raw_query_string).items()}
        req = FakeRequest(method, op, url.path, query, dict(headers), bytes(body or b""))
        self.log.append(req)
        if self.before is not None:
            await self.before(req)
        self.in_flight_bytes += len(req.body)
        self.max_in_flight_bytes = max(self.max_in_flight_bytes, self.in_flight_bytes)
        try:
            for _ in range(self._yields):
                await anyio.lowlevel.checkpoint()
            fault = self._take_fault(op)
            if fault is not None and fault.error is not None:
                raise fault.error
            if fault is not None and fault.corrupt and req.body:
                req.body = bytes([req.body[0] ^ 1]) + req.body[1:]
            elif fault is not None:
                return _error(fault.status, fault.code, fault.retry_after)
            return self._handle(req)
        finally:
            self.in_flight_bytes -= len(req.body)

    def _take_fault(self, op: str) -> _Fault | None:
        for fault in self._faults:
            if fault.op == op and fault.times > 0:
                fault.times -= 1
                return fault
        return None

    def _handle(self, req: FakeRequest) -> BlobResponse:
        if req.query.get("sig") in self.expired_sigs:
            return _error(403, "AuthenticationFailed")
        need = "r" if req.method == "GET" else "w"
        if need not in req.query.get("sp", ""):
            return _error(403, "AuthorizationPermissionMismatch")
        md5 = req.headers.get("Content-MD5")
        if md5 is not None and md5 != md5_b64(req.body):
            return _error(400, "Md5Mismatch")
        comp = req.query.get("comp")
        blob = self.blobs.setdefault(req.blob, FakeBlob())
        if req.method == "GET" and comp == "blocklist":
            if blob.data is None and not blob.uncommitted:
                return _error(404, "BlobNotFound")
            items = "".join(
                f"<Block><Name>{k}</Name><Size>{len(v)}</Size></Block>"
                for k, v in blob.uncommitted.items()
            )
            xml = f"<BlockList><UncommittedBlocks>{items}</UncommittedBlocks></BlockList>"
            return BlobResponse(200, CIMultiDict(), xml.encode())
        if comp == "block":
            bid = req.query["blockid"]
            if any(len(other) != len(bid) for other in blob.uncommitted):
                return _error(400, "InvalidBlobOrBlock")
            blob.uncommitted[bid] = req.body
            return BlobResponse(201, CIMultiDict(), b"")
        if comp == "blocklist":
            ids = [m.decode() for m in _LATEST.findall(req.body)]
            pool = {**blob.committed, **blob.uncommitted}
            if any(bid not in pool for bid in ids):
                return _error(400, "InvalidBlockList")
            blob.committed = {bid: pool[bid] for bid in ids}
            blob.data = b"".join(pool[bid] for bid in ids)
            blob.uncommitted.clear()
            blob.content_type = req.headers.get("x-ms-blob-content-type")
            return BlobResponse(201, CIMultiDict(), b"")
        if req.headers.get("x-ms-blob-type") != "BlockBlob":
            return _error(400, "MissingRequiredHeader")
        blob.data, blob.committed = req.body, {}
        blob.uncommitted.clear()
        blob.content_type = req.headers.get("Content-Type")
        return BlobResponse(201, CIMultiDict(), b"")


def _error(status: int, code: str, retry_after: str | None = None) -> BlobResponse:
    headers: CIMultiDict[str] = CIMultiDict({"x-ms-error-code": code})
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    body = f"<Error><Code>{code}</Code><Message>fake: {code}</Message></Error>"
    return BlobResponse(status, headers, body.encode())
