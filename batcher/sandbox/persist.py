"""Rebuilding a sandbox from its ``state_dir``: the SAS signing key, the blob index and the
records E4-E9, E10-E13 and blob reads need, replayed from the journal.

Counters (requests, bytes received, faults, 429s) are per process and start at zero; so does
``created_submissions`` (it counts E4 calls this process answered). Submissions keep their
wall-clock timestamps, so one created before a restart has moved on by the time it is read.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batcher.sandbox.blobs import BlobStore, Part
from batcher.sandbox.journal import JOURNAL_NAME
from batcher.sandbox.state import (
    AssetRecord,
    Attempt,
    IssuedPath,
    SandboxState,
    SubmissionRecord,
    Subscription,
)

log = logging.getLogger(__name__)
_SAS_KEY = "sas.key"


@dataclass
class Replayed:
    dispatched: set[tuple[str, int]] = field(default_factory=set)  # (asset id, attempt index)
    records: int = 0


def sas_secret(state_dir: Path) -> bytes:
    """The SAS signing key, kept so SAS URLs handed out before a restart still verify.
    Blocking: call from a worker thread."""
    path = state_dir / _SAS_KEY
    try:
        return path.read_bytes()
    except FileNotFoundError:
        key = secrets.token_bytes(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
            fh.flush()
            os.fsync(fh.fileno())
        return key


def read_records(state_dir: Path) -> list[dict[str, Any]]:
    """Every whole record. A line cut short by a kill mid-write was never acknowledged (its
    request had not answered), so it is dropped. Blocking."""
    path = state_dir / JOURNAL_NAME
    if not path.exists():
        return []
    records: list[dict[str, Any]] = []
    lines = path.read_bytes().split(b"\n")
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError:
            log.warning("sandbox journal: skipping unreadable line %d", number)
    return records


def _part(blob_dir: Path, rec: dict[str, Any]) -> Part:
    return Part(blob_dir / rec["file"], rec["size"], rec["block_id"])


def _submission(rec: dict[str, Any]) -> SubmissionRecord:
    assets = [
        AssetRecord(
            **{k: v for k, v in a.items() if k != "attempts"},
            attempts=[Attempt(**t) for t in a["attempts"]],
        )
        for a in rec["assets"]
    ]
    fields = {k: v for k, v in rec.items() if k not in ("op", "assets")}
    return SubmissionRecord(**fields, assets=assets)


def replay(
    records: list[dict[str, Any]], state: SandboxState, store: BlobStore, blob_dir: Path
) -> Replayed:
    """Apply the journal to an empty state and store. Synchronous and quick: no file I/O."""
    out = Replayed(records=len(records))
    for rec in records:
        op = rec["op"]
        if op == "issued":
            issued = IssuedPath(**{k: v for k, v in rec.items() if k != "op"})
            state.issued[issued.blob_path] = issued
        elif op == "blob":
            blob = store.entry(rec["path"])
            blob.committed = [_part(blob_dir, p) for p in rec["parts"]]
            blob.uncommitted = {}
            blob.md5 = bytes.fromhex(rec["md5"]) if rec["md5"] else None
            blob.sha256 = bytes.fromhex(rec["sha256"]) if rec["sha256"] else None
            blob.etag, blob.last_modified = rec["etag"], rec["last_modified"]
            blob.content_type = rec["content_type"]
            stats = state.blob(rec["path"])
            stats.committed_size = blob.size
            stats.committed_sha256 = rec["sha256"]
        elif op == "block":
            part = _part(blob_dir, rec)
            assert part.block_id is not None
            store.entry(rec["path"]).uncommitted[part.block_id] = part
        elif op == "submission":
            sub = _submission(rec)
            state.submissions[sub.submission_id] = sub
            for asset in sub.assets:
                state.submitted_blob_paths.add(asset.blob_path)
                state.submitted_content_hashes[asset.content_sha256] += 1
                state.version_groups[asset.version_group_id] = asset.version_number
        elif op == "retry":
            found = state.submissions.get(rec["submission_id"])
            asset_rec = found.asset(rec["asset_id"]) if found else None
            if asset_rec is not None:
                asset_rec.attempts.append(
                    Attempt(rec["started_at"], rec["duration"], rec["workflow_id"])
                )
        elif op == "subscription":
            sub_rec = Subscription(**{k: v for k, v in rec.items() if k != "op"})
            state.webhook_subscriptions[sub_rec.id] = sub_rec
        elif op == "subscription_deleted":
            state.webhook_subscriptions.pop(rec["id"], None)
        elif op == "dispatched":
            out.dispatched.add((rec["asset_id"], rec["attempt"]))
    return out


def referenced_files(store: BlobStore) -> set[str]:
    return {
        p.path.name
        for b in store.all_blobs()
        for p in [*(b.committed or []), *b.uncommitted.values()]
    }


def remove_orphans(blob_dir: Path, keep: set[str]) -> int:
    """Part files no record names: bodies a kill cut off, or replaced blobs whose unlink did
    not happen. Blocking."""
    removed = 0
    for path in blob_dir.glob("*.part"):
        if path.name not in keep:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
