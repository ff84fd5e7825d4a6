"""SQLite cache of scores, keyed by (score config + batch, isomorphism key, score name).

Results are committed as they are computed, so an interrupted run resumes where it stopped.
Several processes may share one file: SQLite serialises the writes (WAL journal, busy
timeout), and a ``claims`` table lets concurrent runs split the work instead of repeating it.
A file that is not a readable SQLite database is moved aside and rebuilt, with a notice.
"""

from __future__ import annotations

import json
import math
import os
import socket
import sqlite3
import sys
import time
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS configs (
    config_key TEXT PRIMARY KEY, config_json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS scores (
    config_key TEXT NOT NULL, iso_key TEXT NOT NULL, score TEXT NOT NULL,
    value REAL, seconds REAL, device TEXT, created REAL,
    PRIMARY KEY (config_key, iso_key, score));
CREATE TABLE IF NOT EXISTS claims (
    config_key TEXT NOT NULL, iso_key TEXT NOT NULL, owner TEXT NOT NULL, since REAL NOT NULL,
    PRIMARY KEY (config_key, iso_key));
"""


class CacheError(Exception):
    """The cache file cannot be used (e.g. its folder is not writable)."""


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class ScoreCache:
    def __init__(self, path: str | Path, claim_ttl_s: float = 600.0):
        self.path = Path(path)
        self.claim_ttl_s = claim_ttl_s
        self.owner = _owner()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(f"cannot create the cache folder {self.path.parent}: {exc}") from None
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "unable to open" in str(exc):
                raise CacheError(f"cannot open the cache {self.path}: {exc}") from None
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            os.replace(self.path, aside)
            sys.stderr.write(f"notice: cache {self.path} was not a readable SQLite database "
                             f"({exc}); moved it to {aside} and started a new one\n")
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        db.execute("SELECT count(*) FROM scores").fetchone()  # fails fast on a corrupt file
        return db

    def close(self) -> None:
        self._db.close()

    # ------------------------------------------------------------------ reads
    def register_config(self, config_key: str, config: dict) -> None:
        self._db.execute("INSERT OR IGNORE INTO configs VALUES (?, ?)",
                         (config_key, json.dumps(config, sort_keys=True)))

    def lookup(self, config_key: str, score: str) -> dict[str, float]:
        """iso_key -> value (NaN for a stored NaN) of every cached result."""
        rows = self._db.execute(
            "SELECT iso_key, value FROM scores WHERE config_key=? AND score=?",
            (config_key, score))
        return {k: (math.nan if v is None else v) for k, v in rows}

    # ------------------------------------------------------------------ writes
    def store(self, config_key: str, iso_key: str, values: dict[str, float], seconds: float,
              device: str) -> None:
        """Store the scores of one class and release its claim, in one transaction."""
        now = time.time()
        rows = [(config_key, iso_key, name, None if math.isnan(v) else v, seconds, device, now)
                for name, v in values.items()]
        with self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO scores VALUES (?,?,?,?,?,?,?)", rows)
            self._db.execute("DELETE FROM claims WHERE config_key=? AND iso_key=?",
                             (config_key, iso_key))

    def get(self, config_key: str, iso_key: str) -> dict[str, float]:
        """score name -> value of one class."""
        rows = self._db.execute(
            "SELECT score, value FROM scores WHERE config_key=? AND iso_key=?",
            (config_key, iso_key))
        return {n: (math.nan if v is None else v) for n, v in rows}

    def claim(self, config_key: str, iso_key: str, names) -> str:
        """'mine' if this process may compute the class, 'done' if every score of ``names``
        is already stored, 'taken' if another live process holds a fresh claim on it."""
        now = time.time()
        with self._transaction():
            if set(names) <= set(self.get(config_key, iso_key)):
                return "done"
            row = self._db.execute(
                "SELECT owner, since FROM claims WHERE config_key=? AND iso_key=?",
                (config_key, iso_key)).fetchone()
            if row and row[0] != self.owner and now - row[1] < self.claim_ttl_s \
                    and _alive(row[0]):
                return "taken"
            self._db.execute("INSERT OR REPLACE INTO claims VALUES (?,?,?,?)",
                             (config_key, iso_key, self.owner, now))
        return "mine"

    def release_claims(self) -> None:
        self._db.execute("DELETE FROM claims WHERE owner=?", (self.owner,))

    def _transaction(self):
        db = self._db

        class _Tx:
            def __enter__(self):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self, exc_type, *_):
                db.execute("ROLLBACK" if exc_type else "COMMIT")

        return _Tx()


def _alive(owner: str) -> bool:
    """Whether a claim's process still runs (only knowable on the same host)."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True
