"""``--plugin MODULE`` on harness.rank and harness.search: the driver and every worker
process import the plugin (a .py file or an importable module name) before scoring; an
unknown plugin is one line and exit 2 before any work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PLUGIN = '''
import os
from nasi.scores import register

with open(os.environ["PLUGIN_LOG"], "a") as log:  # who imported this module
    log.write(f"{os.getpid()}\\n")

@register("my_pid", higher_is_better=True, description="pid of the scoring process")
def my_pid(ctx):
    return float(os.getpid())

@register("my_weights", higher_is_better=True, description="sum of squared weights")
def my_weights(ctx):
    return float(sum(p.detach().double().pow(2).sum() for p in ctx.model.parameters()))
'''
CHEAP = ["--width", "4", "--cells", "1", "--batch-size", "4", "--data", "gaussian", "--quiet"]


def _cli(tmp_path: Path, module: str, *argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)]),
           "PLUGIN_LOG": str(tmp_path / "imports.log")}
    return subprocess.run([sys.executable, "-m", module, *argv], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)


def _importers(tmp_path: Path) -> list[int]:
    return [int(s) for s in (tmp_path / "imports.log").read_text().split()]


def test_rank_plugin_file_on_two_workers(tmp_path):
    (tmp_path / "my_scores.py").write_text(PLUGIN)
    # 300 architectures: enough isomorphism classes for the worker pool (>= 16 shards)
    done = _cli(tmp_path, "harness.rank", "--plugin", str(tmp_path / "my_scores.py"),
                "--score", "my_pid,my_weights", "--indices", "0-299", "--workers", "2",
                "--no-cache", "--out", "out", *CHEAP)
    assert done.returncode == 0, done.stderr[-3000:]
    driver, *workers = _importers(tmp_path)
    assert workers, "no worker imported the plugin"
    table = pd.read_csv(tmp_path / "out/ranking.csv")
    scored_by = set(table["my_pid"].dropna().astype(int))
    assert scored_by and scored_by <= set(workers) and driver not in scored_by
    summary = json.loads((tmp_path / "out/summary.json").read_text())
    assert summary["engine"]["executor"]["processes_used"] == 2


def test_rank_plugin_module_name_in_this_process(tmp_path):
    (tmp_path / "my_scores.py").write_text(PLUGIN)
    done = _cli(tmp_path, "harness.rank", "--plugin", "my_scores", "--score", "my_weights",
                "--indices", "0,6111", "--workers", "1", "--no-cache", "--out", "out", *CHEAP)
    assert done.returncode == 0, done.stderr[-3000:]
    assert len(_importers(tmp_path)) == 1
    table = pd.read_csv(tmp_path / "out/ranking.csv")
    assert table["my_weights"].notna().all() and (table["my_weights"] > 0).all()


def test_unknown_plugin_is_one_line_and_exit_2_before_any_work(tmp_path):
    for module, extra in (("harness.rank", ["--out", "out"]),
                          ("harness.search", ["--out", "out", "--seeds", "1"])):
        for plugin in ("no_such_plugin_module", "missing/plugin.py"):
            done = _cli(tmp_path, module, "--plugin", plugin, *extra)
            assert done.returncode == 2, done.stderr
            lines = done.stderr.strip().splitlines()
            assert len(lines) == 1 and "plugin" in lines[0], done.stderr
            assert not (tmp_path / "out").exists()


def test_search_plugin_objective_on_two_workers(tmp_path):
    (tmp_path / "my_scores.py").write_text(PLUGIN)
    done = _cli(tmp_path, "harness.search", "--plugin", str(tmp_path / "my_scores.py"),
                "--objective", "my_pid", "--evals", "4", "--population", "2",
                "--tournament", "1", "--seeds", "2", "--workers", "2", "--out", "out", *CHEAP)
    assert done.returncode == 0, done.stderr[-3000:]
    driver, *workers = _importers(tmp_path)
    assert workers
    scored_by = set()  # every network's objective value is the pid that scored it
    for path in (tmp_path / "out/runs").glob("*.evals.json"):
        evals = json.loads(path.read_text())["evals"]
        scored_by |= {int(values[0]) for _, values, _ in evals}
    assert scored_by and scored_by <= set(workers) and driver not in scored_by
