"""Correlation, top-k, transferability and agnosticism analyses of a scored table.

Everything here is a pure function of pandas DataFrames shaped like a run's ``ranking.csv``
(``index, arch, iso_key, connected``, one column per score, then the ground-truth columns of
:mod:`benchmarks`). Nothing reads files or draws.

Conventions (also printed in every report):

- **Correlations are signed and computed on the raw score values**: a score for which lower is
  better (``higher_is_better = False``) should show *negative* correlations. Kendall's tau is
  **tau-b** (``scipy.stats.kendalltau``, O(n log n)); Spearman's rho uses average ranks for
  ties; Pearson is computed on the raw score (``pearson``) and, where the score is positive,
  on ``log10(score)`` (``pearson_log10``, rows with score <= 0 left out and counted in
  ``n_log10``).
- **Invalid values**: a row whose score is NaN or +-inf is *invalid*: it is counted
  (``n_invalid``) and left out; a row whose target is missing is left out as well. ``n`` is
  the number of rows actually used. A correlation that is undefined (fewer than 2 rows or a
  constant input) is NaN here (``None`` in :func:`basic_correlations`).
- **Ties** (e.g. isomorphic architectures share one score; disconnected cells share the score
  0): tau-b and average ranks account for them in the correlations. Top-k selections break
  ties by ascending benchmark index (deterministic, arbitrary); ``score_ties_at_cutoff``
  reports how many rows tied with the k-th selected score were left outside the top-k (0 =
  no tie was broken).
- **Subsets**: ``all`` rows of the run, or ``connected`` ones only (the 341 NB201 cells with
  no input-to-output path compute a constant function, get degenerate scores and ~10 %
  accuracy, and inflate correlations).
- **Bootstrap**: percentile bootstrap over architectures (rows resampled with replacement,
  ``n`` per resample), ``n_boot`` resamples (reports default to 1000) from
  ``numpy.random.default_rng(seed)``; the same resamples serve Kendall, Spearman and Pearson
  (paired). Resamples whose statistic is undefined are dropped from the percentiles.
  Speed: vectorised over resamples; measurements in ``docs/notes/bootstrap-speed.md``.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
from scipy import stats

from harness.progress import Progress

try:  # scipy's O(n log n) discordant-pair counter (private; guarded, tested against public API)
    from scipy.stats._stats import _kendall_dis
except ImportError:  # pragma: no cover - depends on the scipy build
    _kendall_dis = None

SUBSETS = ("all", "connected")
METRICS = ("kendall_tau", "spearman_rho", "pearson")
CONFIDENCE = 0.95
DEFAULT_BOOTSTRAP = 1000
_BOOT_CHUNK = 64  # resamples vectorised at once (memory ~ chunk x n x 8 bytes per array)


# ---------------------------------------------------------------------------------------------
# Basic helpers


def as_float(values) -> np.ndarray:
    """A column as float64 (non-numeric entries become NaN)."""
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)


def subset_mask(df: pd.DataFrame, subset: str) -> np.ndarray:
    """Boolean row mask of a subset ('all' or 'connected')."""
    if subset == "all":
        return np.ones(len(df), dtype=bool)
    if subset == "connected":
        if "connected" not in df.columns:
            raise KeyError("table has no 'connected' column")
        col = df["connected"]
        if col.dtype != bool:
            col = col.astype(str).str.strip().str.lower().isin(("true", "1", "yes"))
        return col.to_numpy(dtype=bool)
    raise ValueError(f"unknown subset {subset!r}; expected one of {SUBSETS}")


def available_subsets(df: pd.DataFrame) -> tuple[str, ...]:
    """('all', 'connected'), or ('all',) when no row is disconnected: the 'connected' rows
    would only repeat the 'all' ones."""
    if "connected" not in df.columns or subset_mask(df, "connected").all():
        return ("all",)
    return SUBSETS


def _nan_to_none(value):
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def kendall_tau_b(x, y) -> float:
    """Kendall's tau-b of two equally long arrays (NaN when undefined)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size < 2:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.kendalltau(x, y, variant="b").statistic)


def spearman_rho(x, y) -> float:
    """Spearman's rho with average ranks for ties (NaN when undefined)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size < 2:
        return float("nan")
    return pearson_r(stats.rankdata(x), stats.rankdata(y))


def pearson_r(x, y) -> float:
    """Pearson's r (NaN when undefined: fewer than 2 points or a constant input)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size < 2:
        return float("nan")
    xc, yc = x - x.mean(), y - y.mean()
    den = math.sqrt(float(np.sum(xc * xc)) * float(np.sum(yc * yc)))
    if den == 0.0 or not math.isfinite(den):
        return float("nan")
    return float(np.clip(np.sum(xc * yc) / den, -1.0, 1.0))


def pearson_log10(x, y) -> tuple[float, int]:
    """Pearson's r between log10(x) and y over the rows with x > 0; returns (r, rows used)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = x > 0
    return pearson_r(np.log10(x[keep]), y[keep]), int(keep.sum())


def paired_values(df: pd.DataFrame, score: str, target: str, mask: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray, int]:
    """(score values, target values, n_invalid) of the usable rows inside ``mask``."""
    s = as_float(df[score])[mask]
    t = as_float(df[target])[mask]
    finite_s = np.isfinite(s)
    keep = finite_s & np.isfinite(t)
    return s[keep], t[keep], int((~finite_s).sum())


# ---------------------------------------------------------------------------------------------
# Correlations


def basic_correlations(df: pd.DataFrame, scores: Iterable[str], targets: Iterable[str]
                       ) -> list[dict]:
    """Kendall tau-b and Spearman rho of every score against every target, over all rows.

    Returns one dict per (score, target), scores outermost, in the order given:
    ``{"score", "target", "n", "kendall_tau", "spearman_rho"}``; ``n`` counts the rows with a
    finite score and a finite target (the others are left out); an undefined correlation is
    ``None``. Deterministic (no resampling); signed, on the raw score.
    """
    out = []
    mask = np.ones(len(df), dtype=bool)
    for score in scores:
        for target in targets:
            s, t, _ = paired_values(df, score, target, mask)
            out.append({"score": score, "target": target, "n": int(s.size),
                        "kendall_tau": _nan_to_none(kendall_tau_b(s, t)),
                        "spearman_rho": _nan_to_none(spearman_rho(s, t))})
    return out


def _dense(values: np.ndarray) -> tuple[np.ndarray, int]:
    """0-based dense ranks and the number of distinct values."""
    uniq, inv = np.unique(values, return_inverse=True)
    return inv.astype(np.intp).ravel(), int(uniq.size)


def _row_ranks(groups: np.ndarray, n_groups: int, idx: np.ndarray) -> np.ndarray:
    """Average ranks (1-based) of each resample row ``groups[idx[r]]``, without sorting."""
    b, n = idx.shape
    g = groups[idx]
    counts = np.bincount((g + (np.arange(b)[:, None] * n_groups)).ravel(),
                         minlength=b * n_groups).reshape(b, n_groups)
    below = np.cumsum(counts, axis=1) - counts
    avg = below + (counts + 1) / 2.0
    return np.take_along_axis(avg, g, axis=1)


def _row_pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.sum(xc * yc, axis=1) / np.sqrt(np.sum(xc * xc, axis=1) * np.sum(yc * yc, axis=1))
    return np.clip(r, -1.0, 1.0)


class _KendallResampler:
    """tau-b of bootstrap resamples reusing the sort of the full sample."""

    def __init__(self, x: np.ndarray, y: np.ndarray):
        self.x, self.y = x, y
        self.gx, _ = _dense(x)
        self.gy, _ = _dense(y)
        self.order = np.lexsort((self.gy, self.gx))
        gx_o, gy_o = self.gx[self.order], self.gy[self.order]
        change = np.r_[True, (gx_o[1:] != gx_o[:-1]) | (gy_o[1:] != gy_o[:-1])]
        joint = np.empty_like(self.gx)
        joint[self.order] = np.cumsum(change) - 1
        self.gxy = joint

    def __call__(self, idx: np.ndarray) -> float:
        n = idx.size
        if _kendall_dis is None:  # pragma: no cover
            return kendall_tau_b(self.x[idx], self.y[idx])
        w = np.bincount(idx, minlength=self.gx.size)
        seq = np.repeat(self.order, w[self.order])
        dis = int(_kendall_dis(np.ascontiguousarray(self.gx[seq], dtype=np.intp),
                               np.ascontiguousarray(self.gy[seq] + 1, dtype=np.intp)))

        def ties(groups):
            c = np.bincount(groups[idx]).astype(np.int64)
            return int(np.sum(c * (c - 1) // 2))

        tot = n * (n - 1) // 2
        xtie, ytie, ntie = ties(self.gx), ties(self.gy), ties(self.gxy)
        if tot == xtie or tot == ytie:
            return float("nan")
        return (tot - xtie - ytie + ntie - 2 * dis) / math.sqrt(tot - xtie) / math.sqrt(tot - ytie)


def bootstrap_ci(x, y, n_boot: int = DEFAULT_BOOTSTRAP, seed: int = 0,
                 confidence: float = CONFIDENCE, metrics: Sequence[str] = METRICS
                 ) -> dict[str, tuple[float, float]]:
    """Percentile-bootstrap confidence intervals of the correlations of (x, y).

    Rows are resampled with replacement (``n`` per resample) ``n_boot`` times from
    ``numpy.random.default_rng(seed)``; every metric uses the same resamples. Returns
    ``{metric: (low, high)}`` for metrics in ``kendall_tau``, ``spearman_rho``, ``pearson``;
    (NaN, NaN) when fewer than 3 rows, ``n_boot`` < 1, or no resample gives a defined value.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    unknown = set(metrics) - set(METRICS)
    if unknown:
        raise ValueError(f"unknown metrics {sorted(unknown)}")
    nan = (float("nan"), float("nan"))
    n = x.size
    if n < 3 or n_boot < 1:
        return {m: nan for m in metrics}
    rng = np.random.default_rng(seed)
    values = {m: np.empty(n_boot) for m in metrics}
    kendall = _KendallResampler(x, y) if "kendall_tau" in metrics else None
    if "spearman_rho" in metrics:
        gx, nx = _dense(x)
        gy, ny = _dense(y)
    done = 0
    while done < n_boot:
        b = min(_BOOT_CHUNK, n_boot - done)
        idx = rng.integers(0, n, size=(b, n))
        if "pearson" in metrics:
            values["pearson"][done:done + b] = _row_pearson(x[idx], y[idx])
        if "spearman_rho" in metrics:
            values["spearman_rho"][done:done + b] = _row_pearson(_row_ranks(gx, nx, idx),
                                                                 _row_ranks(gy, ny, idx))
        if kendall is not None:
            for r in range(b):
                values["kendall_tau"][done + r] = kendall(idx[r])
        done += b
    alpha = (1.0 - confidence) / 2.0
    out = {}
    for m in metrics:
        v = values[m][np.isfinite(values[m])]
        if v.size == 0:
            out[m] = nan
        else:
            lo, hi = np.percentile(v, [100 * alpha, 100 * (1 - alpha)])
            out[m] = (float(lo), float(hi))
    return out


def correlation_row(s: np.ndarray, t: np.ndarray) -> dict:
    """Point estimates for usable (score, target) arrays."""
    p_log, n_log = pearson_log10(s, t)
    return {"n": int(s.size), "kendall_tau": kendall_tau_b(s, t),
            "spearman_rho": spearman_rho(s, t), "pearson": pearson_r(s, t),
            "pearson_log10": p_log, "n_log10": n_log}


def correlation_table(df: pd.DataFrame, scores: Sequence[str], targets: Sequence[str], *,
                      subsets: Sequence[str] | None = None, n_boot: int = 0, seed: int = 0,
                      confidence: float = CONFIDENCE, workers: int | None = None,
                      progress_label: str | None = None) -> pd.DataFrame:
    """Full correlation table: one row per (score, target, subset), in that nesting order.

    Columns: score, target, subset, n, n_invalid, kendall_tau, spearman_rho, pearson,
    pearson_log10, n_log10 and, when ``n_boot`` > 0, ``<metric>_lo`` / ``<metric>_hi``
    (percentile bootstrap, :func:`bootstrap_ci`, the same ``seed`` for every row, so the
    result does not depend on the order or parallelism of the computation). Rows are computed
    in ``workers`` threads (default: the CPU count, at most 4; scipy's Kendall kernel and
    numpy release the GIL). ``progress_label``: show the bootstrap's progress line (rows done,
    rate, ETA) under that label.
    """
    subsets = tuple(subsets) if subsets is not None else available_subsets(df)
    tasks = [(score, target, subset) for score in scores for target in targets
             for subset in subsets]

    def one(task):
        score, target, subset = task
        s, t, n_invalid = paired_values(df, score, target, subset_mask(df, subset))
        row = {"score": score, "target": target, "subset": subset, **correlation_row(s, t),
               "n_invalid": n_invalid}
        if n_boot > 0:
            ci = bootstrap_ci(s, t, n_boot=n_boot, seed=seed, confidence=confidence)
            for m in METRICS:
                row[f"{m}_lo"], row[f"{m}_hi"] = ci[m]
            bar.update()
        return row

    workers = workers or min(4, os.cpu_count() or 1)
    with Progress(len(tasks), progress_label or "bootstrap", progress_label is not None,
                  unit="rows") as bar:
        if n_boot > 0 and workers > 1 and len(tasks) > 1:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                rows = list(pool.map(one, tasks))
        else:
            rows = [one(t) for t in tasks]
    cols = ["score", "target", "subset", "n", "n_invalid", "kendall_tau", "spearman_rho",
            "pearson", "pearson_log10", "n_log10"]
    if n_boot > 0:
        cols += [f"{m}_{e}" for m in METRICS for e in ("lo", "hi")]
    return pd.DataFrame(rows, columns=cols)
