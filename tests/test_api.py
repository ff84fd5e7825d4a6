"""The public Python API (README "Python API"): the README's example runs as written; the
batch is checked against the config; any nn.Module scores as a benchmark network does; a
score registered without an importable ``__main__`` reaches 2 worker processes (by value), or
is scored in the driver with a warning where it cannot be shipped."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import harness
from nasi.scores import ScoreError

ROOT = Path(__file__).resolve().parents[1]
CHEAP = harness.ScoreConfig(batch_size=8, C=4, N=1)


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert blocks, "README section 'Python API' has no python block"
    return blocks[0]


def test_readme_example_runs(tmp_path):
    script = tmp_path / "example.py"
    script.write_text(readme_example())
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "runs/api/report/report.md").is_file()
    ranking = (tmp_path / "runs/api/ranking.csv").read_text().splitlines()
    assert ranking[0].split(",")[:6] == ["index", "arch", "iso_key", "connected", "weight_norm",
                                         "nasi"]
    assert len(ranking) == 41


def test_public_surface_is_exported():
    import importlib

    for name in harness.__all__:
        assert getattr(harness, name) is not None
    with pytest.raises(AttributeError):
        harness.no_such_thing  # noqa: B018
    # importing a submodule sets the package attribute of its name: no export may be one
    submodules = {p.stem for p in (ROOT / "harness").iterdir()
                  if p.suffix == ".py" or (p / "__init__.py").is_file()}
    assert not submodules & set(harness.__all__)
    importlib.import_module("harness.rank")
    assert callable(harness.rank_architectures) and callable(harness.search_architectures)


def test_lookup_encodings_agree():
    a = harness.lookup(6111)
    assert harness.lookup(a.string) == a
    assert harness.lookup(a.to_naslib()) == a
    # NASLib's (skip, none, conv3, conv1, avg) op order on edges (0>1, 0>2, 0>3, 1>2, 1>3, 2>3)
    assert harness.lookup((2, 0, 4, 1, 3, 2)).string == (
        "|nor_conv_3x3~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|nor_conv_1x1~1|"
        "nor_conv_3x3~2|")


def test_given_batch_is_checked_against_the_config():
    batch = harness.make_batch(CHEAP)
    same = harness.score_architectures([0, 6111], ["nasi"], CHEAP, batch)
    built = harness.score_architectures([0, 6111], ["nasi"], CHEAP)
    assert same["nasi"].tolist() == built["nasi"].tolist()
    assert same["arch"].tolist() == [harness.lookup(0).string, harness.lookup(6111).string]
    random_labels = harness.ScoreConfig(batch_size=8, C=4, N=1, labels="random")
    with pytest.raises(ScoreError, match="labels"):
        harness.score_architectures([0], ["nasi"], random_labels, batch)
    with pytest.raises(ScoreError, match="batch_size=16"):
        harness.score_architectures([0], ["nasi"], harness.ScoreConfig(batch_size=16), batch)
    other_inputs = (batch.x + 1, batch.y)
    with pytest.raises(ScoreError, match="inputs"):
        harness.score_architectures([0], ["nasi"], CHEAP, other_inputs)


def test_score_model_equals_the_benchmark_networks_scores():
    """An NB201 network handed over as a plain nn.Module scores as the engine scores it."""
    from nasi.scoring import build_scoring_model

    arch = harness.lookup(6111)
    batch = harness.make_batch(CHEAP)
    net = build_scoring_model(arch, CHEAP)
    got = harness.score_model(net, ["nasi", "grad_norm"], batch.x, batch.y, num_classes=10)
    want = harness.score_architectures([arch], ["nasi", "grad_norm"], CHEAP)
    assert got["nasi"] == pytest.approx(want["nasi"][0], rel=1e-5)
    assert got["grad_norm"] == pytest.approx(want["grad_norm"][0], rel=1e-5)
    # nasi = squared norm of the batch-mean loss gradient, computed here by hand
    net = build_scoring_model(arch, CHEAP)
    loss = torch.nn.functional.cross_entropy(net(batch.x), batch.y)
    grads = torch.autograd.grad(loss, [p for p in net.parameters() if p.requires_grad],
                                allow_unused=True)
    by_hand = sum(float(g.double().pow(2).sum()) for g in grads if g is not None)
    assert got["nasi"] == pytest.approx(by_hand, rel=1e-5)
    with pytest.raises(ScoreError, match="closed forms"):
        harness.score_model(net, ["params"], batch.x, batch.y, num_classes=10)


NOTEBOOK = """
import os, sys, torch
{block}
from harness import LocalExecutor, RankRequest, ScoreConfig, rank_architectures
from nasi.scores import register

@register("my_pid", higher_is_better=True, description="pid of the scoring process")
def my_pid(ctx):
    return float(os.getpid())

@register("my_weights", higher_is_better=True, description="sum of squared weights")
def my_weights(ctx):
    return float(sum(p.detach().double().pow(2).sum() for p in ctx.model.parameters()))

cfg = ScoreConfig(batch_size=4, C=4, N=1, data="gaussian")
def run(workers):
    req = RankRequest(cfg, scores=["my_pid", "my_weights"], indices=range(30), cache=None,
                      progress=False)
    return rank_architectures(req, "cpu", LocalExecutor(workers=workers, min_pool_jobs=1))
pooled, here = run(2), run(1)
pids = set(pooled.table["my_pid"].dropna())
print("PIDS", len(pids), os.getpid() in pids, pooled.summary.engine.executor["processes_used"])
weights = [r.table["my_weights"].fillna(-1).tolist() for r in (pooled, here)]
print("SAME", weights[0] == weights[1])
"""


def _notebook(block: str = "") -> subprocess.CompletedProcess:
    """A session without an importable __main__ (``python -c``), as a notebook is."""
    return subprocess.run([sys.executable, "-c", NOTEBOOK.format(block=block)], cwd=ROOT,
                          env=_env(), capture_output=True, text=True, timeout=600)


def _cloudpickle_available() -> bool:
    from harness.scoring.shipping import _by_value_pickler

    return _by_value_pickler() is not None


@pytest.mark.skipif(not _cloudpickle_available(), reason="needs cloudpickle (or ray)")
def test_score_registered_in_a_session_runs_on_two_workers():
    done = _notebook()
    assert done.returncode == 0, done.stderr[-3000:]
    assert "PIDS" in done.stdout and "SAME True" in done.stdout, done.stdout
    n_pids, driver_scored, used = done.stdout.split("PIDS ")[1].split()[:3]
    assert driver_scored == "False" and used == "2" and int(n_pids) >= 1
    assert "unknown score" not in done.stderr and "Traceback" not in done.stderr


def test_score_that_cannot_be_shipped_is_scored_in_the_driver_with_a_warning():
    hide = "sys.modules['cloudpickle'] = None; sys.modules['ray'] = None"
    done = _notebook(hide)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "PIDS 1 True 1" in done.stdout and "SAME True" in done.stdout, done.stdout
    warnings = [ln for ln in done.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1 and "my_pid" in warnings[0] and "cloudpickle" in warnings[0]
