"""SQLite cache of scores, keyed by (score config + batch, isomorphism key, score name).

Who writes: only the process that runs a command (the driver). Worker processes and Ray
tasks return their results to it and never open the cache, so the cache lives on the
driver's machine only; it must be on a local filesystem (the WAL journal it uses needs shared
memory, which network filesystems such as NFS do not provide). Several runs on that machine
may share one file: SQLite serialises their writes, results are committed as they arrive (an
interrupted run resumes where it stopped), and a ``claims`` table lets them split the work.

Claims: a run claims a class just before computing it; a thread of the run renews its claims
every ``claim_ttl_s / 6`` seconds while the run lives. Another run takes a class over when
its claim has not been renewed for ``claim_ttl_s`` (default 120 s: the holder was killed,
froze or its host is gone), or at once when the holder ran on this host and its process is
gone. A run that waits for claims says so on stderr (how many classes, which holder, when
the claim was last renewed).

Faults: a damaged file (found by SQLite's quick check at open, or an
``sqlite3.DatabaseError`` met later) is moved aside as ``<name>.corrupt-<UTC time>``,
rebuilt, and every row that still reads is copied back (:mod:`harness.scoring.cache_repair`),
with a notice on stderr. A cache that is not writable (the file or its folder has no write
permission, as the user set it) is opened read-only and never renamed or changed: a run
that finds everything it needs there uses it, any other run stops with a one-line error.
"""

from __future__ import annotations

import functools
import json
import math
import os
import socket
import sqlite3
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

from harness.errors import UserError
from harness.scoring.cache_repair import is_corruption, move_aside, salvage

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
CLAIM_TTL_S = 120.0


class CacheError(UserError):
    """The cache file cannot be used (e.g. it is read-only and lacks results)."""


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _on_corruption(method):
    """Run a cache method; on a damaged file met now, repair the cache and run it again."""

    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            if (getattr(exc, "sqlite_errorname", None) or "").startswith(WRITE_FAILURES):
                raise CacheError(f"cannot write the cache {self.path}: {exc}; the results "
                                 "stored so far are kept") from None
            if not is_corruption(exc):
                raise
            self._recover(exc)
            return method(self, *args, **kwargs)

    return guarded


WRITE_FAILURES = ("SQLITE_FULL", "SQLITE_READONLY", "SQLITE_IOERR")  # one line, not a trace


class ScoreCache:
    """See the module docstring. ``read_only``: None decides from the file's permissions."""

    def __init__(self, path: str | Path, claim_ttl_s: float = CLAIM_TTL_S,
                 read_only: bool | None = None):
        self.path = Path(path)
        self.claim_ttl_s = claim_ttl_s
        self.owner = _owner()
        self.read_only = not_writable(self.path) if read_only is None else read_only
        self._heartbeat: _Heartbeat | None = None
        if self.read_only and not self.path.exists():
            raise CacheError(f"the cache {self.path} does not exist and its folder is not "
                             "writable: pass another --cache (or --no-cache)")
        if not self.read_only:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CacheError(f"cannot create the cache folder {self.path.parent}: "
                                 f"{exc.strerror or exc}") from None
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            if not is_corruption(exc):
                raise CacheError(f"cannot open the cache {self.path}: {exc}") from None
            self._db = None
            self._recover(exc)

    def _open(self) -> sqlite3.Connection:
        if self.read_only:
            db = _open_read_only(self.path)
        else:
            db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
        try:
            problems = [row[0] for row in db.execute("PRAGMA quick_check(1)")]
        except sqlite3.DatabaseError:
            db.close()
            raise
        if problems != ["ok"]:
            db.close()
            raise sqlite3.DatabaseError(f"quick_check: {problems[0]}")
        self._inode = os.stat(self.path).st_ino
        return db

    def _recover(self, exc: BaseException) -> None:
        """Move the damaged file aside, rebuild the cache and copy back what still reads."""
        if self._db is not None:
            self._db.close()
        if self.read_only:
            raise CacheError(f"the cache {self.path} is damaged ({exc}) and read-only, so it "
                             "cannot be repaired: pass another --cache (or --no-cache)")
        try:
            same_file = os.stat(self.path).st_ino == getattr(self, "_inode", None)
        except FileNotFoundError:
            same_file = False
        if not same_file and getattr(self, "_inode", None) is not None:
            self._db = self._open()  # another run on this cache has repaired it already
            return
        aside = move_aside(self.path)
        self._db = self._open()
        with self._transaction():
            kept, bad = salvage(aside, self._db)
        sys.stderr.write(f"notice: cache {self.path} is damaged ({exc}); moved it to {aside}, "
                         f"rebuilt it and kept the {kept} rows that still read"
                         f"{f' ({bad} malformed rows dropped)' if bad else ''}\n")

    def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None
        self._db.close()

    # ------------------------------------------------------------------ reads
    @_on_corruption
    def register_config(self, config_key: str, config: dict) -> None:
        if not self.read_only:
            self._db.execute("INSERT OR IGNORE INTO configs VALUES (?, ?)",
                             (config_key, json.dumps(config, sort_keys=True)))

    @_on_corruption
    def lookup(self, config_key: str, score: str) -> dict[str, float]:
        """iso_key -> value (NaN for a stored NaN) of every cached result."""
        rows = self._db.execute(
            "SELECT iso_key, value FROM scores WHERE config_key=? AND score=?",
            (config_key, score)).fetchall()
        return {k: (math.nan if v is None else v) for k, v in rows}

    @_on_corruption
    def get(self, config_key: str, iso_key: str) -> dict[str, float]:
        """score name -> value of one class."""
        rows = self._db.execute(
            "SELECT score, value FROM scores WHERE config_key=? AND iso_key=?",
            (config_key, iso_key)).fetchall()
        return {n: (math.nan if v is None else v) for n, v in rows}

    @_on_corruption
    def holders(self, config_key: str, iso_keys) -> dict[str, tuple[int, float]]:
        """owner -> (classes of ``iso_keys`` it holds, seconds since it last renewed)."""
        wanted, now, out = set(iso_keys), time.time(), {}
        for k, owner, since in self._db.execute(
                "SELECT iso_key, owner, since FROM claims WHERE config_key=?", (config_key,)):
            if k in wanted:
                n, age = out.get(owner, (0, math.inf))
                out[owner] = (n + 1, min(age, now - since))
        return out

    # ------------------------------------------------------------------ writes
    def store(self, config_key: str, iso_key: str, values: dict[str, float], seconds: float,
              device: str) -> None:
        """Store the scores of one class and release its claim, in one transaction."""
        self.store_many(config_key, [(iso_key, values, seconds)], device)

    @_on_corruption
    def store_many(self, config_key: str, results, device: str) -> None:
        """Store ``results`` ([(iso_key, {name: value}, seconds)]) and release their
        claims, in one transaction."""
        now = time.time()
        rows = [(config_key, k, name, None if math.isnan(v) else v, seconds, device, now)
                for k, values, seconds in results for name, v in values.items()]
        with self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO scores VALUES (?,?,?,?,?,?,?)", rows)
            self._db.executemany("DELETE FROM claims WHERE config_key=? AND iso_key=?",
                                 [(config_key, k) for k, _, _ in results])

    @_on_corruption
    def claim(self, config_key: str, iso_key: str, names, force: bool = False) -> str:
        """'mine' if this run may compute the class, 'done' if every score of ``names`` is
        already stored, 'taken' if another live run holds an unexpired claim on it (ignored
        with ``force``). A read-only cache records no claim."""
        with self._transaction():
            if set(names) <= set(self.get(config_key, iso_key)):
                return "done"
            if self.read_only:
                return "mine"
            row = self._db.execute(
                "SELECT owner, since FROM claims WHERE config_key=? AND iso_key=?",
                (config_key, iso_key)).fetchone()
            if row and not force and row[0] != self.owner \
                    and time.time() - row[1] < self.claim_ttl_s and _alive(row[0]):
                return "taken"
            self._db.execute("INSERT OR REPLACE INTO claims VALUES (?,?,?,?)",
                             (config_key, iso_key, self.owner, time.time()))
        if self._heartbeat is None:
            self._heartbeat = _Heartbeat(self.path, self.owner, self.claim_ttl_s / 6)
        return "mine"

    def release_claims(self) -> None:
        if not self.read_only:
            try:
                self._db.execute("DELETE FROM claims WHERE owner=?", (self.owner,))
            except sqlite3.DatabaseError as exc:  # they expire anyway
                if not is_corruption(exc):
                    raise

    def _transaction(self):
        db, read_only = self._db, self.read_only

        class _Tx:
            def __enter__(self):
                db.execute("BEGIN" if read_only else "BEGIN IMMEDIATE")

            def __exit__(self, exc_type, *_):
                if exc_type is None:
                    db.execute("COMMIT")
                elif db.in_transaction:
                    try:
                        db.execute("ROLLBACK")
                    except sqlite3.DatabaseError:
                        pass  # the error being raised says more

        return _Tx()


class _Heartbeat:
    """A thread that renews the claims of ``owner`` every ``every_s`` seconds, on its own
    connection, until stopped (or the process dies, after which the claims expire)."""

    def __init__(self, path: Path, owner: str, every_s: float):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(path, owner, every_s),
                                        name="cache-claims-heartbeat", daemon=True)
        self._thread.start()

    def _run(self, path, owner, every_s):
        while not self._stop.wait(every_s):
            try:
                uri = f"file:{quote(str(Path(path).resolve()))}?mode=rw"  # never creates it
                with sqlite3.connect(uri, uri=True, timeout=30.0) as db:
                    db.execute("UPDATE claims SET since=? WHERE owner=?", (time.time(), owner))
                db.close()
            except sqlite3.Error:
                pass  # the main thread meets and reports a real problem

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class WaitNotice:
    """What a run waits for, on stderr: at once, then every ``every_s`` seconds."""

    def __init__(self, cache: ScoreCache | None, every_s: float = 30.0):
        self.cache, self.every_s, self._next = cache, every_s, 0.0

    def waiting(self, config_key: str, iso_keys) -> None:
        if self.cache is None or time.monotonic() < self._next:
            return
        self._next = time.monotonic() + self.every_s
        for owner, (n, age) in self.cache.holders(config_key, iso_keys).items():
            sys.stderr.write(
                f"waiting for {n} class(es) that another run ({owner}) is computing: claim "
                f"renewed {age:.0f} s ago, taken over when not renewed for "
                f"{self.cache.claim_ttl_s:.0f} s or when that process is gone\n")


def not_writable(path: Path) -> bool:
    """Whether the cache file (or, when missing, its nearest existing folder) is not
    writable: no permission for this user, or no write bit at all (``chmod a-w``, which
    root would otherwise ignore), on the file or on its folder."""
    target = path if path.exists() else next(
        (p for p in path.parents if p.exists()), Path("/"))
    for p in {target, target.parent if target == path else target}:
        if not os.access(p, os.W_OK) or not (p.stat().st_mode & 0o222):
            return True
    return False


def _open_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection; a WAL cache whose -shm cannot be created is read as
    immutable (nothing may write it meanwhile: it is read-only)."""
    uri = f"file:{quote(str(path.resolve()))}"
    db = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=60.0, isolation_level=None)
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return db
    except sqlite3.OperationalError:
        db.close()
    return sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None)


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
