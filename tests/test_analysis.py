"""harness.analysis: correlations (vs hand / brute-force values), bootstrap, top-k, transfer,
agnostic agreement, NaN/inf handling."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from harness.analysis import correlation as C
from harness.analysis import tables as T

# ---------------------------------------------------------------------------------------------
# independent reference implementations


def brute_tau_b(x, y) -> float:
    """O(n^2) Kendall tau-b straight from the definition."""
    con = dis = tx = ty = 0
    n = len(x)
    for i, j in itertools.combinations(range(n), 2):
        dx, dy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
        if dx == 0 and dy == 0:
            continue
        if dx == 0:
            tx += 1
        elif dy == 0:
            ty += 1
        elif dx == dy:
            con += 1
        else:
            dis += 1
    return (con - dis) / math.sqrt((con + dis + tx) * (con + dis + ty))


def table(score, acc, *, connected=None, index=None, name="s", target="acc"):
    n = len(score)
    return pd.DataFrame({
        "index": np.arange(n) if index is None else index,
        "connected": np.ones(n, bool) if connected is None else connected,
        name: np.asarray(score, float), target: np.asarray(acc, float)})


# ---------------------------------------------------------------------------------------------
# point estimates


def test_perfect_and_reversed_orders():
    x = np.arange(20.0)
    for f in (C.kendall_tau_b, C.spearman_rho):
        assert f(x, np.exp(x)) == pytest.approx(1.0)
        assert f(x, -x ** 3) == pytest.approx(-1.0)
    assert C.pearson_r(x, 3 * x + 1) == pytest.approx(1.0)
    assert C.pearson_r(x, -x) == pytest.approx(-1.0)


def test_small_example_by_hand():
    # pairs of (1,2,3,4) vs (1,3,2,4): 5 concordant, 1 discordant -> tau = 4/6;
    # rank differences (0,1,-1,0): rho = 1 - 6*2/(4*15) = 0.8
    x, y = [1, 2, 3, 4], [1, 3, 2, 4]
    assert C.kendall_tau_b(x, y) == pytest.approx(4 / 6)
    assert C.spearman_rho(x, y) == pytest.approx(0.8)
    # with ties: x = (1,1,2,3), y = (1,2,2,3): C = 4, D = 0, ties only in x: 1, only in y: 1
    # tau-b = 4 / sqrt(5 * 5) = 0.8
    assert C.kendall_tau_b([1, 1, 2, 3], [1, 2, 2, 3]) == pytest.approx(0.8)
    assert brute_tau_b([1, 1, 2, 3], [1, 2, 2, 3]) == pytest.approx(0.8)


def test_tau_b_matches_brute_force_with_ties():
    rng = np.random.default_rng(3)
    for _ in range(5):
        x = rng.integers(0, 6, 40).astype(float)
        y = x + rng.integers(-3, 4, 40)
        assert C.kendall_tau_b(x, y) == pytest.approx(brute_tau_b(x, y), abs=1e-12)


def test_spearman_uses_average_ranks():
    rng = np.random.default_rng(4)
    x = rng.integers(0, 5, 50).astype(float)
    y = rng.normal(size=50)
    assert C.spearman_rho(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)


def test_pearson_log10_skips_nonpositive():
    s = np.array([0.0, 1.0, 10.0, 100.0, 1000.0])
    acc = np.array([5.0, 1.0, 2.0, 3.0, 4.0])
    r, n = C.pearson_log10(s, acc)
    assert n == 4 and r == pytest.approx(1.0)


def test_undefined_correlations_are_nan():
    assert math.isnan(C.kendall_tau_b([1.0], [2.0]))
    assert math.isnan(C.pearson_r([1, 1, 1], [1, 2, 3]))
    assert math.isnan(C.spearman_rho([2, 2, 2], [1, 2, 3]))


def test_basic_correlations_keys_nan_inf_and_determinism():
    s = [1.0, 2.0, np.nan, 4.0, np.inf, 6.0, -np.inf]
    acc = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0]
    df = table(s, acc)
    df["const"] = 1.0
    out = C.basic_correlations(df, ["s", "const"], ["acc"])
    assert [set(r) for r in out] == [{"score", "target", "n", "kendall_tau", "spearman_rho"}] * 2
    assert out[0]["n"] == 4 and out[0]["kendall_tau"] == pytest.approx(1.0)
    assert out[1]["kendall_tau"] is None and out[1]["spearman_rho"] is None
    assert out == C.basic_correlations(df, ["s", "const"], ["acc"])


# ---------------------------------------------------------------------------------------------
# bootstrap


def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(size=n), 1)  # ties
    return x, x + rng.normal(size=n)


def test_bootstrap_contains_estimate_and_is_deterministic():
    x, y = _data()
    ci = C.bootstrap_ci(x, y, n_boot=200, seed=7)
    point = {"kendall_tau": C.kendall_tau_b(x, y), "spearman_rho": C.spearman_rho(x, y),
             "pearson": C.pearson_r(x, y)}
    for m, (lo, hi) in ci.items():
        assert lo < point[m] < hi
    assert ci == C.bootstrap_ci(x, y, n_boot=200, seed=7)
    assert ci != C.bootstrap_ci(x, y, n_boot=200, seed=8)


def test_bootstrap_matches_a_plain_scipy_loop():
    """The vectorised/fast resampling gives what scipy gives on the same resamples."""
    x, y = _data(120, 1)
    n_boot = 40  # below the chunk size: the resamples are one rng.integers call
    assert n_boot <= C._BOOT_CHUNK
    idx = np.random.default_rng(5).integers(0, x.size, size=(n_boot, x.size))
    ref = {"kendall_tau": [stats.kendalltau(x[i], y[i]).statistic for i in idx],
           "spearman_rho": [stats.spearmanr(x[i], y[i]).statistic for i in idx],
           "pearson": [stats.pearsonr(x[i], y[i]).statistic for i in idx]}
    ci = C.bootstrap_ci(x, y, n_boot=n_boot, seed=5)
    for m, values in ref.items():
        assert ci[m] == pytest.approx(tuple(np.percentile(values, [2.5, 97.5])), abs=1e-12)


def test_fast_kendall_resample_equals_scipy():
    x, y = _data(500, 2)
    k = C._KendallResampler(x, y)
    rng = np.random.default_rng(0)
    for _ in range(5):
        i = rng.integers(0, x.size, x.size)
        assert k(i) == pytest.approx(stats.kendalltau(x[i], y[i]).statistic, abs=1e-12)


def test_bootstrap_degenerate_inputs():
    lo, hi = C.bootstrap_ci([1.0, 2.0], [1.0, 2.0], n_boot=10)["kendall_tau"]
    assert math.isnan(lo) and math.isnan(hi)
    lo, hi = C.bootstrap_ci(np.ones(20), np.arange(20.0), n_boot=10)["pearson"]
    assert math.isnan(lo) and math.isnan(hi)


def test_correlation_table_counts_invalid_and_subsets():
    s = np.array([1.0, 2.0, np.nan, 4.0, np.inf, 6.0, 7.0, 0.5])
    acc = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    conn = np.array([True] * 7 + [False])
    t = C.correlation_table(table(s, acc, connected=conn), ["s"], ["acc"], n_boot=20, seed=0)
    all_row = t[t["subset"] == "all"].iloc[0]
    con_row = t[t["subset"] == "connected"].iloc[0]
    assert (all_row["n"], all_row["n_invalid"]) == (6, 2)
    assert (con_row["n"], con_row["n_invalid"]) == (5, 2)
    assert con_row["kendall_tau"] == pytest.approx(1.0)
    assert all_row["kendall_tau"] < 1.0  # the disconnected row breaks the order
    assert {"kendall_tau_lo", "pearson_hi"} <= set(t.columns)
    # threads do not change the result
    t1 = C.correlation_table(table(s, acc, connected=conn), ["s"], ["acc"], n_boot=20, seed=0,
                             workers=1)
    pd.testing.assert_frame_equal(t, t1)


# ---------------------------------------------------------------------------------------------
# top-k


def test_topk_constructed_example():
    # score ranks archs 0..9 in order; accuracy's top-3 are archs 0, 5, 1
    score = np.arange(10, 0, -1, dtype=float)
    acc = np.array([90, 80, 10, 20, 30, 85, 40, 50, 60, 70], float)
    df = table(score, acc)
    t = T.topk_table(df, ["s"], ["acc"], ks=(3, "20%"), subsets=("all",))
    r3 = t[t["k"] == "3"].iloc[0]
    assert r3["overlap"] == 2  # top-3 by score = {0, 1, 2}; by acc = {0, 5, 1}
    assert r3["best_acc_topk"] == 90 and r3["mean_acc_topk"] == pytest.approx(60.0)
    assert r3["best_acc_overall"] == 90 and r3["mean_acc_true_topk"] == pytest.approx(85.0)
    assert r3["expected_overlap_random"] == pytest.approx(0.9)
    r20 = t[t["k"] == "20%"].iloc[0]
    assert r20["k_value"] == 2 and r20["overlap"] == 1
    # lower-is-better: the score is negated, top-3 = archs 9, 8, 7
    t = T.topk_table(df, ["s"], ["acc"], directions={"s": False}, ks=(3,), subsets=("all",))
    assert t.iloc[0]["mean_acc_topk"] == pytest.approx(60.0)  # 70, 60, 50
    assert t.iloc[0]["overlap"] == 0


def test_topk_ties_broken_by_index_and_reported():
    score = np.array([5.0, 5.0, 5.0, 1.0])
    acc = np.array([1.0, 2.0, 3.0, 4.0])
    m = T.topk_metrics(score, acc, np.array([30, 10, 20, 0]), 2)
    # tied at 5: benchmark indices 10 and 20 win (positions 1, 2); one tied row left out
    assert m["mean_acc_topk"] == pytest.approx(2.5)
    assert m["score_ties_at_cutoff"] == 1


def test_topk_percent_and_invalid():
    assert T.resolve_k("1%", 15625) == 156 and T.resolve_k("1%", 20) == 1
    assert T.resolve_k(100, 30) == 30
    s = np.array([np.nan, np.inf, 3.0, 2.0, 1.0])
    t = T.topk_table(table(s, [1, 2, 3, 2, 1]), ["s"], ["acc"], ks=(10,), subsets=("all",))
    assert t.iloc[0]["n_invalid"] == 2 and t.iloc[0]["n"] == 3 and t.iloc[0]["k_value"] == 3


# ---------------------------------------------------------------------------------------------
# transfer and agnostic


def _gt(n=60, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.normal(size=n)
    return pd.DataFrame({"index": np.arange(n), "connected": np.ones(n, bool),
                         "c10": base + 0.3 * rng.normal(size=n),
                         "c100": base + 0.3 * rng.normal(size=n),
                         "in16": base + 0.3 * rng.normal(size=n)})


def test_transfer_matrix_orientation():
    cols = {"cifar10": "c10", "cifar100": "c100", "ImageNet16-120": "in16"}
    a = _gt()
    a["s"] = a["c100"] ** 3  # the score of run A is a monotone function of CIFAR-100 accuracy
    b = _gt(seed=1)
    b["s"] = -b["in16"]  # run B's score reverses ImageNet16-120 accuracy
    t = T.transfer_table([("A", "cifar10", a), ("B", "cifar100", b)], "s", cols)
    m = T.transfer_matrix(t, "kendall_tau")
    assert list(m.index) == ["A", "B"] and list(m.columns) == list(cols)
    assert m.loc["A", "cifar100"] == pytest.approx(1.0)
    assert m.loc["A", "cifar10"] < 0.9
    assert m.loc["B", "ImageNet16-120"] == pytest.approx(-1.0)
    sp = T.transfer_matrix(t, "spearman_rho")
    assert sp.loc["A", "cifar100"] == pytest.approx(1.0)


def test_accuracy_transfer_is_symmetric_with_unit_diagonal():
    cols = {"cifar10": "c10", "cifar100": "c100", "ImageNet16-120": "in16"}
    m = T.transfer_matrix(T.accuracy_transfer(_gt(), cols, source="x"), "kendall_tau")
    assert np.allclose(np.diag(m.to_numpy()), 1.0)
    assert np.allclose(m.to_numpy(), m.to_numpy().T)


def test_agnostic_correlations_join_on_index():
    rng = np.random.default_rng(0)
    n = 50
    ref = pd.DataFrame({"index": np.arange(n), "connected": np.r_[np.zeros(3, bool),
                                                                  np.ones(n - 3, bool)],
                        "nasi": np.r_[np.zeros(3), np.exp(rng.normal(size=n - 3))]})
    var = ref.sample(frac=1.0, random_state=1).iloc[:40].copy()  # shuffled, 10 archs missing
    var["nasi"] = 2.5 * var["nasi"]
    var.loc[var.index[0], "nasi"] = np.nan
    g = T.agnostic_correlations(ref, var, ["nasi"])
    r = g[g["subset"] == "all"].iloc[0]
    assert r["n"] == 39 and r["n_invalid"] == 1
    assert r["pearson"] == pytest.approx(1.0) and r["spearman_rho"] == pytest.approx(1.0)
    assert r["pearson_log10"] == pytest.approx(1.0)
    assert r["n_log10"] == 39 - int((var["nasi"] == 0).sum())
    noisy = ref.copy()
    noisy["nasi"] = ref["nasi"] * np.exp(0.5 * rng.normal(size=n))
    r = T.agnostic_correlations(ref, noisy, ["nasi"], subsets=("connected",)).iloc[0]
    assert r["n"] == n - 3 and 0 < r["pearson_log10"] < 1
