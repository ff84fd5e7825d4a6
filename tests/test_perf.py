"""`python -m harness.perf` runs and reports what the issue asks (not a timing assertion)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_perf_prints_one_json_object_with_the_comparison():
    proc = subprocess.run([sys.executable, "-m", "harness.perf", "--n", "3", "--batch-size", "8"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    for key in ("straightforward", "ours"):
        assert result[key]["ms_per_arch"] > 0 and result[key]["archs_per_s"] > 0
    assert result["speedup"] > 0 and result["device"] == "cpu"
    assert result["sample"]["n"] == 3 and result["straightforward_torch_threads"] >= 1
    assert result["ours_executor"]["threads_per_worker"] == 1  # CPU: one thread per worker
    # both paths compute the same scores (float32 summation order aside)
    assert result["scores_agree"]["max_rel_diff"] < 1e-2
    assert result["whole_space_estimate"]["ours_networks_run"] == 6461
