"""Reproducible analysis reports over one or more run directories of ``harness.rank``.

    python -m harness.report RUN_DIR [RUN_DIR ...] --name NAME [--out DIR] [--bootstrap N]
                             [--seed S] [--no-plots] [--no-baselines]

Writes into DIR (default ``reports/NAME``):

- ``report.md``: inputs, correlation tables with bootstrap CIs, published anchors beside our
  numbers, top-k tables, figures, and (when the runs allow) cross-dataset transfer and
  label/data-agnostic sections. Every number names its score, target column (with the
  benchmark provenance label: dataset key, split, epochs, release), run (dataset, batch, seed,
  label/data mode, device) and number of architectures.
- ``correlations.csv``, ``topk.csv``, ``transfer.csv``, ``agnostic.csv``, ``anchors.csv``
  (those that apply) and ``plots/*.png``.
- ``summary.json``: every input run's config/environment/wall time, software versions, git
  commit, analysis settings (bootstrap resamples and seed) and all results.

Several runs are combined: every run gets its own correlation/top-k section; all runs feed the
transfer section (score on dataset A vs test accuracy on dataset B); a run with random labels
and/or Gaussian data is paired with the first true-label, real-data run of the same dataset for
the agnostic section (joined on benchmark index).

Reproducibility: regenerating from the same inputs gives byte-identical CSV, JSON and PNG
files, except the single ``generated_at`` field of summary.json (repeated once in report.md).

Cost (n = 15,625 architectures, 1000 resamples): ~2.2 CPU-seconds per (score, target,
subset) for the Kendall + Spearman + Pearson bootstrap, run in threads (2 cores: ~1.7x). A
CIFAR-10 run with one score plus the two size baselines (3 scores x 3 CIFAR-10 columns x 2
subsets = 18 rows) needs ~38 CPU-s of bootstrap (~20 s wall on an idle 2-core machine) plus
~0.3 CPU-s per figure. ``--bootstrap 0`` skips the intervals; ``--no-plots`` the figures.
"""

from __future__ import annotations

import json
import math
import platform
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.columns import ACCURACY_COLUMNS, TEST_COLUMN, describe
from nasi.datasets import DATASETS, get_dataset

from . import analysis as A
from .anchors import METRIC_LABELS, anchors_for, comparison_column, comparison_notes
from .cli import Parser, UserError
from .cli import run as run_cli
from .environment import git_commit
from .outputs import prepare_out_dir, write_atomic

REPORT_KIND = "nasi-harness.report"
FORMAT_VERSION = 1
DATASET_ORDER = ("cifar10", "cifar100", "ImageNet16-120")
PRETTY = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100", "ImageNet16-120": "ImageNet16-120"}
_ID_COLS = ("index", "arch", "iso_key", "connected")
_CSV_FLOAT = "%.6g"
# accuracy columns of the embedded table (filled in when a ranking.csv lacks them)
_EMBEDDED_ACCURACY = ("cifar10_test", "cifar10_valid", "cifar10_valid_oritest", "cifar100_test",
                      "imagenet16_test")


# ---------------------------------------------------------------------------------------------
# Loading runs


@dataclass
class Run:
    given: str  # the path as given on the command line
    summary: dict
    df: pd.DataFrame
    scores: list[str]
    directions: dict[str, bool]
    dataset: str
    filled_columns: list[str] = field(default_factory=list)
    label: str = ""

    @property
    def config(self) -> dict:
        return self.summary.get("config", {})

    @property
    def labels(self) -> str:
        return str(self.config.get("labels", "true"))

    @property
    def data(self) -> str:
        return str(self.config.get("data", "real"))

    @property
    def data_mode(self) -> str:
        return "gaussian" if self.data == "gaussian" else "real"

    @property
    def standard(self) -> bool:
        return self.labels == "true" and self.data_mode == "real"

    @property
    def mode_text(self) -> str:
        data = "Gaussian data" if self.data_mode == "gaussian" else "real data"
        if self.data_mode == "real" and self.data not in ("real", ""):
            data = f"real data from {self.data}"
        return f"{self.labels} labels, {data}"

    @property
    def device(self) -> str:
        env = self.summary.get("environment") or {}
        dev, name = env.get("device"), env.get("device_name")
        if dev and name and str(name) != str(dev):
            return f"{dev} ({name})"
        return str(dev or name or "unknown")

    @property
    def n(self) -> int:
        return len(self.df)

    @property
    def n_connected(self) -> int | None:
        if "connected" not in self.df.columns:
            return None
        return int(A.subset_mask(self.df, "connected").sum())

    def context(self) -> str:
        """One line saying what every number of this run was computed from."""
        c = self.config
        return (f"scores computed on {PRETTY.get(self.dataset, self.dataset)} ({self.mode_text}), "
                f"batch {c.get('batch_size', '?')}, seed {c.get('seed', '?')}, "
                f"loss {c.get('loss', '?')}, BN {c.get('bn', '?')}, init {c.get('init', '?')}, "
                f"device {self.device}; {self.n:,} archs")


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path} is not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise UserError(f"{path} does not hold a JSON object")
    return data


def _fill_ground_truth(df: pd.DataFrame, benchmark) -> list[str]:
    """Add ground-truth columns missing from ranking.csv from the embedded benchmark table."""
    if str(benchmark or "embedded") != "embedded":
        return []
    keys = [spec.key for spec in DATASETS.values()]
    wanted = list(_EMBEDDED_ACCURACY) + [f"{p}_{k}" for k in keys for p in ("params", "flops")]
    missing = [c for c in wanted if c not in df.columns]
    if not missing:
        return []
    from benchmarks import load_benchmark

    table = load_benchmark()
    missing = [c for c in missing if c in table.columns]
    if not missing:
        return []
    idx = pd.to_numeric(df["index"], errors="coerce")
    if idx.isna().any() or not idx.between(0, len(table) - 1).all():
        raise UserError("ranking.csv has an index outside 0..15624")
    for c in missing:
        df[c] = table[c].to_numpy()[idx.astype(int).to_numpy()]
    return missing


def load_run(run_dir) -> Run:
    """Read a ``harness.rank`` run directory (ranking.csv + summary.json)."""
    path = Path(run_dir)
    if not path.exists():
        raise UserError(f"run directory {path} does not exist")
    if not path.is_dir():
        raise UserError(f"{path} is not a directory (expected a harness.rank run directory)")
    ranking = path / "ranking.csv"
    if not ranking.is_file():
        raise UserError(f"{path} has no ranking.csv (expected the output of "
                        "python -m harness.rank)")
    summary_path = path / "summary.json"
    if not summary_path.is_file():
        raise UserError(f"{path} has no summary.json (expected the output of "
                        "python -m harness.rank)")
    summary = _read_json(summary_path)
    try:
        df = pd.read_csv(ranking, dtype={"arch": str, "iso_key": str})
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise UserError(f"cannot read {ranking}: {str(exc).splitlines()[0]}") from None
    if "index" not in df.columns:
        raise UserError(f"{ranking} has no 'index' column")
    if "connected" in df.columns and df["connected"].dtype != bool:
        df["connected"] = A.subset_mask(df, "connected")
    config = summary.get("config")
    if not isinstance(config, dict) or "dataset" not in config:
        raise UserError(f"{summary_path} has no config.dataset")
    dataset = get_dataset(config["dataset"]).name
    score_info = summary.get("scores") if isinstance(summary.get("scores"), dict) else {}
    scores = list(config.get("scores") or score_info)
    if not scores:
        raise UserError(f"{summary_path} names no score (config.scores)")
    missing = [s for s in scores if s not in df.columns]
    if missing:
        raise UserError(f"{ranking} lacks the score column(s) {', '.join(missing)}")
    directions = {}
    for s in scores:
        info = score_info.get(s) if isinstance(score_info.get(s), dict) else {}
        hib = info.get("higher_is_better")
        directions[s] = bool(_registry_direction(s) if hib is None else hib)
    filled = _fill_ground_truth(df, config.get("benchmark"))
    return Run(given=str(run_dir), summary=summary, df=df, scores=scores,
               directions=directions, dataset=dataset, filled_columns=filled)


def _registry_direction(score: str) -> bool:
    try:
        from nasi.scores import get_score

        return get_score(score).higher_is_better
    except Exception:  # noqa: BLE001 - unknown score: assume higher is better
        return True


def _label_runs(runs: list[Run]) -> None:
    bases = []
    for r in runs:
        base = r.dataset
        if r.labels != "true":
            base += f"-{r.labels}labels"
        if r.data_mode == "gaussian":
            base += "-gaussian"
        bases.append(base)
    for i, (r, base) in enumerate(zip(runs, bases, strict=True)):
        r.label = base if bases.count(base) == 1 else f"{base}-run{i + 1}"


# ---------------------------------------------------------------------------------------------
# Formatting helpers


def _f(v, nd=3) -> str:
    if v is None:
        return "n/a"
    try:
        v = float(v)
    except (TypeError, ValueError):
        return str(v)
    return "n/a" if not math.isfinite(v) else f"{v:.{nd}f}"


def _ci(row, metric) -> str:
    est = _f(row.get(metric))
    lo, hi = row.get(f"{metric}_lo"), row.get(f"{metric}_hi")
    if lo is None or hi is None:
        return est
    return f"{est} [{_f(lo)}, {_f(hi)}]"


def _md_table(headers, rows) -> str:
    def cell(x):
        return str(x).replace("|", "\\|").replace("\n", " ")

    out = ["| " + " | ".join(cell(h) for h in headers) + " |",
           "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(cell(x) for x in r) + " |" for r in rows]
    return "\n".join(out)


def _target_text(col: str) -> str:
    c = ACCURACY_COLUMNS.get(col)
    return f"`{col}` ({c.label})" if c else f"`{col}`"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _clean(value):
    """JSON-safe copy: NaN/inf -> None, numpy scalars -> Python, floats to 6 significant."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return float(f"{v:.6g}") if math.isfinite(v) else None
    return value


def _records(df: pd.DataFrame) -> list[dict]:
    return _clean(df.to_dict(orient="records"))


def _software() -> dict:
    import matplotlib
    import scipy

    try:
        from importlib.metadata import version

        harness_version = version("nasi-harness")
    except Exception:  # noqa: BLE001
        harness_version = None
    return {"nasi_harness": harness_version, "git_commit": git_commit(),
            "python": platform.python_version(), "numpy": np.__version__,
            "pandas": pd.__version__, "scipy": scipy.__version__,
            "matplotlib": matplotlib.__version__,
            "platform": f"{platform.system()} {platform.machine()}"}


# ---------------------------------------------------------------------------------------------
# The analyses of a set of runs


def _targets(run: Run) -> list[str]:
    """Accuracy columns of the run's own dataset, test column first."""
    cols = [c for c, spec in ACCURACY_COLUMNS.items()
            if spec.dataset == run.dataset and c in run.df.columns]
    test = TEST_COLUMN.get(run.dataset)
    return sorted(cols, key=lambda c: (c != test, list(ACCURACY_COLUMNS).index(c)))


def _baselines(run: Run) -> list[str]:
    key = DATASETS[run.dataset].key
    return [c for c in (f"params_{key}", f"flops_{key}")
            if c in run.df.columns and c not in run.scores]


def _run_prefix(run: Run) -> dict:
    c = run.config
    return {"run": run.label, "dataset": run.dataset, "labels": run.labels,
            "data": run.data, "batch_size": c.get("batch_size"), "run_seed": c.get("seed")}


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
        targets = _targets(run)
        if not targets:
            notes.append(f"run {run.label}: no accuracy column of {run.dataset} in ranking.csv; "
                         "no correlation table")
            continue
        base = _baselines(run) if baselines else []
        scores = run.scores + base
        directions = {**run.directions, **{b: True for b in base}}
        c = A.correlation_table(run.df, scores, targets, n_boot=bootstrap, seed=seed,
                                workers=workers)
        t = A.topk_table(run.df, scores, targets, directions=directions)
        for part in (c, t):
            for k, v in reversed(list(_run_prefix(run).items())):
                part.insert(0, k, v)
            part.insert(part.columns.get_loc("score") + 1, "score_source",
                        ["benchmark column (size baseline)" if s in base else "run"
                         for s in part["score"]])
            part.insert(part.columns.get_loc("target") + 1, "target_label",
                        [ACCURACY_COLUMNS[x].label for x in part["target"]])
        c.insert(c.columns.get_loc("score_source") + 1, "higher_is_better",
                 [directions[s] for s in c["score"]])
        corr_parts.append(c)
        topk_parts.append(t)
        for s in run.scores:
            bad = int((~np.isfinite(A.as_float(run.df[s]))).sum())
            if bad:
                notes.append(f"run {run.label}: score {s} is NaN/inf for {bad:,} of {run.n:,} "
                             "archs; those rows are excluded (counted as n_invalid)")
    correlations = pd.concat(corr_parts, ignore_index=True) if corr_parts else pd.DataFrame()
    topk = pd.concat(topk_parts, ignore_index=True) if topk_parts else pd.DataFrame()

    # transfer: every run's score vs every dataset's test accuracy, plus accuracy vs accuracy
    test_cols = {ds: TEST_COLUMN[ds] for ds in DATASET_ORDER}
    ordered = sorted(runs, key=lambda r: (DATASET_ORDER.index(r.dataset), not r.standard))
    parts = []
    all_scores = list(dict.fromkeys(s for r in ordered for s in r.scores))
    for score in all_scores:
        for subset in A.SUBSETS:
            rs = [(r.label, r.dataset, r.df) for r in ordered
                  if score in r.scores and subset in A.available_subsets(r.df)]
            parts.append(A.transfer_table(rs, score, test_cols, subsets=(subset,)))
    ref = next((r for r in ordered if r.standard), ordered[0])
    parts.append(A.accuracy_transfer(ref.df, test_cols, source=ref.label,
                                     subsets=A.available_subsets(ref.df)))
    transfer = pd.concat(parts, ignore_index=True)
    transfer.insert(transfer.columns.get_loc("target") + 1, "target_label",
                    [ACCURACY_COLUMNS[c].label for c in transfer["target"]])
    transfer = transfer.sort_values(["kind", "subset"], key=_kind_order, kind="stable")
    transfer = transfer.reset_index(drop=True)

    # agnostic pairs
    pairs, agn_parts = [], []
    for var in runs:
        if var.standard:
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
        g = A.agnostic_correlations(ref_run.df, var.df, common)
        for k, v in reversed(list({"dataset": var.dataset, "reference": ref_run.label,
                                    "variant": var.label, "variant_labels": var.labels,
                                    "variant_data": var.data,
                                    "other_differences": _config_diff(ref_run, var)}.items())):
            g.insert(0, k, v)
        agn_parts.append(g)
    agnostic = pd.concat(agn_parts, ignore_index=True) if agn_parts else pd.DataFrame()
    anchors = _anchor_rows(runs, correlations, agnostic, pairs)
    return Analysis(runs, correlations, topk, transfer, agnostic, anchors, pairs, notes)


def _kind_order(col: pd.Series) -> pd.Series:
    if col.name == "kind":
        return col.map({"score": 0, "accuracy": 1})
    return col.map({"all": 0, "connected": 1})


def _config_diff(a: Run, b: Run) -> str:
    skip = {"labels", "data", "batch_fingerprint", "data_description"}
    keys = sorted((set(a.config) | set(b.config)) - skip)
    diffs = [f"{k}: {a.config.get(k)!r} vs {b.config.get(k)!r}" for k in keys
             if a.config.get(k) != b.config.get(k)]
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
                batch = None if score not in run.scores else run.config.get("batch_size")
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


# ---------------------------------------------------------------------------------------------
# Figures


def _stats_text(corr: pd.DataFrame, run: Run, score: str, target: str) -> str:
    parts = []
    for subset in A.available_subsets(run.df):
        r = corr[(corr["run"] == run.label) & (corr["score"] == score)
                 & (corr["target"] == target) & (corr["subset"] == subset)]
        if len(r):
            r = r.iloc[0]
            parts.append(f"{subset} archs (n = {int(r['n']):,}): Kendall \u03c4-b = "
                         f"{_f(r['kendall_tau'])}, Spearman \u03c1 = {_f(r['spearman_rho'])}")
    return "\n".join(parts)


def _make_plots(an: Analysis, out: Path) -> dict[str, list[tuple[str, str]]]:
    """Draw every figure; returns {section: [(caption, relative path)]}."""
    from . import plots as P

    figs: dict[str, list[tuple[str, str]]] = {}
    for run in an.runs:
        targets = _targets(run)
        if not targets:
            continue
        target = targets[0]
        for score in run.scores:
            ctx = f"{run.context()}; y: {target} [{ACCURACY_COLUMNS[target].label}]"
            stats_text = _stats_text(an.correlations, run, score, target)
            hib = run.directions[score]
            rel = f"plots/{_safe(run.label)}__{_safe(score)}__vs__{target}.png"
            P.plot_score_vs_accuracy(run.df, score, target, out / rel, context=ctx,
                                     stats_text=stats_text, higher_is_better=hib)
            figs.setdefault(run.label, []).append(
                (f"{P.score_label(score)} vs {_target_text(target)}; {run.context()}", rel))
            rel = f"plots/{_safe(run.label)}__{_safe(score)}__rank_vs_{target}.png"
            P.plot_rank_vs_rank(run.df, score, target, out / rel, context=ctx,
                                stats_text=stats_text, higher_is_better=hib)
            figs[run.label].append((f"rank by {score} vs rank by {_target_text(target)}; "
                                    f"{run.context()}", rel))
    tr = an.transfer
    for score in dict.fromkeys(tr.loc[tr["kind"] == "score", "score"]):
        part = tr[(tr["kind"] == "score") & (tr["score"] == score)]
        mats = {f"Kendall \u03c4-b ({score})": A.transfer_matrix(part, "kendall_tau", "all"),
                f"Spearman \u03c1 ({score})": A.transfer_matrix(part, "spearman_rho", "all")}
        first = next(iter(mats.values()))
        rel = f"plots/transfer__{_safe(score)}.png"
        P.plot_transfer_heatmap(
            mats, out / rel,
            title=f"Transfer: {P.score_label(score)} computed on the row's run vs test accuracy "
                  "of the column's dataset (all archs of each row's run)",
            row_axis="run the score was computed on (dataset[-mode])",
            col_axis="test accuracy (200 epochs; NATS-Bench test columns)",
            row_labels=list(first.index), col_labels=[_col_tick(d) for d in first.columns])
        figs.setdefault("transfer", []).append(
            (f"{score}: score on dataset A (rows) vs test accuracy on dataset B (columns)", rel))
    acc = tr[(tr["kind"] == "accuracy") & (tr["subset"] == "all")]
    if len(acc):
        mats = {"Kendall \u03c4-b": A.transfer_matrix(acc, "kendall_tau", "all"),
                "Spearman \u03c1": A.transfer_matrix(acc, "spearman_rho", "all")}
        first = next(iter(mats.values()))
        rel = "plots/transfer__accuracy_reference.png"
        src = acc["source"].iloc[0]
        P.plot_transfer_heatmap(
            mats, out / rel,
            title=f"Reference: test-accuracy rankings of the datasets vs each other "
                  f"({int(acc['n'].max()):,} archs of run {src})",
            row_axis="test accuracy of (row)", col_axis="test accuracy of (column)",
            row_labels=[_col_tick(d) for d in first.index],
            col_labels=[_col_tick(d) for d in first.columns])
        figs.setdefault("transfer", []).append(
            ("test-accuracy rankings of the three datasets against each other", rel))
    for ref, var in an.pairs:
        for score in [s for s in var.scores if s in ref.scores]:
            j = ref.df[["index", score]].merge(var.df[["index", score]], on="index",
                                               suffixes=("_ref", "_var"))
            row = an.agnostic[(an.agnostic["variant"] == var.label)
                              & (an.agnostic["score"] == score)
                              & (an.agnostic["subset"] == "all")].iloc[0]
            stats_text = (f"all joined archs (n = {int(row['n']):,}): Pearson r (raw scores) = "
                          f"{_f(row['pearson'])}\nPearson r (log10 scores, n = "
                          f"{int(row['n_log10']):,}) = {_f(row['pearson_log10'])}, Spearman "
                          f"\u03c1 = {_f(row['spearman_rho'])}")
            rel = f"plots/agnostic__{_safe(var.label)}__{_safe(score)}.png"
            c = var.config
            P.plot_agnostic(A.as_float(j[f"{score}_ref"]), A.as_float(j[f"{score}_var"]),
                            out / rel, score=score, ref_label=f"{ref.mode_text}",
                            var_label=f"{var.mode_text}",
                            context=f"{PRETTY[var.dataset]}, batch {c.get('batch_size')}, seed "
                                    f"{c.get('seed')}; runs {ref.label} vs {var.label}",
                            stats_text=stats_text)
            figs.setdefault("agnostic", []).append(
                (f"{score}: {ref.label} ({ref.mode_text}) vs {var.label} ({var.mode_text})",
                 rel))
    return figs


def _col_tick(dataset: str) -> str:
    col = TEST_COLUMN.get(dataset)
    return f"{PRETTY.get(dataset, dataset)}\n({ACCURACY_COLUMNS[col].eval_set})" if col \
        else str(dataset)


# ---------------------------------------------------------------------------------------------
# report.md


def _markdown(name: str, an: Analysis, figs, settings: dict, software: dict,
              generated_at: str) -> str:
    L: list[str] = []
    add = L.append
    add(f"# Training-free NAS report: {name}\n")
    add(f"Generated at {generated_at} by `python -m harness.report` (nasi-harness "
        f"{software.get('nasi_harness')}, git {software.get('git_commit')}; numpy "
        f"{software['numpy']}, scipy {software['scipy']}, pandas {software['pandas']}). "
        "Everything below is determined by the input runs and the settings.\n")
    b = settings["bootstrap"]
    add("**How to read the numbers.** Correlations are signed and computed on the raw score "
        "(a score where lower is better should be negative): Kendall tau-b, Spearman rho "
        "(average ranks for ties), Pearson r on the raw score and on log10(score) (rows with "
        "score <= 0 left out). "
        + (f"Brackets: {int(b['confidence'] * 100)} % percentile-bootstrap intervals, "
           f"{b['resamples']} resamples of the architectures (with replacement), numpy "
           f"Generator seed {b['seed']}, the same resamples for all three statistics. "
           if b["resamples"] else "No bootstrap intervals (--bootstrap 0). ")
        + "`n` = architectures used; `invalid` = NaN/inf scores, excluded. Subsets: `all` "
        "architectures of the run, or `connected` cells only (the 341 NB201 cells without an "
        "input-to-output path compute a constant function). Size baselines (`params_<ds>`, "
        "`flops_<ds>`) are the benchmark's closed-form columns, not scores of the run. Top-k: "
        f"k in {settings['topk']} ('1%' = round(n/100)); ties in the score are broken by "
        "ascending benchmark index (column `ties broken` counts the tied rows left out).\n")

    add("## Inputs\n")
    rows = []
    for r in an.runs:
        c = r.config
        rows.append([f"`{r.label}`", PRETTY[r.dataset], ", ".join(r.scores), r.labels, r.data,
                     c.get("batch_size"), c.get("seed"), c.get("loss"), c.get("bn"),
                     c.get("init"), c.get("benchmark"), r.device,
                     f"{r.n:,}" + (f" ({r.n_connected:,})" if r.n_connected is not None else ""),
                     _f(r.summary.get("wall_time_s"), 1), f"`{r.given}`"])
    add(_md_table(["run", "scored on", "scores", "labels", "data", "batch", "seed", "loss",
                   "BN", "init", "benchmark", "device", "archs (connected)",
                   "scoring wall time (s)", "path"], rows) + "\n")
    used = sorted(set(an.correlations.get("target", pd.Series(dtype=str)))
                  | set(an.transfer["target"]), key=list(ACCURACY_COLUMNS).index)
    add("Ground-truth columns (from `benchmarks.columns`):\n")
    add(_md_table(["column", "provenance label", "what it is"],
                  [[f"`{c}`", ACCURACY_COLUMNS[c].label, describe(c)] for c in used]) + "\n")
    for r in an.runs:
        if r.filled_columns:
            add(f"Run `{r.label}`: columns {', '.join(r.filled_columns)} were missing from "
                "ranking.csv and taken from the embedded benchmark table.\n")

    for run in an.runs:
        _run_section(L, run, an, figs)
    _transfer_section(L, an, figs)
    _agnostic_section(L, an, figs)
    if an.notes:
        add("## Notes\n")
        L.extend(f"- {n}" for n in an.notes)
        add("")
    return "\n".join(L).rstrip() + "\n"


def _run_section(L, run: Run, an: Analysis, figs) -> None:
    add = L.append
    add(f"## Run `{run.label}`: {PRETTY[run.dataset]}, {run.mode_text}\n")
    add(f"All numbers in this section: {run.context()} "
        f"({run.n_connected if run.n_connected is not None else '?'} connected); run directory "
        f"`{run.given}`.\n")
    corr = an.correlations
    if corr.empty or run.label not in set(corr["run"]):
        add("No accuracy column of this dataset: no correlation table.\n")
        return
    mine = corr[corr["run"] == run.label]
    add("### Correlation of each score with accuracy\n")
    rows = [[f"`{r['score']}`" + (" (size baseline)" if r["score_source"] != "run" else "")
             + ("" if r["higher_is_better"] else " (lower is better)"),
             _target_text(r["target"]), r["subset"], f"{int(r['n']):,}", int(r["n_invalid"]),
             _ci(r, "kendall_tau"), _ci(r, "spearman_rho"), _ci(r, "pearson"),
             f"{_f(r['pearson_log10'])} (n = {int(r['n_log10']):,})"]
            for r in mine.to_dict(orient="records")]
    add(_md_table(["score", "target column [provenance]", "subset", "n", "invalid",
                   "Kendall tau-b [CI]", "Spearman rho [CI]", "Pearson r, raw score [CI]",
                   "Pearson r, log10(score)"], rows) + "\n")

    anc = an.anchors[(an.anchors["run"] == run.label) & (an.anchors["kind"] == "accuracy")]
    add("### Published anchors (same score, same dataset)\n")
    if len(anc):
        add("Ours: this run, all archs, on the column named; published values as printed by "
            "the source. Confidence: P = primary source, S = secondary.\n")
        rows = [[f"`{r['score']}`", r["anchor"], METRIC_LABELS[r["metric"]], r["published"],
                 _f(r["ours"]), _target_text(r["our_target"]) if r["our_target"] else "n/a",
                 r["anchor_target"], f"{r['anchor_archs']} / {r['anchor_batch']}",
                 r["source"], r["confidence"], r["notes"] or "-"]
                for r in anc.to_dict(orient="records")]
        add(_md_table(["our score", "anchor", "metric", "published", "ours",
                       "our target column", "anchor's accuracy (split@epochs [release])",
                       "anchor archs / batch", "source", "conf.", "notes"], rows) + "\n")
    elif not run.standard:
        add("Anchors are shown for true-label, real-data runs only.\n")
    else:
        add("No published anchor for these scores on this dataset.\n")

    add("### Top-k: are the best architectures by score the best by accuracy?\n")
    tk = an.topk[an.topk["run"] == run.label]
    add("Each cell: `overlap/k [random]; best; mean`: how many of the top-k architectures by "
        "score are among the top-k by the target column, [the overlap a random ranking would "
        "give on average, k^2/n]; best and mean target accuracy (%) among the top-k by score. "
        "`ties` = rows tied with the k-th score left out by the index tie-break.\n")
    ks = list(dict.fromkeys(tk["k"]))
    rows = []
    for (score, target, subset), g in tk.groupby(["score", "target", "subset"], sort=False):
        g = g.set_index("k")
        first = g.iloc[0]
        cells = []
        for k in ks:
            r = g.loc[k] if k in g.index else None
            if r is None or not r["k_value"]:
                cells.append("n/a")
                continue
            kv = int(r["k_value"])
            cell = (f"{int(r['overlap'])}/{kv} [{_f(r['expected_overlap_random'], 1)}]; "
                    f"{_f(r['best_acc_topk'], 2)}; {_f(r['mean_acc_topk'], 2)}")
            if str(k).endswith("%"):
                cell = f"(k = {kv}) {cell}"
            if int(r["score_ties_at_cutoff"]):
                cell += f"; ties {int(r['score_ties_at_cutoff'])}"
            cells.append(cell)
        rows.append([f"`{score}`", _target_text(target), subset, f"{int(first['n']):,}",
                     _f(first["best_acc_overall"], 2)] + cells)
    add(_md_table(["score", "target column [provenance]", "subset", "n",
                   "best acc. overall (%)"] + [f"top-{k}" for k in ks], rows) + "\n")
    if figs.get(run.label):
        add("### Figures\n")
        for caption, rel in figs[run.label]:
            add(f"![{caption}]({rel})\n\n*{caption}*\n")


def _transfer_section(L, an: Analysis, figs) -> None:
    add = L.append
    tr = an.transfer
    add("## Cross-dataset transfer\n")
    add("(a) A score computed on the row's run (dataset A, its label/data mode) against the test "
        "accuracy of each dataset B, on the architectures of the row's run. Test columns: "
        + "; ".join(_target_text(TEST_COLUMN[d]) for d in DATASET_ORDER) + ".\n")
    for score in dict.fromkeys(tr.loc[tr["kind"] == "score", "score"]):
        for subset in A.SUBSETS:
            part = tr[(tr["kind"] == "score") & (tr["score"] == score) & (tr["subset"] == subset)]
            if not len(part):
                continue
            kt = A.transfer_matrix(part, "kendall_tau", subset)
            sp = A.transfer_matrix(part, "spearman_rho", subset)
            ns = part.groupby("source", sort=False)["n"].max()
            add(f"`{score}`, {subset} archs: Kendall tau-b / Spearman rho "
                "(rows: score computed on; columns: test accuracy of)\n")
            rows = [[f"`{src}` (n = {int(ns[src]):,})"]
                    + [f"{_f(kt.loc[src, d])} / {_f(sp.loc[src, d])}" for d in kt.columns]
                    for src in kt.index]
            add(_md_table(["score from run"] + [f"{PRETTY[d]} test" for d in kt.columns], rows)
                + "\n")
    acc = tr[tr["kind"] == "accuracy"]
    if len(acc):
        src = acc["source"].iloc[0]
        add(f"(b) Reference: the datasets' test-accuracy rankings against each other "
            f"(architectures of run `{src}`), Kendall tau-b / Spearman rho.\n")
        for subset in dict.fromkeys(acc["subset"]):
            part = acc[acc["subset"] == subset]
            kt = A.transfer_matrix(part, "kendall_tau", subset)
            sp = A.transfer_matrix(part, "spearman_rho", subset)
            n = int(part["n"].max())
            rows = [[f"{PRETTY[s]} test ({subset}, n = {n:,})"]
                    + [f"{_f(kt.loc[s, d])} / {_f(sp.loc[s, d])}" for d in kt.columns]
                    for s in kt.index]
            add(_md_table(["accuracy of"] + [f"{PRETTY[d]} test" for d in kt.columns], rows)
                + "\n")
    for caption, rel in figs.get("transfer", []):
        add(f"![{caption}]({rel})\n\n*{caption}*\n")


def _agnostic_section(L, an: Analysis, figs) -> None:
    add = L.append
    add("## Label- and data-agnostic scores\n")
    if an.agnostic.empty:
        add("Not applicable: no run with random labels or Gaussian data beside a true-label, "
            "real-data run of the same dataset.\n")
        return
    add("Score of the true-label, real-data run (reference) vs the same score with random "
        "labels and/or Gaussian inputs, joined on the benchmark index. Pearson r on the raw "
        "scores and on log10 of both scores (rows where both are > 0); Spearman rho and Kendall "
        "tau-b for the ranking. NASI (Fig. 1, NAS-Bench-1Shot1) reports Pearson ~1 for random "
        "labels and > 0.9 for random data.\n")
    rows = [[r["dataset"], f"`{r['reference']}`", f"`{r['variant']}`",
             f"labels {r['variant_labels']}, data {r['variant_data']}", f"`{r['score']}`",
             r["subset"], f"{int(r['n']):,}", int(r["n_invalid"]), _f(r["pearson"]),
             f"{_f(r['pearson_log10'])} (n = {int(r['n_log10']):,})", _f(r["spearman_rho"]),
             _f(r["kendall_tau"]), r["other_differences"]]
            for r in an.agnostic.to_dict(orient="records")]
    add(_md_table(["dataset", "reference run", "variant run", "variant mode", "score", "subset",
                   "n", "invalid", "Pearson r (raw)", "Pearson r (log10)", "Spearman rho",
                   "Kendall tau-b", "other config differences"], rows) + "\n")
    anc = an.anchors[an.anchors["kind"].isin(["labels", "data"])]
    if len(anc):
        add("Published anchors (Pearson, raw scores assumed; ours: all joined archs):\n")
        add(_md_table(["variant run", "score", "anchor", "published", "ours", "source",
                       "conf.", "notes"],
                      [[f"`{r['run']}`", f"`{r['score']}`", r["anchor"], r["published"],
                        _f(r["ours"]), r["source"], r["confidence"], r["notes"]]
                       for r in anc.to_dict(orient="records")]) + "\n")
    for caption, rel in figs.get("agnostic", []):
        add(f"![{caption}]({rel})\n\n*{caption}*\n")


# ---------------------------------------------------------------------------------------------
# Writing


def _prepare_out(out: Path) -> None:
    prepare_out_dir(out, "report folder")
    old = out / "summary.json"
    if old.is_file():  # drop figures a previous report wrote and this one may not rewrite
        try:
            prev = json.loads(old.read_text())
        except (OSError, ValueError):
            prev = {}
        if isinstance(prev, dict) and prev.get("kind") == REPORT_KIND:
            for rel in prev.get("files") or []:
                p = out / str(rel)
                if str(rel).startswith("plots/") and str(rel).endswith(".png") \
                        and ".." not in Path(str(rel)).parts and p.is_file():
                    p.unlink()


def _csv(df: pd.DataFrame) -> str:
    return df.to_csv(index=False, float_format=_CSV_FLOAT, lineterminator="\n")


def write_report(run_dirs, out_dir=None, name: str | None = None, *,
                 bootstrap: int = A.DEFAULT_BOOTSTRAP, seed: int = 0, plots: bool = True,
                 baselines: bool = True, workers: int | None = None,
                 generated_at: str | None = None) -> Path:
    """Analyse ``run_dirs`` (one path or a list) and write the report into ``out_dir``.

    ``out_dir`` defaults to ``reports/<name>``; ``name`` defaults to the first run directory's
    name. ``bootstrap``: resamples for the confidence intervals (0 = none); ``seed``: their
    numpy Generator seed; ``baselines``: add the benchmark's params/flops columns of the run's
    dataset as reference scores; ``generated_at``: the one timestamp written (default now,
    UTC). Returns the report directory. Bad input raises :class:`harness.cli.UserError`.
    """
    if isinstance(run_dirs, (str, Path)):
        run_dirs = [run_dirs]
    run_dirs = list(run_dirs)
    if not run_dirs:
        raise UserError("no run directory given")
    name = name or Path(run_dirs[0]).resolve().name
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        raise UserError(f"report name {name!r} must be a plain folder name")
    if bootstrap < 0:
        raise UserError(f"--bootstrap must be >= 0, got {bootstrap}")
    seen = set()
    for d in run_dirs:
        key = Path(d).resolve()
        if key in seen:
            raise UserError(f"run directory {d} given twice")
        seen.add(key)
    runs = [load_run(d) for d in run_dirs]
    _label_runs(runs)
    out = Path(out_dir) if out_dir is not None else Path("reports") / name
    _prepare_out(out)

    an = analyse(runs, bootstrap=bootstrap, seed=seed, baselines=baselines, workers=workers)
    figs = _make_plots(an, out) if plots else {}
    settings = {
        "bootstrap": {"resamples": bootstrap, "seed": seed, "confidence": A.CONFIDENCE,
                      "method": "percentile bootstrap over architectures (usable rows "
                                "resampled with replacement, n per resample); every (score, "
                                "target, subset) draws from a fresh numpy default_rng(seed); "
                                "Kendall, Spearman and Pearson share the resamples"},
        "subsets": list(A.SUBSETS),
        "topk": [str(k) for k in A.TOPK_DEFAULT],
        "ties": "correlations: tau-b and average ranks; top-k: ties broken by ascending "
                "benchmark index (score_ties_at_cutoff counts the tied rows left out)",
        "invalid": "NaN/inf scores counted as n_invalid and excluded; rows with a missing "
                   "target excluded",
        "signs": "correlations are signed, on the raw score; top-k negates scores with "
                 "higher_is_better = false",
        "baselines": baselines,
    }
    software = _software()
    generated_at = generated_at or datetime.now(timezone.utc).isoformat(timespec="seconds")

    files: list[str] = []
    tables = {"correlations.csv": an.correlations, "topk.csv": an.topk,
              "transfer.csv": an.transfer, "agnostic.csv": an.agnostic,
              "anchors.csv": an.anchors}
    try:
        for fname, df in tables.items():
            if len(df):
                write_atomic(out / fname, _csv(df))
                files.append(fname)
            elif (out / fname).is_file():
                (out / fname).unlink()
        files += [rel for entries in figs.values() for _, rel in entries]
        files += ["report.md", "summary.json"]
        write_atomic(out / "report.md", _markdown(name, an, figs, settings, software, generated_at))
        summary = {
            "kind": REPORT_KIND, "format_version": FORMAT_VERSION, "name": name,
            "generated_at": generated_at,
            "software": software,
            "analysis": settings,
            "runs": [_run_record(r) for r in runs],
            "results": {"correlations": _records(an.correlations),
                        "topk": _records(an.topk), "transfer": _records(an.transfer),
                        "agnostic": _records(an.agnostic), "anchors": _records(an.anchors)},
            "notes": an.notes,
            "files": sorted(files),
        }
        write_atomic(out / "summary.json",
               json.dumps(_clean(summary), indent=2, allow_nan=False) + "\n")
    except OSError as exc:
        raise UserError(f"cannot write the report to {out}: {exc.strerror or exc}") from None
    return out


def _run_record(r: Run) -> dict:
    s = r.summary
    return {"label": r.label, "path": r.given, "kind": s.get("kind"), "created": s.get("created"),
            "dataset": r.dataset, "labels": r.labels, "data": r.data, "standard": r.standard,
            "config": s.get("config"), "environment": s.get("environment"),
            "scores": s.get("scores"), "higher_is_better": r.directions,
            "targets": s.get("targets"), "wall_time_s": s.get("wall_time_s"),
            "n_archs": r.n, "n_connected": r.n_connected,
            "columns_filled_from_embedded_benchmark": r.filled_columns}


# ---------------------------------------------------------------------------------------------
# CLI


def build_parser() -> Parser:
    p = Parser(prog="python -m harness.report",
               description="Correlation, top-k, transfer and agnostic analyses of "
                           "harness.rank run directories, as report.md + CSV + JSON + PNG.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR",
                   help="run directories written by python -m harness.rank")
    p.add_argument("--name", required=True, help="report name (a plain folder name)")
    p.add_argument("--out", help="output folder (default reports/NAME)")
    p.add_argument("--bootstrap", type=int, default=A.DEFAULT_BOOTSTRAP, metavar="N",
                   help=f"bootstrap resamples for the 95%% CIs (default {A.DEFAULT_BOOTSTRAP}; "
                        "0 = no CIs)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    p.add_argument("--no-baselines", action="store_true",
                   help="do not add the params/flops benchmark columns as reference scores")
    p.add_argument("--workers", type=int, default=None,
                   help="threads for the bootstrap (default: CPU count, at most 4)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.bootstrap < 0:
        raise UserError(f"--bootstrap must be >= 0, got {args.bootstrap}")
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers must be >= 1, got {args.workers}")
    t0 = time.monotonic()
    out = write_report(args.run_dirs, args.out, args.name, bootstrap=args.bootstrap,
                       seed=args.seed, plots=not args.no_plots, baselines=not args.no_baselines,
                       workers=args.workers)
    print(f"wrote {out / 'report.md'} in {time.monotonic() - t0:.1f} s", file=sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
