"""`--executor ray` (harness.scoring.executors.RayExecutor) on a local 2-CPU Ray cluster: same
table as the local executor, a failing shard is retried and its results stored once, a resumed
run computes only what the cache lacks (the kill -9 and multi-node cases: test_multinode.py).
Skipped when ray is not installed (except the checks of the one-line errors, which need no
Ray)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import signal
import sqlite3
import sys

import pandas as pd
import pytest
import torch

from harness.cli import run
from harness.cli.rank import main
from harness.errors import UserError
from harness.scoring import engine
from harness.scoring.cache import ScoreCache
from harness.scoring.engine import EngineStats, class_representatives, score_archs
from harness.scoring.executors import RayExecutor
from harness.scoring.ray_support import RAY_MISSING, DeferredSignals, import_ray
from nasi.scoring import ScoreConfig
from nasi.space import Arch

CPU = torch.device("cpu")
CFG = ScoreConfig(batch_size=8, data="gaussian", C=4, N=1)  # cheap variant nets
DISCONNECTED = Arch.parse("|none~0|+|nor_conv_3x3~0|none~1|+|none~0|nor_conv_3x3~1|none~2|")
MIRROR_OF_0 = Arch.parse("|nor_conv_1x1~0|+|avg_pool_3x3~0|skip_connect~1|+|avg_pool_3x3~0|"
                         "skip_connect~1|skip_connect~2|")
FAST = ["--quiet", "--batch-size", "8", "--width", "4", "--cells", "1"]


@pytest.fixture(autouse=True)
def one_thread():
    """Ray gives each task one CPU, hence one torch thread; on CPU float32 sums depend on the
    thread count, so the local reference runs with one thread too (bit-identical tables)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    yield ray
    ray.shutdown()


def batch():
    g = torch.Generator().manual_seed(0)
    return torch.randn(8, 3, 32, 32, generator=g), torch.randint(0, 10, (8,), generator=g)


def archs10():
    """10 connected classes (lowest representatives), plus a mirror of class 0 and a
    disconnected architecture."""
    reps = sorted(a.index for a in class_representatives().values() if a.is_connected)[:10]
    assert 0 in reps
    return [Arch.from_index(i) for i in reps] + [MIRROR_OF_0, DISCONNECTED]


def local_table(tmp_path):
    x, y = batch()
    return score_archs(archs10(), ["nasi"], CFG, x, y, "fp",
                       ScoreCache(tmp_path / "local.sqlite"), CPU, progress=False)


def cache_rows(path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(*) FROM scores").fetchone()[0]


def test_ray_table_equals_local_table(ray_cluster, tmp_path):
    x, y = batch()
    stats = EngineStats()
    ex = RayExecutor(shard_size=3)
    got = score_archs(archs10(), ["nasi"], CFG, x, y, "fp", ScoreCache(tmp_path / "c.sqlite"),
                      CPU, progress=False, stats=stats, executor=ex)
    pd.testing.assert_frame_equal(got, local_table(tmp_path), check_exact=True)
    assert got["nasi"].iloc[10] == got["nasi"].iloc[0] and got["nasi"].iloc[11] == 0.0
    assert (stats.classes_total, stats.classes_computed) == (10, 10)
    assert ex.info["shards"] == 4 and ex.info["task_device"] == "cpu"
    assert cache_rows(tmp_path / "c.sqlite") == 10


def make_flaky(marker_dir):
    """A task body whose first attempt on each shard computes one class, then fails."""

    def flaky(job, *args):
        from dataclasses import replace

        from harness.scoring.engine import score_shard

        marker = marker_dir / hashlib.sha1(job.iso_keys[0].encode()).hexdigest()
        if not marker.exists():
            marker.touch()
            score_shard(replace(job, iso_keys=job.iso_keys[:1]), *args)
            raise RuntimeError("injected failure")
        return score_shard(job, *args)

    return flaky


def test_failed_shard_is_retried_and_table_is_complete(ray_cluster, tmp_path, monkeypatch):
    x, y = batch()
    stats = EngineStats()
    monkeypatch.setattr(engine, "score_shard", make_flaky(tmp_path))
    ex = RayExecutor(shard_size=3, max_retries=2)
    got = score_archs(archs10(), ["nasi"], CFG, x, y, "fp", ScoreCache(tmp_path / "c.sqlite"),
                      CPU, progress=False, stats=stats, executor=ex)
    pd.testing.assert_frame_equal(got, local_table(tmp_path), check_exact=True)
    assert len(list(tmp_path.glob("[0-9a-f]" * 40))) == 4  # every shard failed once
    # a failed attempt returns nothing: the driver stores each class once, from the retry
    assert stats.classes_computed == 10
    assert cache_rows(tmp_path / "c.sqlite") == 10


def test_shard_failing_every_retry_is_reported(ray_cluster, tmp_path, monkeypatch):
    def broken(job, *args):
        raise RuntimeError("always broken")

    x, y = batch()
    monkeypatch.setattr(engine, "score_shard", broken)
    ex = RayExecutor(shard_size=10, max_retries=1)
    with pytest.raises(RuntimeError,
                       match="1 of 1 Ray task.*after 1 retry;.*RuntimeError: always broken$"):
        score_archs(archs10(), ["nasi"], CFG, x, y, "fp", ScoreCache(tmp_path / "c.sqlite"),
                    CPU, progress=False, executor=ex)


def test_user_error_in_a_task_is_raised_without_retry(ray_cluster, tmp_path, monkeypatch):
    def bad_input(job, *args):
        (tmp_path / f"attempt-{len(list(tmp_path.glob('attempt-*')))}").touch()
        raise UserError("bad input in the task")

    x, y = batch()
    monkeypatch.setattr(engine, "score_shard", bad_input)
    ex = RayExecutor(shard_size=10, max_retries=3)
    with pytest.raises(UserError, match="bad input in the task"):
        score_archs(archs10(), ["nasi"], CFG, x, y, "fp", ScoreCache(tmp_path / "c.sqlite"),
                    CPU, progress=False, executor=ex)
    assert len(list(tmp_path.glob("attempt-*"))) == 1


def test_resume_computes_only_classes_missing_from_the_cache(ray_cluster, tmp_path):
    x, y = batch()
    path = tmp_path / "c.sqlite"
    score_archs(archs10()[:4], ["nasi"], CFG, x, y, "fp", ScoreCache(path), CPU, progress=False)
    with sqlite3.connect(path) as db:
        before = dict(db.execute("SELECT iso_key, created FROM scores").fetchall())
    stats = EngineStats()
    got = score_archs(archs10(), ["nasi"], CFG, x, y, "fp", ScoreCache(path), CPU,
                      progress=False, stats=stats, executor=RayExecutor(shard_size=2))
    pd.testing.assert_frame_equal(got, local_table(tmp_path), check_exact=True)
    assert (stats.classes_cached, stats.classes_computed) == (4, 6)
    with sqlite3.connect(path) as db:
        after = dict(db.execute("SELECT iso_key, created FROM scores").fetchall())
    assert len(after) == 10 and all(after[k] == t for k, t in before.items())  # not rewritten


def test_rank_cli_with_ray_executor(ray_cluster, tmp_path, capsys):
    common = [*FAST, "--indices", "0,3,4,5,8,9,13", "--cache", str(tmp_path / "c.sqlite")]
    assert run(main, [*common, "--out", str(tmp_path / "ray"), "--executor", "ray",
                      "--shard-size", "2"]) == 0
    assert run(main, [*common, "--out", str(tmp_path / "again")]) == 0  # all from the cache
    assert run(main, [*FAST, "--indices", "0,3,4,5,8,9,13", "--no-cache",
                      "--out", str(tmp_path / "local")]) == 0
    capsys.readouterr()
    ray_csv = pd.read_csv(tmp_path / "ray" / "ranking.csv")
    pd.testing.assert_frame_equal(ray_csv, pd.read_csv(tmp_path / "local" / "ranking.csv"))
    pd.testing.assert_frame_equal(ray_csv, pd.read_csv(tmp_path / "again" / "ranking.csv"))
    engine = json.loads((tmp_path / "ray" / "summary.json").read_text())["engine"]
    assert engine["executor"]["name"] == "ray" and engine["executor"]["shards"] == 4
    assert engine["classes_computed"] == 7
    again = json.loads((tmp_path / "again" / "summary.json").read_text())["engine"]
    assert (again["classes_cached"], again["classes_computed"]) == (7, 0)


# ---------------------------------------------------------------- one-line errors, no Ray
def test_missing_ray_is_a_one_line_user_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(UserError, match="nasi-harness\\[ray\\]"):
        import_ray()
    code = run(main, [*FAST, "--indices", "0", "--executor", "ray", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == [f"error: {RAY_MISSING}"]


@pytest.mark.parametrize("args,needle", [
    (["--address", "auto"], "only apply with --executor ray"),
    (["--executor", "ray", "--shard-size", "0"], "--shard-size must be >= 1"),
    (["--executor", "ray", "--gpus-per-task", "1.5"], "--gpus-per-task must be"),
    (["--executor", "ray", "--device", "cuda:1"], "--device must be one of auto, cpu, cuda"),
    (["--executor", "dask"], "invalid choice"),
])
def test_bad_executor_arguments(tmp_path, capsys, args, needle):
    with pytest.raises(SystemExit) if "dask" in args else contextlib.nullcontext():
        code = run(main, [*FAST, "--indices", "0", "--out", str(tmp_path), *args])
        assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]


RAY_NOTEBOOK = """
import os, torch
from harness import RankRequest, RayExecutor, ScoreConfig, rank_architectures
from nasi.scores import register

@register("my_pid", higher_is_better=True, description="pid of the scoring process")
def my_pid(ctx):
    return float(os.getpid())

req = RankRequest(ScoreConfig(batch_size=4, C=4, N=1, data="gaussian"), scores=["my_pid"],
                  indices=range(30), cache={cache!r}, progress=False)
out = rank_architectures(req, "cpu", RayExecutor(num_cpus=2, shard_size=4))
pids = set(out.table["my_pid"].dropna())
print("RAY", len(pids) > 0, os.getpid() in pids, out.summary.engine.executor["name"])
"""


def test_plugin_score_from_a_session_runs_as_ray_tasks(tmp_path):
    """A score registered in ``python -c`` (no importable __main__) reaches Ray tasks."""
    import os
    import subprocess
    from pathlib import Path

    pytest.importorskip("ray")
    root = Path(__file__).resolve().parents[1]
    code = RAY_NOTEBOOK.format(cache=str(tmp_path / "c.sqlite"))
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(root)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "RAY True False ray" in done.stdout, done.stdout + done.stderr[-2000:]


class _Stop(Exception):
    pass


def _raise_stop(signum, frame):
    raise _Stop(signum)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_deferred_signals_act_only_at_a_check(sig):
    """Inside the context a signal is noted, not raised (Ray's client code is never interrupted
    mid-call); check() then runs the handler installed before, which is back on exit."""
    previous = signal.signal(sig, _raise_stop)
    try:
        with DeferredSignals() as signals:
            os.kill(os.getpid(), sig)
            for _ in range(100):  # the handler runs between bytecodes: give it some
                sum(range(100))
            with pytest.raises(_Stop):
                signals.check()
            signals.check()  # nothing noted any more
        assert signal.getsignal(sig) is _raise_stop
        with pytest.raises(_Stop):
            os.kill(os.getpid(), sig)
            for _ in range(100):
                sum(range(100))
    finally:
        signal.signal(sig, previous)


def test_deferred_signal_noted_in_the_last_call_is_acted_on_at_exit():
    previous = signal.signal(signal.SIGTERM, _raise_stop)
    try:
        with pytest.raises(_Stop), DeferredSignals():
            os.kill(os.getpid(), signal.SIGTERM)
        assert signal.getsignal(signal.SIGTERM) is _raise_stop
    finally:
        signal.signal(signal.SIGTERM, previous)
