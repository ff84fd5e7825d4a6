"""Ground-truth tables: the embedded one and the official-format readers.

Independent ground truth: the shipped CSV read raw with pandas, the published optima
(doc section 8), and the NATS fixture records unpickled directly with bz2 + pickle (not through
the reader under test, nor through nats_bench).
"""

from __future__ import annotations

import bz2
import pickle
import shutil
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import benchmarks.official as official
from benchmarks import ACCURACY_COLUMNS, BenchmarkError, load_benchmark
from benchmarks.official import load_official

ROOT = Path(__file__).parents[1]
DATA = Path(__file__).parent / "data"
NATS = DATA / "NATS-tss-v1_0-3ffb9-simple"
FIXTURE_ARCHS = (0, 11, 284)
STRUCTURE = ["index", "arch", "iso_key", "connected", "params_cifar10", "flops_cifar10",
             "params_cifar100", "flops_cifar100", "params_imagenet16", "flops_imagenet16"]


def _unpickle(path: Path):
    with bz2.open(path, "rb") as f:
        return pickle.load(f)


def _raw_record_accuracy(index: int, dataset: str, eval_set: str) -> float:
    """Mean over seeds of the final-epoch accuracy, straight from the record's state dict."""
    state = _unpickle(NATS / f"{index:06d}.pickle.pbz2")["200"]
    seeds = state["dataset_seed"][dataset]
    values = []
    for seed in seeds:
        run = state["all_results"][(dataset, seed)]
        values.append(run["eval_acc1es"][f"{eval_set}@{run['epochs'] - 1}"])
    return float(np.mean(values))


@pytest.fixture(scope="module")
def embedded():
    start = time.perf_counter()
    table = load_benchmark()
    elapsed = time.perf_counter() - start
    print(f"\nembedded table: {len(table)} rows in {elapsed:.3f} s")
    assert elapsed < 2.0
    return table


@pytest.fixture
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# ----------------------------------------------------------------------------- embedded
def test_embedded_table(embedded):
    assert len(embedded) == 15_625
    assert list(embedded.columns) == STRUCTURE + [
        "cifar10_test", "cifar10_valid", "cifar10_valid_oritest", "cifar100_test",
        "imagenet16_test"]
    assert list(embedded["index"]) == list(range(15_625))
    raw = pd.read_csv(ROOT / "benchmarks" / "data" / "nb201_tss.csv.gz")
    for c in raw.columns:
        assert (embedded[c].to_numpy() == raw[c].to_numpy()).all(), c


def test_embedded_optima(embedded):
    assert embedded["cifar10_test"].idxmax() == 6111
    assert embedded["cifar100_test"].idxmax() == 9930
    assert embedded["imagenet16_test"].idxmax() == 857
    best = embedded.loc[[6111, 9930, 857]]
    assert best["cifar10_test"].iloc[0] == pytest.approx(94.3733, abs=1e-4)
    assert best["cifar100_test"].iloc[1] == pytest.approx(73.5133, abs=1e-4)
    assert best["imagenet16_test"].iloc[2] == pytest.approx(47.3111, abs=1e-4)
    assert embedded["cifar10_valid"].idxmax() == 6111
    assert embedded["cifar10_valid_oritest"].idxmax() == 1459


# ----------------------------------------------------------------------------- NATS folder
@pytest.fixture(scope="module")
def nats_table(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    start = time.perf_counter()
    with pytest.warns(UserWarning, match=r"15622 of 15625 architectures have no record"):
        table = load_benchmark(NATS, cache_dir=cache)
    elapsed = time.perf_counter() - start
    print(f"\nNATS fixture: 3 records extracted in {elapsed:.2f} s "
          f"({elapsed / 3 * 1e3:.0f} ms per arch, including API start-up)")
    return table


def test_nats_columns_match_embedded(nats_table, embedded):
    assert list(nats_table.columns) == STRUCTURE + list(ACCURACY_COLUMNS)
    assert set(embedded.columns) <= set(nats_table.columns)
    for c in STRUCTURE:
        assert (nats_table[c].to_numpy() == embedded[c].to_numpy()).all(), c


def test_nats_records_equal_embedded(nats_table, embedded):
    rows = list(FIXTURE_ARCHS)
    # All five embedded columns agree to 1e-6 for these three archs, including the two
    # cifar10-valid columns, which the embedded table takes from the NB201 v1.1 release.
    for c in ["cifar10_test", "cifar100_test", "imagenet16_test", "cifar10_valid",
              "cifar10_valid_oritest"]:
        np.testing.assert_allclose(nats_table.loc[rows, c], embedded.loc[rows, c], atol=1e-6,
                                   rtol=0, err_msg=c)


def test_nats_records_equal_raw_pickles(nats_table):
    for i in FIXTURE_ARCHS:
        for name, col in ACCURACY_COLUMNS.items():
            expected = _raw_record_accuracy(i, col.api_dataset, col.eval_set)
            assert nats_table.loc[i, name] == pytest.approx(expected, abs=1e-9), (i, name)


def test_nats_missing_archs_are_nan(nats_table):
    acc = nats_table[list(ACCURACY_COLUMNS)]
    present = acc.notna().all(axis=1)
    assert np.flatnonzero(present).tolist() == list(FIXTURE_ARCHS)
    assert acc.drop(index=list(FIXTURE_ARCHS)).isna().all().all()


def test_extraction_holds_one_record_at_a_time(tmp_path, monkeypatch, quiet):
    held, apis = [], []
    real_query = official._record_accuracies

    def spying_query(api, index):
        held.append(sorted(api.arch2infos_dict))
        apis.append(api)
        return real_query(api, index)

    monkeypatch.setattr(official, "_record_accuracies", spying_query)
    start = time.perf_counter()
    load_official(NATS, cache_dir=tmp_path)
    elapsed = time.perf_counter() - start
    print(f"\nload_official, empty cache: {elapsed:.3f} s for 3 records "
          f"({elapsed / 3 * 1e3:.0f} ms per arch, API start-up included)")
    # each record is dropped before the next one is read
    assert held == [[i] for i in FIXTURE_ARCHS]
    assert len(apis[0].arch2infos_dict) == 0


def test_cache_second_load_reads_no_records(tmp_path, monkeypatch, quiet):
    calls = []
    real_extract = official.extract
    monkeypatch.setattr(official, "extract",
                        lambda *a: calls.append(a) or real_extract(*a))
    first = load_official(NATS, cache_dir=tmp_path)
    assert len(calls) == 1
    files = list(tmp_path.iterdir())
    assert len(files) == 1 and files[0].name.endswith(".csv.gz")  # no temp file left behind

    def no_records(*a, **k):
        raise AssertionError("records were read again")

    monkeypatch.setattr(official, "_nats_rows", no_records)
    second = load_official(NATS, cache_dir=tmp_path)
    assert len(calls) == 1
    pd.testing.assert_frame_equal(first, second, check_exact=True)


def test_cache_is_rebuilt_when_archive_changes(tmp_path, quiet):
    folder = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    shutil.copytree(NATS, folder)
    cache = tmp_path / "cache"
    before = load_official(folder, cache_dir=cache)
    assert before.loc[284, "cifar10_test"] == pytest.approx(88.79)
    (folder / "000284.pickle.pbz2").unlink()
    after = load_official(folder, cache_dir=cache)
    assert np.isnan(after.loc[284, "cifar10_test"])
    assert after.loc[11, "cifar10_test"] == before.loc[11, "cifar10_test"]
    assert len(list(cache.glob("*.csv.gz"))) == 2


def test_damaged_cache_is_rebuilt(tmp_path, quiet):
    good = load_official(NATS, cache_dir=tmp_path)
    (cache_file,) = tmp_path.iterdir()
    cache_file.write_bytes(b"not gzip")
    again = load_official(NATS, cache_dir=tmp_path)
    pd.testing.assert_frame_equal(good, again, check_exact=True)


def test_partial_archive_warning_is_one_line(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_official(NATS, cache_dir=tmp_path)
    assert [str(w.message).count("\n") for w in caught] == [0]
    assert str(NATS) in str(caught[0].message)


# ----------------------------------------------------------------------------- NB201 .pth
def _write_nb201_pth(path: Path, indices=FIXTURE_ARCHS) -> Path:
    """An NB201-format file (meta_archs, arch2infos {i: {'less', 'full'}}, evaluated_indexes)
    holding the NATS fixture records: the v1_1 layout, 3 records instead of 15,625."""
    import torch

    meta = _unpickle(NATS / "meta.pickle.pbz2")
    records = {i: _unpickle(NATS / f"{i:06d}.pickle.pbz2") for i in indices}
    torch.save({"meta_archs": meta["meta_archs"],
                "arch2infos": {i: {"less": r["12"], "full": r["200"]} for i, r in records.items()},
                "evaluated_indexes": list(indices)}, path)
    return path


def test_nb201_pth_fails_in_official_api_under_weights_only(tmp_path):
    import torch
    from nas_201_api import NASBench201API

    if tuple(int(p) for p in torch.__version__.split(".")[:2]) < (2, 6):
        pytest.skip("weights_only became the default in torch 2.6")
    pth = _write_nb201_pth(tmp_path / "NAS-Bench-201-v1_1-096897.pth")
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        NASBench201API(str(pth), verbose=False)


def test_nb201_pth_loads(tmp_path, nats_table):
    pth = _write_nb201_pth(tmp_path / "NAS-Bench-201-v1_1-096897.pth")
    with pytest.warns(UserWarning, match="15622 of 15625"):
        table = load_benchmark(pth, cache_dir=tmp_path / "cache")
    assert list(table.columns) == list(nats_table.columns)
    acc = list(ACCURACY_COLUMNS)
    pd.testing.assert_frame_equal(table[acc], nats_table[acc], check_exact=False, atol=1e-9,
                                  rtol=0)
    for i in FIXTURE_ARCHS:
        assert table.loc[i, "cifar100_valid"] == pytest.approx(
            _raw_record_accuracy(i, "cifar100", "x-valid"), abs=1e-9)


def test_nb201_pth_under_forced_weights_only(tmp_path, monkeypatch, nats_table):
    """The .pth is read with weights_only=True (numpy scalars allow-listed), so forcing
    weights-only loading changes nothing."""
    pth = _write_nb201_pth(tmp_path / "NAS-Bench-201-v1_1-096897.pth")
    monkeypatch.setenv("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "1")
    with pytest.warns(UserWarning, match="15622 of 15625"):
        table = load_official(pth, cache_dir=tmp_path / "cache")
    acc = list(ACCURACY_COLUMNS)
    pd.testing.assert_frame_equal(table[acc], nats_table[acc], check_exact=False, atol=1e-9,
                                  rtol=0)


# ----------------------------------------------------------------------------- errors
def _assert_benchmark_error(path: Path, tmp_path: Path, *fragments: str):
    with pytest.raises(BenchmarkError) as info:
        load_benchmark(path, cache_dir=tmp_path / "cache")
    message = str(info.value)
    assert str(path) in message
    assert "\n" not in message
    assert "github.com/D-X-Y/NATS-Bench" in message or "pip install" in message
    for fragment in fragments:
        assert fragment in message


def test_missing_path(tmp_path):
    _assert_benchmark_error(tmp_path / "nowhere", tmp_path, "no such file",
                            "NATS-tss-v1_0-3ffb9-simple.tar", "NAS-Bench-201-v1_1-096897.pth")


def test_folder_without_meta(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    _assert_benchmark_error(folder, tmp_path, "meta.pickle.pbz2")


def test_corrupt_pth(tmp_path):
    pth = tmp_path / "NAS-Bench-201-v1_1-096897.pth"
    pth.write_bytes(b"\x00garbage" * 100)
    _assert_benchmark_error(pth, tmp_path, "unreadable")


def test_pth_that_is_not_a_benchmark(tmp_path):
    import torch

    pth = tmp_path / "weights.pth"
    torch.save({"conv.weight": torch.zeros(2)}, pth)
    _assert_benchmark_error(pth, tmp_path, "not an NB201 benchmark file")


def test_other_file(tmp_path):
    other = tmp_path / "accuracies.csv"
    other.write_text("index,acc\n0,1\n")
    _assert_benchmark_error(other, tmp_path, "neither")
    _assert_benchmark_error(NATS / "000011.pickle.pbz2", tmp_path, "pass its folder")


def test_corrupt_meta_and_record(tmp_path):
    folder = tmp_path / "NATS-tss-v1_0-3ffb9-simple"
    shutil.copytree(NATS, folder)
    (folder / "000011.pickle.pbz2").write_bytes(b"BZh9 damaged")
    with pytest.raises(BenchmarkError) as info:
        load_benchmark(folder, cache_dir=tmp_path / "cache")
    assert str(folder / "000011.pickle.pbz2") in str(info.value)
    (folder / "meta.pickle.pbz2").write_bytes(b"damaged")
    with pytest.raises(BenchmarkError) as info:
        load_benchmark(folder, cache_dir=tmp_path / "cache")
    assert str(folder / "meta.pickle.pbz2") in str(info.value)


def test_meta_of_another_space(tmp_path):
    folder = tmp_path / "NATS-sss-like"
    folder.mkdir()
    meta = _unpickle(NATS / "meta.pickle.pbz2")
    meta["meta_archs"] = meta["meta_archs"][::-1]  # same strings, not the benchmark order
    with bz2.open(folder / "meta.pickle.pbz2", "wb") as f:
        pickle.dump(meta, f)
    _assert_benchmark_error(folder, tmp_path, "not the NB201 / NATS tss space")


def test_missing_official_package(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "nats_bench", None)  # import now raises ImportError
    with pytest.raises(BenchmarkError) as info:
        load_benchmark(NATS, cache_dir=tmp_path)
    assert "pip install 'nasi-harness[official]'" in str(info.value)
    assert str(NATS) in str(info.value)
