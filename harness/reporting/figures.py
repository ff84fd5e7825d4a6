"""The figures of a report, drawn with :mod:`harness.reporting.plots`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchmarks.columns import ACCURACY_COLUMNS, TEST_COLUMN
from harness.analysis import correlation as C
from harness.analysis import tables as T
from harness.reporting import plots as P
from harness.reporting.analyse import Analysis
from harness.reporting.markdown import num, target_text
from harness.reporting.runs import Run, safe_name, targets_of
from nasi.datasets import display_name


def _stats_text(corr: pd.DataFrame, run: Run, score: str, target: str) -> str:
    parts = []
    for subset in C.available_subsets(run.df):
        r = corr[(corr["run"] == run.label) & (corr["score"] == score)
                 & (corr["target"] == target) & (corr["subset"] == subset)]
        if len(r):
            r = r.iloc[0]
            parts.append(f"{subset} archs (n = {int(r['n']):,}): Kendall \u03c4-b = "
                         f"{num(r['kendall_tau'])}, Spearman \u03c1 = {num(r['spearman_rho'])}")
    return "\n".join(parts)


Figures = dict[str, list[tuple[str, str]]]  # section -> [(caption, relative path)]


def make_figures(an: Analysis, out: Path) -> Figures:
    """Draw every figure; returns {section: [(caption, relative path)]}."""
    figs: Figures = {}
    _run_figures(an, out, figs)
    _transfer_figures(an, out, figs)
    _agnostic_figures(an, out, figs)
    return figs


def _run_figures(an: Analysis, out: Path, figs: Figures) -> None:
    for run in an.runs:
        targets = targets_of(run)
        if not targets:
            continue
        target = targets[0]
        for score in run.scores:
            ctx = f"{run.context()}; y: {target} [{ACCURACY_COLUMNS[target].label}]"
            stats_text = _stats_text(an.correlations, run, score, target)
            hib = run.directions[score]
            rel = f"plots/{safe_name(run.label)}__{safe_name(score)}__vs__{target}.png"
            P.plot_score_vs_accuracy(run.df, score, target, out / rel, context=ctx,
                                     stats_text=stats_text, higher_is_better=hib)
            figs.setdefault(run.label, []).append(
                (f"{P.score_label(score)} vs {target_text(target)}; {run.context()}", rel))
            rel = f"plots/{safe_name(run.label)}__{safe_name(score)}__rank_vs_{target}.png"
            P.plot_rank_vs_rank(run.df, score, target, out / rel, context=ctx,
                                stats_text=stats_text, higher_is_better=hib)
            figs[run.label].append((f"rank by {score} vs rank by {target_text(target)}; "
                                    f"{run.context()}", rel))


def _transfer_figures(an: Analysis, out: Path, figs: Figures) -> None:
    tr = an.transfer
    for score in dict.fromkeys(tr.loc[tr["kind"] == "score", "score"]):
        part = tr[(tr["kind"] == "score") & (tr["score"] == score)]
        mats = {f"Kendall \u03c4-b ({score})": T.transfer_matrix(part, "kendall_tau", "all"),
                f"Spearman \u03c1 ({score})": T.transfer_matrix(part, "spearman_rho", "all")}
        first = next(iter(mats.values()))
        rel = f"plots/transfer__{safe_name(score)}.png"
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
        mats = {"Kendall \u03c4-b": T.transfer_matrix(acc, "kendall_tau", "all"),
                "Spearman \u03c1": T.transfer_matrix(acc, "spearman_rho", "all")}
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


def _agnostic_figures(an: Analysis, out: Path, figs: Figures) -> None:
    for ref, var in an.pairs:
        for score in [s for s in var.scores if s in ref.scores]:
            j = ref.df[["index", score]].merge(var.df[["index", score]], on="index",
                                               suffixes=("_ref", "_var"))
            row = an.agnostic[(an.agnostic["variant"] == var.label)
                              & (an.agnostic["score"] == score)
                              & (an.agnostic["subset"] == "all")].iloc[0]
            stats_text = (f"all joined archs (n = {int(row['n']):,}): Pearson r (raw scores) = "
                          f"{num(row['pearson'])}\nPearson r (log10 scores, n = "
                          f"{int(row['n_log10']):,}) = {num(row['pearson_log10'])}, Spearman "
                          f"\u03c1 = {num(row['spearman_rho'])}")
            rel = f"plots/agnostic__{safe_name(var.label)}__{safe_name(score)}.png"
            c = var.config
            P.plot_agnostic(C.as_float(j[f"{score}_ref"]), C.as_float(j[f"{score}_var"]),
                            out / rel, score=score, ref_label=f"{ref.mode_text}",
                            var_label=f"{var.mode_text}",
                            context=f"{display_name(var.dataset)}, batch {c.batch_size}, seed "
                                    f"{c.seed}; runs {ref.label} vs {var.label}",
                            stats_text=stats_text)
            figs.setdefault("agnostic", []).append(
                (f"{score}: {ref.label} ({ref.mode_text}) vs {var.label} ({var.mode_text})",
                 rel))


def _col_tick(dataset: str) -> str:
    col = TEST_COLUMN.get(dataset)
    return f"{display_name(dataset)}\n({ACCURACY_COLUMNS[col].eval_set})" if col \
        else str(dataset)
