"""Hostile and mistaken inputs (issue #15, Inputs and Security): each gives one line on stderr
and exit 2 before any expensive work, and no benchmark file can run code.

"Before any expensive work" is checked by replacing the expensive call (scoring, the perf
measurement, the search, the gate's refresh, the benchmark load) with one that fails the test.
"""

from __future__ import annotations

import bz2
import errno
import json
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import harness.cli.arch as arch_cli
import harness.cli.perf as perf_cli
import harness.cli.rank as rank_cli
import harness.cli.regression as regression_cli
import harness.cli.report as report_cli
import harness.cli.search as search_cli
from harness.cli import run as run_cli

pytestmark = pytest.mark.faults

NATS = Path(__file__).parent / "data" / "NATS-tss-v1_0-3ffb9-simple"


def _forbid(monkeypatch, target, name: str) -> None:
    def expensive(*args, **kwargs):
        raise AssertionError(f"{name} ran before the input was checked")

    monkeypatch.setattr(target, name, expensive)


def one_line(capsys, main, argv) -> str:
    assert run_cli(main, argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(("error: ", "python -m")), err
    return err


@pytest.fixture
def no_rank(monkeypatch):
    _forbid(monkeypatch, rank_cli, "rank")


def test_rank_empty_indices(capsys, tmp_path, no_rank):
    err = one_line(capsys, rank_cli.main, ["--indices", "", "--out", str(tmp_path)])
    assert "--indices is empty" in err


def test_rank_superscript_index(capsys, tmp_path, no_rank):
    err = one_line(capsys, rank_cli.main, ["--indices", "\u00b2", "--out", str(tmp_path)])
    assert "neither a benchmark index nor an arch string" in err
    err = one_line(capsys, rank_cli.main, ["--indices", "1-\u00b2", "--out", str(tmp_path)])
    assert "neither a benchmark index" in err


def test_arch_superscript(capsys, monkeypatch):
    import benchmarks

    _forbid(monkeypatch, benchmarks, "load_benchmark")
    assert "neither a benchmark index" in one_line(capsys, arch_cli.main, ["\u00b2"])


def test_long_arch_string(capsys, monkeypatch, tmp_path, no_rank):
    import benchmarks

    _forbid(monkeypatch, benchmarks, "load_benchmark")
    long = "|" + "a" * 70_000
    assert "70,001 characters" in one_line(capsys, arch_cli.main, [long])
    err = one_line(capsys, rank_cli.main, ["--indices", long, "--out", str(tmp_path)])
    assert "too long" in err


def test_binary_indices_file(capsys, tmp_path, no_rank):
    binary = tmp_path / "indices.txt"
    binary.write_bytes(bytes(range(256)))
    err = one_line(capsys, rank_cli.main, ["--indices", str(binary), "--out", str(tmp_path)])
    assert "is binary" in err
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("0\n\xe9\n".encode("latin-1"))
    err = one_line(capsys, rank_cli.main, ["--indices", str(latin1), "--out", str(tmp_path)])
    assert "not UTF-8 text" in err


def test_rank_negative_seed(capsys, tmp_path, no_rank):
    err = one_line(capsys, rank_cli.main, ["--seed", "-1", "--indices", "0",
                                           "--out", str(tmp_path)])
    assert "--seed must be in 0..2**63-1" in err


@pytest.mark.parametrize("n", ["0", "-5", "99999999"])
def test_perf_n_out_of_range(capsys, monkeypatch, n):
    _forbid(monkeypatch, perf_cli, "measure")
    assert "--n must be in 1..15,625" in one_line(capsys, perf_cli.main, ["--n", n])


def test_perf_workers_zero(capsys, monkeypatch):
    _forbid(monkeypatch, perf_cli, "measure")
    assert "--workers must be >= 1" in one_line(capsys, perf_cli.main, ["--workers", "0"])


def test_report_huge_bootstrap(capsys, monkeypatch, tmp_path):
    _forbid(monkeypatch, report_cli, "write_report")
    err = one_line(capsys, report_cli.main, [str(tmp_path), "--name", "x",
                                             "--bootstrap", "10000000000000"])
    assert "--bootstrap must be in 0..1,000,000" in err


def test_regression_baseline_is_a_list(capsys, monkeypatch, tmp_path):
    from harness.searching import gate

    _forbid(monkeypatch, gate, "measure")
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps([1, 2]))
    err = one_line(capsys, regression_cli.main, ["--baseline", str(baseline)])
    assert "is not a regression baseline" in err


def test_regression_refresh_to_read_only_path(capsys, monkeypatch, tmp_path):
    """os.access says yes to root on a read-only file system: the check must try a write."""
    import harness.provenance as provenance

    _forbid(monkeypatch, regression_cli, "refresh")
    blocker = tmp_path / "file"
    blocker.write_text("")
    err = one_line(capsys, regression_cli.main,
                   ["--refresh", "--baseline", str(blocker / "baseline.json")])
    assert "cannot write the baseline" in err

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(provenance.tempfile, "mkstemp", read_only)
    err = one_line(capsys, regression_cli.main,
                   ["--refresh", "--baseline", str(tmp_path / "baseline.json")])
    assert "Read-only file system" in err


def test_malformed_pth(capsys, tmp_path):
    pth = tmp_path / "NAS-Bench-201-v1_1-096897.pth"
    pth.write_bytes(b"PK\x03\x04 not really a zip")
    err = one_line(capsys, arch_cli.main, ["0", "--benchmark", str(pth)])
    assert "unreadable" in err


def test_batch_larger_than_memory(capsys, tmp_path, no_rank):
    err = one_line(capsys, rank_cli.main, ["--data", "gaussian", "--batch-size", "100000",
                                           "--indices", "0", "--out", str(tmp_path)])
    assert "GiB available" in err and "--batch-size 100,000" in err


def test_search_bad_exact_steps(capsys, monkeypatch, tmp_path):
    from harness.searching import blackbox_flow, nasi_flow

    _forbid(monkeypatch, nasi_flow, "run")
    _forbid(monkeypatch, blackbox_flow, "run")
    for method in ("evolution", "nasi"):  # it used to be checked for nasi only, after work
        err = one_line(capsys, search_cli.main, ["--method", method, "--exact-steps", "abc",
                                                 "--out", str(tmp_path)])
        assert "--exact-steps: expected comma-separated integers" in err
    err = one_line(capsys, search_cli.main, ["--exact-steps", "5", "--out", str(tmp_path)])
    assert "does not apply to --method evolution" in err


# ----------------------------------------------------------------------------- security
class _Planted:
    """Unpickling this runs ``os.system`` (a marker file proves it did)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _nats_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    shutil.copytree(NATS, folder)
    return folder


@pytest.mark.parametrize("file", ["meta.pickle.pbz2", "000011.pickle.pbz2"])
def test_crafted_nats_archive_runs_no_code(capsys, tmp_path, monkeypatch, file):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder, marker = _nats_copy(tmp_path), tmp_path / "marker"
    with bz2.open(folder / file, "wb") as f:
        pickle.dump({"200": _Planted(marker)}, f)
    err = one_line(capsys, arch_cli.main, ["0", "--benchmark", str(folder)])
    assert "refusing to load" in err and "posix.system" in err
    assert not marker.exists()


def test_crafted_pth_runs_no_code(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    pth, marker = tmp_path / "NAS-Bench-201-v1_1-096897.pth", tmp_path / "marker"
    torch.save({"meta_archs": [], "arch2infos": {0: _Planted(marker)}}, pth)
    err = one_line(capsys, arch_cli.main, ["0", "--benchmark", str(pth)])
    assert "refusing to load" in err and "posix.system" in err
    assert not marker.exists()


def test_numpy_object_scalar_is_refused():
    """numpy's scalar() with an object dtype would hand back any object: refused."""
    from benchmarks.safe_pickle import UnsafePickleError, numeric_scalar

    assert numeric_scalar(np.dtype("f8"), np.float64(1.5).tobytes()) == 1.5
    with pytest.raises(UnsafePickleError):
        numeric_scalar(np.dtype("O"), b"")


def test_real_archives_still_load(tmp_path):
    """The allow-list covers the real NATS-Bench files (the fixture) and an NB201-layout
    .pth written by torch (numpy scalars inside)."""
    from benchmarks.safe_pickle import load_bz2_pickle, torch_load

    meta = load_bz2_pickle(NATS / "meta.pickle.pbz2")
    assert len(meta["meta_archs"]) == 15625
    record = load_bz2_pickle(NATS / "000011.pickle.pbz2")
    with bz2.open(NATS / "000011.pickle.pbz2", "rb") as f:
        assert pickle.load(f) == record  # independent: the plain unpickler
    torch.save({"r": record}, tmp_path / "x.pth")
    assert torch_load(tmp_path / "x.pth") == {"r": record}


def test_pth_with_numpy_1_names_loads(tmp_path):
    """The NB201 .pth files (2020) were pickled under numpy 1, which names the scalar
    constructor numpy.core.multiarray.scalar; both names are allowed."""
    from benchmarks.safe_pickle import torch_load

    data = {"acc": np.float64(93.5), "epochs": [np.int64(200)]}
    torch.save(data, tmp_path / "new.pth", _use_new_zipfile_serialization=False)
    raw = (tmp_path / "new.pth").read_bytes()
    assert raw.count(b"numpy._core.multiarray") == 1  # the text GLOBAL of protocol 2
    (tmp_path / "old.pth").write_bytes(raw.replace(b"numpy._core.multiarray",
                                                   b"numpy.core.multiarray"))
    assert torch_load(tmp_path / "old.pth") == data
