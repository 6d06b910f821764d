"""The run's promise, checked once at its end: every manifest row it was asked to run has
exactly one report line.

The report writer already refuses a second line for a row; what can still go wrong is a row
that never gets one (a stage that drops it, an answer that overwrote it). ``RowsRead`` sits
on the row iterator the read stage consumes, so it knows every row the run took on (rows
left out by ``only_rows`` never pass through it); at the end the rows read are compared with
the rows written.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from batcher.rows.manifest import ManifestRow
from batcher.rows.rowset import RowBitmap

SHOWN = 10
"""How many missing row numbers a message names (the count is always exact)."""


@dataclass(frozen=True)
class MissingRows:
    count: int = 0
    first: tuple[int, ...] = ()

    def __bool__(self) -> bool:
        return self.count > 0

    def describe(self) -> str:
        shown = ", ".join(str(r) for r in self.first)
        more = f" and {self.count - len(self.first)} more" if self.count > len(self.first) else ""
        noun = "row has" if self.count == 1 else "rows have"
        return f"{self.count} manifest {noun} no line in the report (row {shown}{more})"


@dataclass
class RowsRead:
    rows: RowBitmap = field(default_factory=RowBitmap)
    highest: int = 0

    def track(self, rows: Iterator[ManifestRow]) -> Iterator[ManifestRow]:
        for row in rows:
            self.rows.add(row.row)
            self.highest = max(self.highest, row.row)
            yield row

    def missing(self, written: RowBitmap) -> MissingRows:
        count = 0
        first: list[int] = []
        for r in range(1, self.highest + 1):
            if r in self.rows and r not in written:
                count += 1
                if len(first) < SHOWN:
                    first.append(r)
        return MissingRows(count, tuple(first))
