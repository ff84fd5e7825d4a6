"""Repairing a corrupt score cache: move it aside, keep every row that still reads.

SQLite reports a damaged file as ``SQLITE_CORRUPT`` ("database disk image is malformed") or
``SQLITE_NOTADB``; it may do so at open (the quick check) or only when a query first reaches
the damaged page. The file is then renamed ``<name>.corrupt-<UTC time>`` (with its ``-wal``
so that its committed transactions are read too) and the rows that still read are copied
into a fresh cache: like SQLite's ``.recover``, each table is walked in rowid order and a
damaged stretch is skipped by probing for the next rowid that reads, so one bad page costs
only the rows stored on it. Rows whose columns have the wrong types are not copied.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

CORRUPT_CODES = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}
# table -> a check of one row (columns in table order): what a valid row looks like
_VALID = {
    "configs": lambda r: len(r) == 2 and all(isinstance(v, str) for v in r),
    "scores": lambda r: (len(r) == 7 and all(isinstance(v, str) for v in r[:3])
                         and all(v is None or isinstance(v, (int, float)) for v in r[3:5])
                         and (r[5] is None or isinstance(r[5], str))
                         and (r[6] is None or isinstance(r[6], (int, float)))),
}
MAX_ROWID = 2**63 - 1


def is_corruption(exc: BaseException) -> bool:
    """Whether an sqlite3 error says the file is damaged (not locked, full or read-only)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    name = getattr(exc, "sqlite_errorname", None)
    if name is not None:
        return name in CORRUPT_CODES or name.startswith("SQLITE_CORRUPT")
    text = str(exc)
    return "malformed" in text or "not a database" in text or text.startswith("quick_check")


def move_aside(path: Path) -> Path:
    """Rename the cache (and its -wal, -shm) to ``<name>.corrupt-<UTC time>[-n]``."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while aside.exists():
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    os.replace(path, aside)
    for suffix in ("-wal", "-shm"):
        side = Path(f"{path}{suffix}")
        if side.exists():
            os.replace(side, Path(f"{aside}{suffix}"))
    return aside


def salvage(aside: Path, target: sqlite3.Connection) -> tuple[int, int]:
    """Copy the readable, well-formed rows of ``configs`` and ``scores`` from the file
    ``aside`` into ``target``: (rows kept, rows seen but malformed)."""
    kept = bad = 0
    try:
        src = sqlite3.connect(aside, isolation_level=None)
    except sqlite3.Error:
        return 0, 0
    try:
        for table, valid in _VALID.items():
            good = []
            for row in readable_rows(src, table):
                if valid(row):
                    good.append(row)
                else:
                    bad += 1
            if good:
                marks = ",".join("?" * len(good[0]))
                target.executemany(f"INSERT OR IGNORE INTO {table} VALUES ({marks})", good)
                kept += len(good)
    finally:
        src.close()
    return kept, bad


def readable_rows(db: sqlite3.Connection, table: str) -> Iterator[tuple]:
    """The rows of ``table`` that read, in rowid order, skipping damaged stretches. One row
    per query: a cursor that reads ahead would lose the row before the damage."""
    at = -MAX_ROWID - 1
    while True:
        try:
            row = db.execute(f"SELECT rowid, * FROM {table} WHERE rowid >= ? ORDER BY rowid "
                             "LIMIT 1", (at,)).fetchone()
        except sqlite3.DatabaseError:
            nxt = _next_readable(db, table, at)
            if nxt is None:
                return
            at = nxt
            continue
        if row is None:
            return
        yield tuple(row[1:])
        at = row[0] + 1


def _probe(db, table, at: int):
    """'end' when no row has rowid >= at, the rowid found, or None when the seek fails."""
    try:
        row = db.execute(f"SELECT rowid FROM {table} WHERE rowid >= ? ORDER BY rowid LIMIT 1",
                         (at,)).fetchone()
    except sqlite3.DatabaseError:
        return None
    return "end" if row is None else row[0]


def _next_readable(db, table, bad: int) -> int | None:
    """The first rowid after ``bad`` (where a read failed) whose seek reads (None: no more):
    seeks at growing distances until one reads, then bisects back to the damage's end."""
    lo, step = bad, 1
    while True:
        hi = min(bad + step, MAX_ROWID)
        if _probe(db, table, hi) is not None:
            break
        if hi == MAX_ROWID:
            return None
        lo, step = hi, step * 2
    while hi - lo > 1:  # a seek at lo fails, one at hi reads
        mid = (lo + hi) // 2
        if _probe(db, table, mid) is None:
            lo = mid
        else:
            hi = mid
    found = _probe(db, table, hi)
    return None if found in (None, "end") else found
