"""`python -m harness.arch` as a user runs it (subprocesses), checked against the benchmark's
own files: the fixture meta list, the shipped accuracy CSV read raw, the reference
unique_str column and the golden counts of the reference doc (section 9.8)."""

from __future__ import annotations

import bz2
import io
import json
import os
import pickle
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).parents[1]
DATA = Path(__file__).parent / "data"
NATS = DATA / "NATS-tss-v1_0-3ffb9-simple"


# Run as real processes: the four mistakes users make most.
BAD_INPUTS = {
    "index too large": (["15625"], "15625"),
    "bad arch string": (["|nor_conv_3x3~0|+|nor_conv_3x3~0|bad_op~1|+|none~0|none~1|none~2|"],
                        "'bad_op'"),
    "unknown dataset": (["0", "--dataset", "mnist"], "'mnist'"),
    "missing benchmark": (["0", "--benchmark", "/no/such/NAS-Bench-201-v1_1-096897.pth"],
                          "/no/such"),
}
# The same contract checked in-process (cheaper: every error exit of a fresh process imports
# torch through harness.errors.user_error_types).
MORE_BAD_INPUTS = {
    "negative index": (["-1"], "-1"),
    "not an arch": (["six"], "'six'"),
    "two nodes": (["|none~0|+|none~0|none~1|"], "segments"),
    "folder without meta": (["0", "--benchmark", str(DATA)], "meta.pickle.pbz2"),
    "unknown format": (["0", "--format", "xml"], "xml"),
    "archs and --all": (["0", "--all"], "--all"),
    "nothing asked": ([], "--all"),
}


def arch_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness.arch", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def bad_runs() -> dict[str, subprocess.CompletedProcess]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(arch_cli, *args) for name, (args, _) in BAD_INPUTS.items()}
        return {name: f.result() for name, f in futures.items()}


@pytest.fixture(scope="module")
def meta_archs() -> list[str]:
    with bz2.open(NATS / "meta.pickle.pbz2", "rb") as f:
        return pickle.load(f)["meta_archs"]


@pytest.fixture(scope="module")
def truth() -> pd.DataFrame:
    acc = pd.read_csv(ROOT / "benchmarks" / "data" / "nb201_tss.csv.gz")
    ref = pd.read_csv(DATA / "nb201_reference.csv.gz")
    return acc.merge(ref[["index", "unique_str"]], on="index").set_index("index")


def test_json_for_index_and_arch_string(meta_archs, truth):
    result = arch_cli("6111", meta_archs[11], "--format", "json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    records = json.loads(result.stdout)
    assert [r["index"] for r in records] == [6111, 11]
    best, eleven = records
    assert best["arch"] == meta_archs[6111]
    assert best["iso_key"] == truth.loc[6111, "unique_str"]
    assert best["connected"] is True
    assert (best["params_cifar10"], best["flops_cifar10"]) == (1_073_466, pytest.approx(153.27297))
    assert (best["params_cifar100"], best["params_imagenet16"]) == (1_079_316, 1_080_616)
    assert best["flops_imagenet16"] == pytest.approx(38.32588)
    for c in ("cifar10_test", "cifar10_valid", "cifar10_valid_oritest", "cifar100_test",
              "imagenet16_test"):
        assert best[c] == truth.loc[6111, c]
        assert eleven[c] == truth.loc[11, c]
    assert (eleven["params_cifar10"], eleven["flops_cifar100"]) == (802_426, 113.95722)


def test_csv_with_one_dataset(meta_archs, truth):
    result = arch_cli("0", "284", "--dataset", "ImageNet16-120", "--format", "csv")
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(io.StringIO(result.stdout))
    assert list(table.columns) == [
        "index", "arch", "iso_key", "connected", "params_imagenet16", "flops_imagenet16",
        "cifar10_test", "cifar10_valid", "cifar10_valid_oritest", "cifar100_test",
        "imagenet16_test"]
    assert list(table["arch"]) == [meta_archs[0], meta_archs[284]]
    assert list(table["params_imagenet16"]) == [136_456, 108_456]
    assert list(table["flops_imagenet16"]) == [3.91948, 2.93644]
    assert list(table["imagenet16_test"]) == list(truth.loc[[0, 284], "imagenet16_test"])


def test_human_table(meta_archs):
    result = arch_cli("11")
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(None, 1) for line in result.stdout.splitlines() if line.strip())
    assert lines["index"] == "11"
    assert lines["arch"] == meta_archs[11]
    assert lines["connected"] == "yes"
    assert lines["params_cifar10"] == "802,426"
    assert lines["cifar10_test"] == "91.58"


def test_all_csv(meta_archs, truth):
    result = arch_cli("--all", "--format", "csv")
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(io.StringIO(result.stdout))
    assert len(table) == 15_625
    assert list(table["index"]) == list(range(15_625))
    assert list(table["arch"]) == meta_archs
    assert (table["iso_key"] == truth["unique_str"].to_numpy()).all()
    assert (~table["connected"]).sum() == 341
    assert (table["cifar100_test"].to_numpy() == truth["cifar100_test"].to_numpy()).all()


def test_all_table_has_one_row_per_arch():
    result = arch_cli("--all", "--dataset", "cifar10")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1 + 15_625
    assert lines[0].split()[:4] == ["index", "arch", "iso_key", "connected"]
    assert lines[1 + 6111].split()[0] == "6111"


def test_official_source(tmp_path):
    result = arch_cli("11", "--format", "json", "--benchmark", str(NATS),
                      env={"XDG_CACHE_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    (record,) = json.loads(result.stdout)
    assert record["cifar100_valid"] == pytest.approx(67.45333326416016, abs=1e-9)
    assert record["imagenet16_valid"] == pytest.approx(30.411111104329425, abs=1e-9)
    # The partial archive is reported once, on one line.
    assert result.stderr.splitlines() == [
        f"warning: 15622 of 15625 architectures have no record in {NATS}; "
        "their accuracies are NaN"]
    assert list((tmp_path / "nasi-harness").glob("*.csv.gz"))


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_line_and_exit_2(case, bad_runs):
    result, fragment = bad_runs[case], BAD_INPUTS[case][1]
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert fragment in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("case", list(MORE_BAD_INPUTS))
def test_more_bad_input_in_process(case, capsys):
    from harness.cli import run
    from harness.cli.arch import main

    args, fragment = MORE_BAD_INPUTS[case]
    try:
        code = run(main, args)
    except SystemExit as exc:  # argparse mistakes exit from inside the parser
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert fragment in err
    assert out == ""
