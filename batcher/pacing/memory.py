"""Learned rates kept between runs, in the journal's database next to the report.

A nightly run over the same library meets the same limits: remembering where each bucket
settled lets the next night start paced just under the limit instead of learning it again
from a 429, which costs a whole ``Retry-After`` (30 s in the service's own example). Limits
are per API key and per service, so the memory is too: its scope is the base URL and a
fingerprint of the key (a truncated SHA-256, never the key). The table is not part of the
sweep, so ``--fresh`` keeps it; what is older than ``MAX_AGE`` is not trusted and learned
again.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from batcher.errors import DiskFullError
from batcher.logs import event
from batcher.pacing.bucket import Learned
from batcher.state.store import JournalStore

MAX_AGE = timedelta(days=30)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS learned_rates (
    scope TEXT NOT NULL,
    bucket TEXT NOT NULL,
    rate REAL NOT NULL,
    burst REAL NOT NULL,
    retry_after REAL NOT NULL,
    ceiling REAL,
    settled INTEGER NOT NULL,
    learned_at TEXT NOT NULL,
    PRIMARY KEY (scope, bucket)
)
"""


def rate_scope(base_url: str, api_key: str) -> str:
    """Which limits these are: one service, one key (only a fingerprint of it is stored).
    The URL keeps scheme, host, port and path only: credentials or a token in its user part
    or query never reach the journal."""
    fingerprint = hashlib.sha256(api_key.encode("utf-8")).hexdigest()[:16]
    url = urlsplit(base_url)
    host = url.hostname or ""
    where = f"{url.scheme}://{host}{f':{url.port}' if url.port else ''}{url.path.rstrip('/')}"
    return f"{where} key:{fingerprint}"


class RateMemory:
    def __init__(self, store: JournalStore, scope: str) -> None:
        self._store = store
        self._scope = scope
        store.db.execute(_SCHEMA)

    def load(self, now: datetime | None = None) -> dict[str, Learned]:
        oldest = (now or datetime.now(UTC)) - MAX_AGE
        rows = self._store.db.execute(
            "SELECT bucket, rate, burst, retry_after, ceiling, settled, learned_at "
            "FROM learned_rates WHERE scope = ?",
            (self._scope,),
        ).fetchall()
        learned: dict[str, Learned] = {}
        for bucket, rate, burst, retry_after, ceiling, settled, learned_at in rows:
            try:
                when = datetime.fromisoformat(str(learned_at))
            except ValueError:
                continue
            if when < oldest or not rate > 0:
                continue
            learned[str(bucket)] = Learned(
                float(rate),
                float(burst),
                float(retry_after),
                None if ceiling is None else float(ceiling),
                bool(settled),
            )
        return learned

    def save(self, learned: dict[str, Learned], now: datetime | None = None) -> None:
        if not learned:
            return
        stamp = (now or datetime.now(UTC)).isoformat(timespec="seconds")
        try:
            with self._store.transaction():
                self._store.db.executemany(
                    "INSERT OR REPLACE INTO learned_rates VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            self._scope,
                            bucket,
                            x.rate,
                            x.burst,
                            x.retry_after,
                            x.ceiling,
                            int(x.settled),
                            stamp,
                        )
                        for bucket, x in learned.items()
                    ],
                )
        except (sqlite3.Error, DiskFullError) as exc:
            # Only a memory: the next run learns the rates again.
            event(logging.WARNING, "rates_not_saved", detail=str(exc))
