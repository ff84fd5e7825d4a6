"""The analyses of a set of runs: per-run correlations and top-k, cross-dataset transfer,
label/data-agnostic pairs and the published anchors beside our numbers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from benchmarks.columns import ACCURACY_COLUMNS, TEST_COLUMN
from harness.analysis import correlation as C
from harness.analysis import tables as T
from harness.analysis.anchors import anchors_for, comparison_column, comparison_notes
from harness.reporting.runs import Run, baselines_of, run_prefix, targets_of
from nasi.datasets import DATASET_ORDER


@dataclass
class Analysis:
    runs: list[Run]
    correlations: pd.DataFrame
    topk: pd.DataFrame
    transfer: pd.DataFrame
    agnostic: pd.DataFrame
    anchors: pd.DataFrame
    pairs: list[tuple[Run, Run]]
    notes: list[str]


def analyse(runs: list[Run], *, bootstrap: int, seed: int, baselines: bool,
            workers: int | None = None) -> Analysis:
    notes: list[str] = []
    corr_parts, topk_parts = [], []
    for run in runs:
        tables = _run_tables(run, bootstrap, seed, baselines, workers, notes)
        if tables is not None:
            corr_parts.append(tables[0])
            topk_parts.append(tables[1])
    correlations = pd.concat(corr_parts, ignore_index=True) if corr_parts else pd.DataFrame()
    topk = pd.concat(topk_parts, ignore_index=True) if topk_parts else pd.DataFrame()
    transfer = _transfer(runs)
    pairs, agnostic = _agnostic(runs, notes)
    anchors = _anchor_rows(runs, correlations, agnostic, pairs)
    return Analysis(runs, correlations, topk, transfer, agnostic, anchors, pairs, notes)


def _run_tables(run: Run, bootstrap, seed, baselines, workers, notes):
    """(correlations, top-k) of one run, or None when it has no accuracy column."""
    targets = targets_of(run)
    if not targets:
        notes.append(f"run {run.label}: no accuracy column of {run.dataset} in ranking.csv; "
                     "no correlation table")
        return None
    base = baselines_of(run) if baselines else []
    scores = run.scores + base
    directions = {**run.directions, **{b: True for b in base}}
    c = C.correlation_table(run.df, scores, targets, n_boot=bootstrap, seed=seed,
                            workers=workers,
                            progress_label=f"bootstrap CIs of run {run.label} ({bootstrap} "
                                           "resamples)")
    t = T.topk_table(run.df, scores, targets, directions=directions)
    for part in (c, t):
        for k, v in reversed(list(run_prefix(run).items())):
            part.insert(0, k, v)
        part.insert(part.columns.get_loc("score") + 1, "score_source",
                    ["benchmark column (size baseline)" if s in base else "run"
                     for s in part["score"]])
        part.insert(part.columns.get_loc("target") + 1, "target_label",
                    [ACCURACY_COLUMNS[x].label for x in part["target"]])
    c.insert(c.columns.get_loc("score_source") + 1, "higher_is_better",
             [directions[s] for s in c["score"]])
    for s in run.scores:
        bad = int((~np.isfinite(C.as_float(run.df[s]))).sum())
        if bad:
            notes.append(f"run {run.label}: score {s} is NaN/inf for {bad:,} of {run.n:,} "
                         "archs; those rows are excluded (counted as n_invalid)")
    return c, t


def _transfer(runs: list[Run]) -> pd.DataFrame:
    """Every run's score vs every dataset's test accuracy, plus accuracy vs accuracy."""
    test_cols = {ds: TEST_COLUMN[ds] for ds in DATASET_ORDER}
    ordered = sorted(runs, key=lambda r: (DATASET_ORDER.index(r.dataset), not r.standard))
    parts = []
    all_scores = list(dict.fromkeys(s for r in ordered for s in r.scores))
    # 'connected' matrices only when some run has a disconnected row (else they repeat 'all')
    subsets = dict.fromkeys(s for r in ordered for s in C.available_subsets(r.df))
    for score in all_scores:
        for subset in subsets:
            rs = [(r.label, r.dataset, r.df) for r in ordered
                  if score in r.scores and (subset == "all" or "connected" in r.df.columns)]
            parts.append(T.transfer_table(rs, score, test_cols, subsets=(subset,)))
    ref = next((r for r in ordered if r.standard), ordered[0])
    parts.append(T.accuracy_transfer(ref.df, test_cols, source=ref.label,
                                     subsets=C.available_subsets(ref.df)))
    transfer = pd.concat(parts, ignore_index=True)
    transfer.insert(transfer.columns.get_loc("target") + 1, "target_label",
                    [ACCURACY_COLUMNS[c].label for c in transfer["target"]])
    transfer = transfer.sort_values(["kind", "subset"], key=_kind_order, kind="stable")
    return transfer.reset_index(drop=True)


def _agnostic(runs: list[Run], notes: list[str]):
    """Pairs (true-label real-data run, variant run) of a dataset and their agreement."""
    pairs, parts = [], []
    for var in runs:
        if var.standard or not var.mode_known:  # unknown labels/data: no variant of anything
            continue
        ref_run = next((r for r in runs if r.standard and r.dataset == var.dataset), None)
        if ref_run is None:
            notes.append(f"run {var.label} ({var.mode_text}) has no true-label real-data run of "
                         f"{var.dataset} beside it: no agnostic comparison")
            continue
        common = [s for s in var.scores if s in ref_run.scores]
        if not common:
            notes.append(f"runs {ref_run.label} and {var.label} share no score")
            continue
        pairs.append((ref_run, var))
        g = T.agnostic_correlations(ref_run.df, var.df, common)
        for k, v in reversed(list({"dataset": var.dataset, "reference": ref_run.label,
                                    "variant": var.label, "variant_labels": var.labels,
                                    "variant_data": var.data,
                                    "other_differences": _config_diff(ref_run, var)}.items())):
            g.insert(0, k, v)
        parts.append(g)
    return pairs, pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _kind_order(col: pd.Series) -> pd.Series:
    if col.name == "kind":
        return col.map({"score": 0, "accuracy": 1})
    return col.map({"all": 0, "connected": 1})


def _config_diff(a: Run, b: Run) -> str:
    skip = {"labels", "data", "batch_fingerprint", "data_description"}
    ca, cb = (r.summary.to_json()["config"] for r in (a, b))
    keys = sorted((set(ca) | set(cb)) - skip)
    diffs = [f"{k}: {ca.get(k)!r} vs {cb.get(k)!r}" for k in keys if ca.get(k) != cb.get(k)]
    return "; ".join(diffs) if diffs else "none"


def _anchor_rows(runs, correlations, agnostic, pairs) -> pd.DataFrame:
    rows = []
    for run in runs:
        if not run.standard or correlations.empty:
            continue
        mine = correlations[(correlations["run"] == run.label)
                            & (correlations["subset"] == "all")]
        for score in dict.fromkeys(mine["score"]):
            for anc in anchors_for(score, run.dataset):
                col = comparison_column(anc, set(mine["target"]))
                ours = mine[(mine["score"] == score) & (mine["target"] == col)]
                value = float(ours[anc.metric].iloc[0]) if len(ours) else float("nan")
                n = int(ours["n"].iloc[0]) if len(ours) else None
                batch = None if score not in run.scores else run.config.batch_size
                rows.append(_anchor_row(run, score, anc, col, value, n,
                                        comparison_notes(anc, col, our_n=n, our_batch=batch)))
    for ref, var in pairs:
        kind = ("labels" if var.labels != "true" and var.data_mode == "real" else
                "data" if var.labels == "true" and var.data_mode == "gaussian" else None)
        if kind is None:
            continue
        sel = agnostic[(agnostic["variant"] == var.label) & (agnostic["subset"] == "all")]
        for score in sel["score"]:
            for anc in anchors_for(score, var.dataset, kind=kind):
                ours = sel[sel["score"] == score]
                rows.append(_anchor_row(var, score, anc, None, float(ours["pearson"].iloc[0]),
                                        int(ours["n"].iloc[0]),
                                        [f"ours: NB201, runs {ref.label} vs {var.label}, "
                                         "raw scores, all joined archs"]))
    cols = ["run", "dataset", "score", "anchor", "kind", "metric", "published", "published_value",
            "ours", "our_target", "our_target_label", "our_n", "anchor_target", "anchor_archs",
            "anchor_batch", "source", "confidence", "notes"]
    return pd.DataFrame(rows, columns=cols)


def _anchor_row(run, score, anc, col, value, n, notes) -> dict:
    if anc.note:
        notes = [*notes, anc.note]
    return {"run": run.label, "dataset": run.dataset, "score": score, "anchor": anc.proxy,
            "kind": anc.kind, "metric": anc.metric, "published": anc.shown(),
            "published_value": anc.value, "ours": value, "our_target": col or "",
            "our_target_label": ACCURACY_COLUMNS[col].label if col else "",
            "our_n": n, "anchor_target": anc.target_label if anc.kind == "accuracy" else "-",
            "anchor_archs": anc.n_archs, "anchor_batch": anc.batch, "source": anc.source,
            "confidence": anc.confidence, "notes": "; ".join(notes)}
