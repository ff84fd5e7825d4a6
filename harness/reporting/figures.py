"""The figures of a report: drawn by :mod:`harness.reporting.plots`, saved here in the formats
asked for (PNG, PDF, SVG), with byte-deterministic files (no timestamp or version inside)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib
import pandas as pd
from matplotlib.figure import Figure

from benchmarks.columns import ACCURACY_COLUMNS, TEST_COLUMN
from harness.analysis import correlation as C
from harness.analysis import tables as T
from harness.errors import UserError
from harness.reporting import plots as P
from harness.reporting.analyse import Analysis
from harness.reporting.markdown import num, target_text
from harness.reporting.runs import Run, safe_name, targets_of
from nasi.datasets import display_name

FORMATS = ("png", "pdf", "svg")
DEFAULT_FORMATS = ("png",)
# what each backend would stamp into the file (date, software version): left out
_METADATA = {"png": {"Software": None},
             "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
             "svg": {"Creator": None, "Date": None}}

Figures = dict[str, list[tuple[str, list[str]]]]  # section -> [(caption, relative paths)]


def check_formats(formats: Sequence[str] | str) -> tuple[str, ...]:
    """('png', 'svg') from 'png,svg' or a sequence; a UserError for an unknown format."""
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    out = tuple(dict.fromkeys(f.strip().lower().lstrip(".") for f in items if f.strip()))
    bad = [f for f in out if f not in FORMATS]
    if bad or not out:
        raise UserError(f"figure formats must be among {','.join(FORMATS)}, got "
                        f"{','.join(items) or 'none'}")
    return out


def save_figure(fig: Figure, stem: str | Path, formats: Sequence[str] = DEFAULT_FORMATS
                ) -> list[Path]:
    """Write ``fig`` as ``stem.<format>`` for every format; returns the paths written."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    with matplotlib.rc_context({"svg.hashsalt": "nasi-harness"}):  # stable SVG element ids
        for fmt in check_formats(formats):
            path = stem.with_name(f"{stem.name}.{fmt}")
            fig.savefig(path, dpi=P.DPI, format=fmt, metadata=_METADATA[fmt])
            paths.append(path)
    return paths


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


class _Writer:
    """Saves each figure under ``out/plots`` in the formats and records its caption."""

    def __init__(self, out: Path, formats: Sequence[str]):
        self.out, self.formats, self.figs = out, check_formats(formats), {}

    def add(self, section: str, fig: Figure, stem: str, caption: str) -> None:
        paths = save_figure(fig, self.out / "plots" / stem, self.formats)
        rels = [p.relative_to(self.out).as_posix() for p in paths]
        self.figs.setdefault(section, []).append((caption, rels))


def make_figures(an: Analysis, out: Path, formats: Sequence[str] = DEFAULT_FORMATS) -> Figures:
    """Draw and save every figure; returns {section: [(caption, relative paths)]}."""
    writer = _Writer(out, formats)
    _run_figures(an, writer)
    _transfer_figures(an, writer)
    _agnostic_figures(an, writer)
    return writer.figs


def _run_figures(an: Analysis, writer: _Writer) -> None:
    for run in an.runs:
        targets = targets_of(run)
        if not targets:
            continue
        target = targets[0]
        for score in run.scores:
            stats_text = _stats_text(an.correlations, run, score, target)
            hib = run.directions[score]
            stem = f"{safe_name(run.label)}__{safe_name(score)}"
            fig = P.plot_score_vs_accuracy(run.df, score, target, stats_text=stats_text,
                                           higher_is_better=hib)
            writer.add(run.label, fig, f"{stem}__vs__{target}",
                       f"{P.score_label(score)} vs {target_text(target)}; {run.context()}")
            fig = P.plot_rank_vs_rank(run.df, score, target, stats_text=stats_text,
                                      higher_is_better=hib)
            writer.add(run.label, fig, f"{stem}__rank_vs_{target}",
                       f"rank by {score} vs rank by {target_text(target)}; {run.context()}")


def _transfer_figures(an: Analysis, writer: _Writer) -> None:
    tr = an.transfer
    for score in dict.fromkeys(tr.loc[tr["kind"] == "score", "score"]):
        part = tr[(tr["kind"] == "score") & (tr["score"] == score)]
        mats = {f"Kendall \u03c4-b ({score})": T.transfer_matrix(part, "kendall_tau", "all"),
                f"Spearman \u03c1 ({score})": T.transfer_matrix(part, "spearman_rho", "all")}
        first = next(iter(mats.values()))
        fig = P.plot_transfer_heatmap(
            mats, title=f"Transfer of {P.score_label(score)} across datasets",
            row_axis="run the score was computed on (dataset[-mode])",
            col_axis="test accuracy (200 epochs; NATS-Bench test columns)",
            row_labels=list(first.index), col_labels=[_col_tick(d) for d in first.columns])
        writer.add("transfer", fig, f"transfer__{safe_name(score)}",
                   f"{score}: score computed on the row's run (dataset A, all its archs) vs "
                   "test accuracy on dataset B (columns)")
    acc = tr[(tr["kind"] == "accuracy") & (tr["subset"] == "all")]
    if len(acc):
        mats = {"Kendall \u03c4-b": T.transfer_matrix(acc, "kendall_tau", "all"),
                "Spearman \u03c1": T.transfer_matrix(acc, "spearman_rho", "all")}
        first = next(iter(mats.values()))
        fig = P.plot_transfer_heatmap(
            mats, title="Test-accuracy rankings of the datasets vs each other",
            row_axis="test accuracy of (row)", col_axis="test accuracy of (column)",
            row_labels=[_col_tick(d) for d in first.index],
            col_labels=[_col_tick(d) for d in first.columns])
        writer.add("transfer", fig, "transfer__accuracy_reference",
                   "test-accuracy rankings of the three datasets against each other "
                   f"({int(acc['n'].max()):,} archs of run {acc['source'].iloc[0]})")


def _agnostic_figures(an: Analysis, writer: _Writer) -> None:
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
            fig = P.plot_agnostic(C.as_float(j[f"{score}_ref"]), C.as_float(j[f"{score}_var"]),
                                  score=score, ref_label=ref.mode_text, var_label=var.mode_text,
                                  stats_text=stats_text)
            writer.add("agnostic", fig, f"agnostic__{safe_name(var.label)}__{safe_name(score)}",
                       f"{score}: {ref.label} ({ref.mode_text}) vs {var.label} "
                       f"({var.mode_text}); {var.context()}")


def _col_tick(dataset: str) -> str:
    col = TEST_COLUMN.get(dataset)
    return f"{display_name(dataset)}\n({ACCURACY_COLUMNS[col].eval_set})" if col \
        else str(dataset)
