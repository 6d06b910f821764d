"""What this run has met in the manifest, on disk: per key, the first row that had it.

Used to refuse a second row for the same file (or ``--key`` value) and, for a sweep, to tell
which identities on record the manifest no longer has. At a million rows an in-memory table
of this costs tens of MB; a SQLite TEMP table on the journal's connection costs a bounded
page cache (``CACHE_KIB``) and spills the rest to a temporary file, so the run's RSS does not
grow with the manifest.

The temporary file is SQLite's: in ``SQLITE_TMPDIR`` or ``TMPDIR`` (else ``/var/tmp`` or
``/tmp``), deleted when the connection closes; it takes about the keys' length plus a few
bytes per row (of the order of 100 MB for a million long paths).

TEMP tables live and die with the connection: each run starts with an empty one. That is
what resume needs, since a resumed run reads the manifest from the top again; a table kept
across runs would call every row of a resumed run a duplicate of itself.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from batcher.state.store import GuardedConnection

CACHE_KIB = 1024
CHUNK = 256
"""Keys per statement (well under SQLite's limit of bound parameters)."""


class SeenTable:
    """One namespace of keys (``name``: a plain identifier, e.g. ``seen_keys``)."""

    def __init__(self, db: sqlite3.Connection | GuardedConnection, name: str) -> None:
        if not name.isidentifier():
            raise ValueError(f"bad table name {name!r}")
        self._db = db
        self.table = f"temp.{name}"
        # Changing temp_store drops every TEMP table of the connection (so only when needed)
        # and is refused inside a transaction: then the build's default stays, which is a
        # file unless SQLite was built to keep temporary tables in memory.
        if int(db.execute("PRAGMA temp_store").fetchone()[0]) != 1 and not db.in_transaction:
            db.execute("PRAGMA temp_store=FILE")
        db.execute(f"PRAGMA temp.cache_size=-{CACHE_KIB}")
        db.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {name} "
            "(key TEXT PRIMARY KEY, first_row INTEGER NOT NULL) WITHOUT ROWID"
        )
        db.execute(f"DELETE FROM {self.table}")
        self._insert = f"INSERT OR IGNORE INTO {self.table} (key, first_row) VALUES (?, ?)"

    def first(self, key: str, row: int) -> int:
        """The first row seen with ``key`` (``row`` itself if it is the first)."""
        return self.first_many([(key, row)])[0]

    def first_many(self, pairs: Sequence[tuple[str, int]]) -> list[int]:
        """``first`` for each (key, row) in order: a key twice in ``pairs`` answers with the
        earlier of the two rows, as separate calls would."""
        out: list[int] = []
        for start in range(0, len(pairs), CHUNK):
            chunk = pairs[start : start + CHUNK]
            self._db.executemany(self._insert, chunk)
            keys = list({key: None for key, _ in chunk})
            marks = ", ".join("?" for _ in keys)
            found = dict(
                self._db.execute(
                    f"SELECT key, first_row FROM {self.table} WHERE key IN ({marks})",
                    tuple(keys),
                ).fetchall()
            )
            out.extend(int(found[key]) for key, _ in chunk)
        return out

    def __len__(self) -> int:
        return int(self._db.execute(f"SELECT count(*) FROM {self.table}").fetchone()[0])

    def not_in(self, table: str, column: str = "key") -> str:
        """SQL condition: ``table``'s row has a ``column`` not met in this run."""
        return f"NOT EXISTS (SELECT 1 FROM {self.table} s WHERE s.key = {table}.{column})"
