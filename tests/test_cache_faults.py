"""Storage faults of the score cache, through `python -m harness.rank` (``-m faults``): a
damaged page in the middle of a cache built by a real run (found at open, and found mid-run),
a read-only cache that holds everything, one that lacks results, a read-only cache in
rollback-journal mode."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from harness.scoring.cache import ScoreCache
from harness.scoring.engine import EngineStats, class_representatives, score_archs
from nasi.scoring import ScoreConfig
from nasi.space import Arch

pytestmark = pytest.mark.faults
ROOT = Path(__file__).resolve().parent.parent
FAST = ["--quiet", "--batch-size", "8", "--width", "4", "--cells", "1", "--data", "gaussian"]
SCORES = ["--score", "nasi,grad_norm,snip"]
CONNECTED = sorted(a.index for a in class_representatives().values() if a.is_connected)
INDICES = ",".join(map(str, CONNECTED[:40]))
MORE = ",".join(map(str, CONNECTED[:41]))


def rank(tmp_path, cache, out, indices=INDICES):
    cmd = [sys.executable, "-m", "harness.rank", *FAST, *SCORES, "--indices", indices,
           "--out", str(tmp_path / out), "--cache", str(cache)]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A cache and its ranking from one real run (120 rows: 40 classes x 3 scores)."""
    tmp = tmp_path_factory.mktemp("built")
    proc = rank(tmp, tmp / "c.sqlite", "ref")
    assert proc.returncode == 0, proc.stderr
    return tmp / "c.sqlite", pd.read_csv(tmp / "ref" / "ranking.csv")


def rows(path) -> dict[int, tuple]:
    with sqlite3.connect(path) as db:
        return {r[0]: r[1:] for r in db.execute("SELECT rowid, iso_key, score, value "
                                                "FROM scores")}


def asides_of(folder: Path) -> list[Path]:
    """The caches moved aside (without the -wal / -shm moved with them)."""
    return [p for p in folder.glob("c.sqlite.corrupt-*") if not p.name.endswith(("-wal", "-shm"))]


def damage_middle_leaf(path: Path) -> int:
    """Overwrite the middle leaf page of the scores table with garbage; its cell count."""
    with sqlite3.connect(path) as db:
        try:
            leaves = db.execute("SELECT pageno, ncell FROM dbstat WHERE name='scores' AND "
                                "pagetype='leaf' ORDER BY pageno").fetchall()
        except sqlite3.OperationalError:
            pytest.skip("this SQLite has no dbstat table")
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
    assert len(leaves) >= 3, leaves  # a page with good pages on both sides
    pageno, ncell = leaves[len(leaves) // 2]
    with open(path, "r+b") as f:
        f.seek((pageno - 1) * page_size)
        f.write(bytes((i * 37 + 11) % 256 for i in range(page_size)))
    return ncell


def test_damaged_page_is_found_at_open_and_the_rest_kept(built, tmp_path):
    src, ref = built
    cache = tmp_path / "c.sqlite"
    shutil.copy(src, cache)
    before = rows(cache)
    ncell = damage_middle_leaf(cache)
    proc = rank(tmp_path, cache, "o")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "notice: cache" in proc.stderr, proc.stderr
    asides = asides_of(tmp_path)
    assert len(asides) == 1
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "o" / "ranking.csv"), ref)
    after = rows(cache)
    assert len(after) == len(before)  # the lost rows were recomputed, nothing duplicated
    kept = int(proc.stderr.split("kept the ")[1].split()[0])
    assert kept == 1 + len(before) - ncell  # the config row and all but the damaged page's
    summary = pd.read_json(tmp_path / "o" / "summary.json", typ="series")
    computed = summary["engine"]["classes_computed"]
    assert 0 < computed <= ncell  # the classes of the lost rows, not the whole cache
    again = rank(tmp_path, cache, "o2")  # the rebuilt cache is sound and complete
    assert again.returncode == 0 and "notice" not in again.stderr, again.stderr
    summary = pd.read_json(tmp_path / "o2" / "summary.json", typ="series")
    assert summary["engine"]["classes_computed"] == 0


def test_damage_met_mid_run_is_repaired_and_the_rest_kept(built, tmp_path, capsys):
    src, ref = built
    path = tmp_path / "c.sqlite"
    shutil.copy(src, path)
    before = rows(path)
    cache = ScoreCache(path)  # sound at open
    damage_middle_leaf(path)
    cache._db.close()  # drop the pages it had read before the damage
    cache._db = sqlite3.connect(path, isolation_level=None)
    cfg = ScoreConfig(batch_size=8, data="gaussian", C=4, N=1)
    from nasi.data import batch_fingerprint, load_batch

    x, y = load_batch(cfg.dataset, cfg.data, cfg.batch_size, cfg.seed, cfg.labels)
    stats = EngineStats()
    archs = [Arch.from_index(i) for i in CONNECTED[:40]]
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        got = score_archs(archs, ["nasi", "grad_norm", "snip"], cfg, x, y,
                          batch_fingerprint(x, y), cache, torch.device("cpu"), progress=False,
                          stats=stats)
    finally:
        torch.set_num_threads(old)
    cache.close()
    assert "moved it to" in capsys.readouterr().err
    for name in ("nasi", "grad_norm", "snip"):
        assert got[name].tolist() == pytest.approx(ref[name].tolist(), rel=1e-6)
    assert 0 < stats.classes_computed < 40
    assert stats.classes_cached + stats.classes_computed == 40
    after = rows(path)
    assert len(after) == len(before)
    assert len(asides_of(tmp_path)) == 1


def make_read_only(path: Path, folder_too: bool = True) -> None:
    path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    if folder_too:
        path.parent.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)


@pytest.fixture
def restore_modes(tmp_path):
    yield
    for p in (tmp_path / "ro", *(tmp_path / "ro").glob("*")):
        p.chmod(0o755)


def read_only_copy(built, tmp_path, journal: str = "wal", folder_too: bool = True) -> Path:
    (tmp_path / "ro").mkdir()
    cache = tmp_path / "ro" / "c.sqlite"
    shutil.copy(built[0], cache)
    with sqlite3.connect(cache) as db:
        assert db.execute(f"PRAGMA journal_mode={journal}").fetchone()[0] == journal
    db.close()
    make_read_only(cache, folder_too)
    return cache


def test_read_only_cache_holding_everything_is_used(built, tmp_path, restore_modes):
    cache = read_only_copy(built, tmp_path)
    content = cache.read_bytes()
    proc = rank(tmp_path, cache, "o")
    assert proc.returncode == 0 and "notice" not in proc.stderr, proc.stderr
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "o" / "ranking.csv"), built[1])
    assert cache.read_bytes() == content and not list(tmp_path.glob("ro/*.corrupt-*"))


def test_read_only_cache_lacking_results_is_one_line_exit_2(built, tmp_path, restore_modes):
    cache = read_only_copy(built, tmp_path)
    content = cache.read_bytes()
    proc = rank(tmp_path, cache, "o", indices=MORE)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "read-only" in lines[0] and "lacks 1 of the 41 classes" in lines[0]
    assert cache.read_bytes() == content and not list(tmp_path.glob("ro/*.corrupt-*"))


def test_read_only_cache_in_rollback_mode_is_not_corrupt(built, tmp_path, restore_modes):
    cache = read_only_copy(built, tmp_path, journal="delete", folder_too=False)
    content = cache.read_bytes()
    proc = rank(tmp_path, cache, "o")
    assert proc.returncode == 0 and "notice" not in proc.stderr, proc.stderr
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "o" / "ranking.csv"), built[1])
    assert cache.read_bytes() == content and not list(tmp_path.glob("ro/*.corrupt-*"))


# ---------------------------------------------------------------- claims of other runs
def _claim_as(path: Path, key: str, iso_key: str, owner: str, since: float) -> None:
    with sqlite3.connect(path) as db:
        db.execute("INSERT OR REPLACE INTO claims VALUES (?,?,?,?)", (key, iso_key, owner, since))
    db.close()


def test_claim_of_another_host_is_waited_for_visibly_then_taken_over(tmp_path, capsys):
    import time

    cfg = ScoreConfig(batch_size=4, data="gaussian", C=4, N=1)
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    arch = Arch.from_index(CONNECTED[0])
    path = tmp_path / "c.sqlite"
    cache = ScoreCache(path, claim_ttl_s=1.5)
    _claim_as(path, cfg.key("fp"), arch.iso_key, "otherhost:4242", time.time())
    stats = EngineStats()
    t0 = time.monotonic()
    got = score_archs([arch], ["nasi"], cfg, x, y, "fp", cache, torch.device("cpu"),
                      progress=False, stats=stats)
    waited = time.monotonic() - t0
    err = capsys.readouterr().err
    assert "waiting for 1 class(es) that another run (otherhost:4242) is computing" in err
    assert "taken over when not renewed for 2 s" in err  # 1.5 s, rounded
    assert 1.4 <= waited < 10 and stats.classes_computed == 1 and got["nasi"].iloc[0] > 0
    with sqlite3.connect(path) as db:  # stored, and no claim left behind
        assert db.execute("SELECT count(*) FROM claims").fetchone()[0] == 0
    cache.close()


def test_claim_of_a_dead_process_on_this_host_is_taken_over_at_once(tmp_path):
    import socket
    import time

    path = tmp_path / "c.sqlite"
    cache = ScoreCache(path)
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True)
    _claim_as(path, "k", "iso", f"{socket.gethostname()}:{int(proc.stdout)}", time.time())
    assert cache.claim("k", "iso", ["nasi"]) == "mine"
    _claim_as(path, "k", "iso2", "otherhost:1", time.time())
    assert cache.claim("k", "iso2", ["nasi"]) == "taken"  # alive as far as we can know
    cache.close()


def test_claims_of_a_live_run_are_renewed(tmp_path):
    import time

    path = tmp_path / "c.sqlite"
    cache = ScoreCache(path, claim_ttl_s=0.6)  # renewed every 0.1 s
    assert cache.claim("k", "iso", ["nasi"]) == "mine"
    with sqlite3.connect(path) as db:
        first = db.execute("SELECT since FROM claims").fetchone()[0]
    time.sleep(0.5)
    with sqlite3.connect(path) as db:
        later = db.execute("SELECT since FROM claims").fetchone()[0]
    assert later > first + 0.2
    other = ScoreCache(path, claim_ttl_s=0.6)
    other.owner = "otherhost:1"
    time.sleep(0.7)  # longer than the expiry, but renewed meanwhile
    assert other.claim("k", "iso", ["nasi"]) == "taken"
    cache.close()
    time.sleep(0.7)  # its run is gone: no more renewals, the claim expires
    assert other.claim("k", "iso", ["nasi"]) == "mine"
    other.close()


def test_full_cache_is_a_one_line_error_and_keeps_what_was_stored(tmp_path):
    from harness.scoring.cache import CacheError

    path = tmp_path / "c.sqlite"
    cache = ScoreCache(path)
    cache.store_many("k", [("a", {"nasi": 1.0}, 0.1)], "cpu")
    pages = cache._db.execute("PRAGMA page_count").fetchone()[0]
    cache._db.execute(f"PRAGMA max_page_count = {pages}")  # as a full disk: SQLITE_FULL
    rows = [(f"class-{i:04d}-" + "x" * 200, {"nasi": float(i)}, 0.1) for i in range(200)]
    with pytest.raises(CacheError, match="cannot write the cache .*full.*stored so far are kept"):
        cache.store_many("k", rows, "cpu")
    cache.close()
    assert ScoreCache(path).lookup("k", "nasi") == {"a": 1.0}  # the transaction rolled back
