"""Top-k, transferability and label/data-agnosticism tables of a scored table (the
conventions are those of :mod:`harness.analysis.correlation`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from harness.analysis.correlation import (
    as_float,
    available_subsets,
    kendall_tau_b,
    paired_values,
    pearson_r,
    spearman_rho,
    subset_mask,
)

TOPK_DEFAULT: tuple[int | str, ...] = (10, 50, 100, "1%")


# ---------------------------------------------------------------------------------------------
# Top-k


def resolve_k(k: int | str, n: int) -> int:
    """An int k, or 'p%' of n (rounded, at least 1); never more than n."""
    if isinstance(k, str):
        text = k.strip()
        if not text.endswith("%"):
            return min(int(text), n)
        value = max(1, int(round(float(text[:-1]) / 100.0 * n)))
    else:
        value = int(k)
    if value < 1:
        raise ValueError(f"k must be >= 1, got {k!r}")
    return min(value, n)


def _top(values: np.ndarray, index: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k largest values, ties broken by ascending benchmark index."""
    return np.lexsort((index, -values))[:k]


def topk_metrics(score: np.ndarray, acc: np.ndarray, index: np.ndarray, k: int | str,
                 higher_is_better: bool = True) -> dict:
    """Top-k agreement of usable arrays (finite score and accuracy; see module docstring)."""
    n = score.size
    s = score if higher_is_better else -score
    kk = resolve_k(k, n) if n else 0
    if kk == 0:
        return {"k": str(k), "k_value": 0, "n": n}
    top_s = _top(s, index, kk)
    top_a = _top(acc, index, kk)
    cutoff = s[top_s[-1]]
    in_top = np.zeros(n, dtype=bool)
    in_top[top_s] = True
    return {
        "k": str(k), "k_value": kk, "n": n,
        "overlap": int(np.intersect1d(top_s, top_a).size),
        "overlap_fraction": np.intersect1d(top_s, top_a).size / kk,
        "expected_overlap_random": kk * kk / n,
        "best_acc_topk": float(acc[top_s].max()),
        "mean_acc_topk": float(acc[top_s].mean()),
        "best_acc_overall": float(acc.max()),
        "mean_acc_true_topk": float(acc[top_a].mean()),
        "score_ties_at_cutoff": int(np.sum((s == cutoff) & ~in_top)),
    }


def topk_table(df: pd.DataFrame, scores: Sequence[str], targets: Sequence[str], *,
               directions: Mapping[str, bool] | None = None,
               ks: Sequence[int | str] = TOPK_DEFAULT,
               subsets: Sequence[str] | None = None) -> pd.DataFrame:
    """Top-k metrics per (score, target, subset, k).

    ``directions[score]`` is ``higher_is_better`` (default True); a score where lower is
    better is negated before selecting. Columns: score, target, subset, higher_is_better, k,
    k_value, n, n_invalid, overlap (|top-k by score & top-k by target|), overlap_fraction,
    expected_overlap_random (k^2/n), best_acc_topk / mean_acc_topk (target among the top-k by
    score), best_acc_overall, mean_acc_true_topk, score_ties_at_cutoff.
    """
    directions = dict(directions or {})
    subsets = tuple(subsets) if subsets is not None else available_subsets(df)
    index = (df["index"] if "index" in df.columns else pd.Series(np.arange(len(df))))
    index = index.to_numpy()
    cols = ["score", "target", "subset", "higher_is_better", "k", "k_value", "n", "n_invalid",
            "overlap", "overlap_fraction", "expected_overlap_random", "best_acc_topk",
            "mean_acc_topk", "best_acc_overall", "mean_acc_true_topk", "score_ties_at_cutoff"]
    rows = []
    for score in scores:
        hib = bool(directions.get(score, True))
        for target in targets:
            for subset in subsets:
                mask = subset_mask(df, subset)
                s = as_float(df[score])[mask]
                t = as_float(df[target])[mask]
                idx = index[mask]
                keep = np.isfinite(s) & np.isfinite(t)
                n_invalid = int((~np.isfinite(s)).sum())
                for k in ks:
                    m = topk_metrics(s[keep], t[keep], idx[keep], k, hib)
                    rows.append({"score": score, "target": target, "subset": subset,
                                 "higher_is_better": hib, "n_invalid": n_invalid, **m})
    return pd.DataFrame(rows, columns=cols)


# ---------------------------------------------------------------------------------------------
# Transferability


def transfer_table(runs: Sequence[tuple[str, str, pd.DataFrame]], score: str,
                   targets: Mapping[str, str], *, subsets: Sequence[str] = ("all",)
                   ) -> pd.DataFrame:
    """Score of each run (rows: the dataset the score was computed on) vs each target column.

    ``runs``: ``(run label, run dataset, table)``; ``targets``: ``{target dataset: column}``
    (e.g. :data:`benchmarks.columns.TEST_COLUMN`). Every cell is computed on the rows of the
    source run, whose table carries every ground-truth column. Long format: one row per
    (source run, target dataset, subset) with n, n_invalid, kendall_tau, spearman_rho; a
    missing column gives NaN.
    """
    rows = []
    for label, dataset, df in runs:
        if score not in df.columns:
            continue
        for tds, col in targets.items():
            for subset in subsets:
                row = {"kind": "score", "score": score, "source": label,
                       "source_dataset": dataset, "target_dataset": tds, "target": col,
                       "subset": subset}
                usable = col in df.columns and (subset == "all" or "connected" in df.columns)
                rows.append({**row, **_rank_agreement(df, score, col, subset, usable)})
    return pd.DataFrame(rows, columns=_TRANSFER_COLS)


def _rank_agreement(df: pd.DataFrame, x: str, y: str, subset: str, usable: bool) -> dict:
    """n, invalid rows, Kendall and Spearman of columns x and y on a subset (NaN if unusable)."""
    if not usable:
        return {"n": 0, "n_invalid": 0, "kendall_tau": float("nan"), "spearman_rho": float("nan")}
    s, t, n_invalid = paired_values(df, x, y, subset_mask(df, subset))
    return {"n": int(s.size), "n_invalid": n_invalid, "kendall_tau": kendall_tau_b(s, t),
            "spearman_rho": spearman_rho(s, t)}


_TRANSFER_COLS = ["kind", "score", "source", "source_dataset", "target_dataset", "target",
                  "subset", "n", "n_invalid", "kendall_tau", "spearman_rho"]


def accuracy_transfer(df: pd.DataFrame, columns: Mapping[str, str], *, source: str = "",
                      subsets: Sequence[str] = ("all",)) -> pd.DataFrame:
    """The datasets' accuracy rankings against each other (reference for transfer).

    ``columns``: ``{dataset: accuracy column}``. Rows: source dataset's column used as the
    "score"; same long format as :func:`transfer_table` with ``kind = 'accuracy'``.
    """
    rows = []
    for sds, scol in columns.items():
        for tds, tcol in columns.items():
            for subset in subsets:
                row = {"kind": "accuracy", "score": scol, "source": source,
                       "source_dataset": sds, "target_dataset": tds, "target": tcol,
                       "subset": subset}
                usable = scol in df.columns and tcol in df.columns
                rows.append({**row, **_rank_agreement(df, scol, tcol, subset, usable)})
    return pd.DataFrame(rows, columns=_TRANSFER_COLS)


def transfer_matrix(table: pd.DataFrame, metric: str = "kendall_tau", subset: str = "all",
                    score: str | None = None) -> pd.DataFrame:
    """Pivot a transfer table: rows = source (the run the score comes from, or the source
    dataset for ``kind = 'accuracy'`` rows), columns = target dataset; values = ``metric``."""
    t = table[table["subset"] == subset]
    if score is not None:
        t = t[t["score"] == score]
    key = "source_dataset" if (t["kind"] == "accuracy").all() and len(t) else "source"
    rows = list(dict.fromkeys(t[key]))
    cols = list(dict.fromkeys(t["target_dataset"]))
    out = pd.DataFrame(np.nan, index=rows, columns=cols)
    for r, c, v in zip(t[key], t["target_dataset"], t[metric], strict=True):
        out.loc[r, c] = v
    return out


# ---------------------------------------------------------------------------------------------
# Label- and data-agnosticism


def agnostic_correlations(reference: pd.DataFrame, variant: pd.DataFrame,
                          scores: Sequence[str], *, subsets: Sequence[str] | None = None
                          ) -> pd.DataFrame:
    """Agreement of a score between a reference run (true labels, real data) and a variant.

    The tables are joined on ``index`` (inner join: architectures scored in both runs). Per
    (score, subset): n (rows with finite scores in both), n_invalid (joined rows with a
    non-finite score in either run), pearson (raw scores), pearson_log10 (log10 of both scores,
    rows where both > 0; ``n_log10`` of them), spearman_rho, kendall_tau. The ``connected``
    flag comes from the reference run.
    """
    ref_cols = ["index"] + (["connected"] if "connected" in reference.columns else [])
    subsets = tuple(subsets) if subsets is not None else available_subsets(reference)
    rows = []
    for score in scores:
        if score not in reference.columns or score not in variant.columns:
            continue
        joined = reference[ref_cols + [score]].merge(
            variant[["index", score]], on="index", how="inner", suffixes=("_ref", "_var"))
        for subset in subsets:
            mask = subset_mask(joined, subset)
            a = as_float(joined[f"{score}_ref"])[mask]
            b = as_float(joined[f"{score}_var"])[mask]
            keep = np.isfinite(a) & np.isfinite(b)
            a, b = a[keep], b[keep]
            pos = (a > 0) & (b > 0)
            rows.append({"score": score, "subset": subset, "n": int(a.size),
                         "n_invalid": int((~keep).sum()),
                         "pearson": pearson_r(a, b),
                         "pearson_log10": pearson_r(np.log10(a[pos]), np.log10(b[pos])),
                         "n_log10": int(pos.sum()),
                         "spearman_rho": spearman_rho(a, b),
                         "kendall_tau": kendall_tau_b(a, b)})
    return pd.DataFrame(rows, columns=["score", "subset", "n", "n_invalid", "pearson",
                                       "pearson_log10", "n_log10", "spearman_rho",
                                       "kendall_tau"])
