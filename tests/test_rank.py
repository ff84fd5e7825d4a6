"""The scoring engine, its SQLite cache and `python -m harness.rank`, incl. fault tolerance:
resume after kill -9, two processes on one cache, a corrupt cache, bad arguments."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from harness.scoring.cache import ScoreCache
from harness.scoring.engine import class_representatives, score_archs
from nasi.scoring import ScoreConfig, score_architecture
from nasi.space import Arch

ROOT = Path(__file__).resolve().parent.parent
MIRROR_OF_0 = ("|nor_conv_1x1~0|+|avg_pool_3x3~0|skip_connect~1|+|avg_pool_3x3~0|skip_connect~1|"
               "skip_connect~2|")
DISCONNECTED = "|none~0|+|nor_conv_3x3~0|none~1|+|none~0|nor_conv_3x3~1|none~2|"
# 12 connected architectures of distinct isomorphism classes, at most one 3x3 conv edge each
FAST = ["--quiet", "--batch-size", "8", "--width", "4", "--cells", "1"]  # cheap variant nets
INDICES = "3,4,5,8,9,13,15,17,21,22,24,26"


def rank(*args, check=True, **kw):
    cmd = [sys.executable, "-m", "harness.rank", *FAST, *args]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(proc.stderr)
    return proc


def small_batch():
    g = torch.Generator().manual_seed(0)
    return torch.randn(4, 3, 32, 32, generator=g), torch.randint(0, 10, (4,), generator=g)


def test_engine_fans_out_classes_and_skips_disconnected(tmp_path):
    cfg = ScoreConfig(batch_size=4, data="gaussian", C=4, N=1)
    x, y = small_batch()
    a0, mirror, dead = Arch.from_index(0), Arch.parse(MIRROR_OF_0), Arch.parse(DISCONNECTED)
    cache = ScoreCache(tmp_path / "c.sqlite")
    df = score_archs([mirror, dead, a0], ["nasi"], cfg, x, y, "fp", cache, torch.device("cpu"),
                     progress=False)
    assert list(df["index"]) == [mirror.index, dead.index, 0]
    # the class is scored once, on its lowest-index member, and both members get that value
    rep = class_representatives()[a0.iso_key]
    expected = score_architecture(rep, ["nasi"], cfg, x, y)["nasi"]
    assert df["nasi"].tolist()[0] == df["nasi"].tolist()[2] == pytest.approx(expected, rel=1e-6)
    assert df["nasi"].tolist()[1] == 0.0
    assert cache.lookup(cfg.key("fp"), "nasi") == {a0.iso_key: df["nasi"].iloc[2]}


def test_engine_resumes_from_cache_and_keys_by_config(tmp_path, monkeypatch):
    cfg = ScoreConfig(batch_size=4, data="gaussian", C=4, N=1)
    x, y = small_batch()
    archs = [Arch.from_index(i) for i in (1, 2, 3)]
    cache = ScoreCache(tmp_path / "c.sqlite")
    first = score_archs(archs, ["nasi"], cfg, x, y, "fp", cache, torch.device("cpu"),
                        progress=False)
    monkeypatch.setattr("harness.scoring.engine.score_architecture",
                        lambda *a, **k: pytest.fail("cached classes must not be recomputed"))
    again = score_archs(archs, ["nasi"], cfg, x, y, "fp", cache, torch.device("cpu"),
                        progress=False)
    pd.testing.assert_frame_equal(first, again)
    with pytest.raises(pytest.fail.Exception):  # another batch fingerprint: other key
        score_archs(archs, ["nasi"], cfg, x, y, "other", cache, torch.device("cpu"),
                    progress=False)


def test_claimed_class_of_a_dead_process_is_taken_over(tmp_path):
    cfg = ScoreConfig(batch_size=4, data="gaussian", C=4, N=1)
    x, y = small_batch()
    arch = Arch.from_index(1)
    path = tmp_path / "c.sqlite"
    cache = ScoreCache(path)
    key = cfg.key("fp")
    # a claim left by a process that no longer exists (pid 2**22 + 1 is not running)
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO claims VALUES (?,?,?,?)",
                   (key, arch.iso_key, f"{os.uname().nodename}:{2**22 + 1}", time.time()))
    df = score_archs([arch], ["nasi"], cfg, x, y, "fp", cache, torch.device("cpu"),
                     progress=False, wait_for_others_s=30)
    assert df["nasi"].iloc[0] > 0


def test_rank_cli_outputs(tmp_path):
    out = tmp_path / "run"
    proc = rank("--indices", f"0,{DISCONNECTED},6111", "--out", str(out), "--cache",
                str(tmp_path / "c.sqlite"))
    ranking = pd.read_csv(out / "ranking.csv")
    assert ranking["index"].tolist() == [0, Arch.parse(DISCONNECTED).index, 6111]
    for col in ("arch", "iso_key", "connected", "nasi", "cifar10_test", "cifar100_test",
                "imagenet16_test", "params_cifar10", "flops_cifar10"):
        assert col in ranking.columns
    assert ranking.loc[1, "nasi"] == 0.0 and not ranking.loc[1, "connected"]
    assert ranking.loc[2, "params_cifar10"] == 1_073_466  # ground truth: the benchmark's net
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["dataset"] == "cifar10" and summary["config"]["batch_size"] == 8
    assert (summary["config"]["C"], summary["config"]["N"]) == (4, 1)
    assert summary["config"]["selection"]["mode"] == "indices"
    assert summary["environment"]["torch"] == torch.__version__
    corr = {(c["score"], c["target"]): c for c in summary["correlations"]}
    assert corr[("nasi", "cifar10_test")]["n"] == 3
    assert {"kendall_tau", "spearman_rho"} <= set(corr[("nasi", "cifar10_test")])
    assert "kendall_tau" in proc.stdout


def test_rank_sample_is_seeded(tmp_path):
    from harness.cli.rank import build_parser, select_indices

    args = build_parser().parse_args(["--sample", "50", "--seed", "3"])
    a, _ = select_indices(args)
    b, _ = select_indices(build_parser().parse_args(["--sample", "50", "--seed", "3"]))
    c, _ = select_indices(build_parser().parse_args(["--sample", "50", "--seed", "4"]))
    assert a == b != c and len(set(a)) == 50


def test_kill_9_then_rerun_equals_uninterrupted_run(tmp_path):
    # 40 classes of larger nets, so the run lasts long enough to be killed mid-way
    reps = sorted(a.index for a in class_representatives().values() if a.is_connected)[:40]
    indices = ",".join(map(str, reps))
    bigger = ["--width", "8", "--cells", "2"]
    clean = tmp_path / "clean"
    rank("--indices", indices, *bigger, "--out", str(clean), "--cache",
         str(tmp_path / "clean.sqlite"))
    cache = tmp_path / "killed.sqlite"
    cmd = [sys.executable, "-m", "harness.rank", *FAST, *bigger, "--indices", indices,
           "--out", str(tmp_path / "killed"), "--cache", str(cache)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    done = 0
    while time.time() < deadline and proc.poll() is None:
        if cache.exists():
            try:
                with sqlite3.connect(cache, timeout=5) as db:
                    done = db.execute("SELECT count(*) FROM scores").fetchone()[0]
            except sqlite3.OperationalError:
                done = 0
        if done >= 1:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 1 <= done < 40, f"the run was not interrupted mid-way ({done} results)"
    rank("--indices", indices, *bigger, "--out", str(tmp_path / "killed"), "--cache", str(cache))
    pd.testing.assert_frame_equal(pd.read_csv(clean / "ranking.csv"),
                                  pd.read_csv(tmp_path / "killed" / "ranking.csv"))
    summary = json.loads((tmp_path / "killed" / "summary.json").read_text())
    assert summary["engine"]["classes_cached"] >= done  # nothing finished was recomputed
    assert summary["engine"]["classes_computed"] == 40 - summary["engine"]["classes_cached"]
    with sqlite3.connect(cache) as db:  # nothing lost or duplicated
        assert db.execute("SELECT count(*) FROM scores").fetchone()[0] == 40


def test_sigterm_stops_workers_cleanly_and_keeps_results(tmp_path):
    reps = sorted(a.index for a in class_representatives().values() if a.is_connected)[:40]
    cache = tmp_path / "c.sqlite"
    cmd = [sys.executable, "-m", "harness.rank", *FAST, "--width", "8", "--cells", "2",
           "--indices", ",".join(map(str, reps)), "--out", str(tmp_path / "o"),
           "--cache", str(cache), "--workers", "2"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    done, deadline = 0, time.time() + 300
    while time.time() < deadline and proc.poll() is None and done < 1:
        if cache.exists():
            try:
                with sqlite3.connect(cache, timeout=5) as db:
                    done = db.execute("SELECT count(*) FROM scores").fetchone()[0]
            except sqlite3.OperationalError:
                pass
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 143, err
    assert err.strip().splitlines() == [
        "terminated: results already stored (score cache, per-seed files) are kept"], err
    with sqlite3.connect(cache) as db:
        assert db.execute("SELECT count(*) FROM scores").fetchone()[0] >= 1


def test_two_concurrent_processes_share_one_cache(tmp_path):
    cache = tmp_path / "shared.sqlite"
    cmds = [[sys.executable, "-m", "harness.rank", *FAST, "--indices", INDICES,
             "--out", str(tmp_path / f"p{i}"), "--cache", str(cache)] for i in (0, 1)]
    procs = [subprocess.Popen(c, cwd=ROOT, stderr=subprocess.PIPE, text=True) for c in cmds]
    for p in procs:
        assert p.wait(timeout=600) == 0, p.stderr.read()
    a = pd.read_csv(tmp_path / "p0" / "ranking.csv")
    b = pd.read_csv(tmp_path / "p1" / "ranking.csv")
    pd.testing.assert_frame_equal(a, b)
    computed = [json.loads((tmp_path / f"p{i}" / "summary.json").read_text())["engine"]
                ["classes_computed"] for i in (0, 1)]
    assert sum(computed) == 12  # the two runs split the work, none done twice
    with sqlite3.connect(cache) as db:
        assert db.execute("SELECT count(*) FROM scores").fetchone()[0] == 12


def test_corrupt_cache_is_moved_aside_with_a_notice(tmp_path):
    cache = tmp_path / "c.sqlite"
    cache.write_bytes(b"this is not a database" * 100)
    proc = rank("--indices", "0", "--out", str(tmp_path / "o"), "--cache", str(cache))
    assert "notice: cache" in proc.stderr and "moved it to" in proc.stderr
    assert list(tmp_path.glob("c.sqlite.corrupt-*"))
    assert pd.read_csv(tmp_path / "o" / "ranking.csv")["nasi"].iloc[0] > 0


@pytest.mark.parametrize("args,needle", [
    (["--dataset", "mnist"], "unknown dataset"),
    (["--score", "bogus"], "unknown score"),
    (["--indices", "|nor_conv_3x3~0|+|bad~0|"], "node segments"),
    (["--indices", "99999"], "out of range"),
    (["--benchmark", "/nonexistent/NATS-tss"], "/nonexistent/NATS-tss"),
    (["--out", "/proc/forbidden/out"], "not writable"),
    (["--sample", "0"], "--sample"),
    (["--labels", "maybe"], "invalid choice"),
    (["--batch-size", "x"], "invalid int"),
    (["--data", "/nonexistent/cifar"], "/nonexistent/cifar"),
    (["--device", "tpu9"], "unknown device"),
    (["--workers", "0"], "--workers must be >= 1"),
    (["--device", "cpu", "--tf32"], "--tf32 needs a CUDA device"),
    (["--precision", "fp16"], "invalid choice"),
])
def test_bad_arguments_give_one_line_and_exit_2(tmp_path, args, needle):
    proc = rank("--out", str(tmp_path / "o"), "--cache", str(tmp_path / "c.sqlite"), *args,
                check=False)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert needle in lines[0]
