"""Report figures: every function draws one :class:`matplotlib.figure.Figure` and returns it
(saving, in PNG / PDF / SVG, is :func:`harness.reporting.figures.save_figure`).

Figures use the Agg canvas (no pyplot global state, so they are safe in threads and in
notebooks and never open a window) and constrained layout (no clipped labels). Titles are one
short line; what the numbers were computed from (dataset, batch, seed, device, precision) is
in the report's caption. Legends sit outside the axes, below them, so they never cover data.
Rank axes have integer ticks.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg", force=False)  # harmless if a backend is already chosen

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from benchmarks.columns import ACCURACY_COLUMNS  # noqa: E402
from nasi.datasets import display_name  # noqa: E402
from nasi.scores import available_scores  # noqa: E402

DPI = 150
LEGEND_FONT = 7
HEXBIN_MIN_POINTS = 1500  # below this, plain scatter with alpha
_SPLIT_WORD = {"ori-test": "test", "x-test": "test", "x-valid": "validation"}
def score_label(score: str) -> str:
    """Short axis name of a score ('NASI score ||g||^2', the registry's label); params_/flops_
    benchmark columns included."""
    scores = available_scores()
    if score in scores:
        return scores[score].label
    for prefix in ("params", "flops"):
        if score.startswith(prefix + "_"):
            return f"{scores[prefix].label} (benchmark column {score})"
    return f"{score} score"


def column_title(column: str) -> str:
    """'CIFAR-10 test accuracy' for an accuracy column; the name otherwise."""
    col = ACCURACY_COLUMNS.get(column)
    if col is None:
        return column
    split = _SPLIT_WORD.get(col.eval_set, col.eval_set)
    return f"{display_name(col.dataset)} {split} accuracy"


def column_provenance(column: str) -> str:
    """'cifar10:ori-test, 200 epochs, NATS-Bench 1.8 tss' for an accuracy column."""
    col = ACCURACY_COLUMNS.get(column)
    if col is None:
        return column
    return f"{col.api_dataset}:{col.eval_set}, {col.epochs} epochs, {col.release}"


def accuracy_axis(column: str) -> str:
    return f"{column_title(column)} (%)\n[{column_provenance(column)}]"


def use_log_axis(values) -> bool:
    """Log axis when no finite value is negative, >= 90 % are > 0 (zeros, e.g. disconnected
    cells, are drawn at the left edge) and the positive ones span >= 2 decades."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    pos = v[v > 0]
    if v.size == 0 or v.min() < 0 or pos.size < 0.9 * v.size or pos.size < 2:
        return False
    return pos.max() / pos.min() >= 100.0


def _new(figsize=(7.2, 5.6)) -> Figure:
    fig = Figure(figsize=figsize, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _legend_below(fig: Figure, handles: list) -> None:
    """The legend outside the axes, under them: it can never hide a point."""
    fig.legend(handles=handles, loc="outside lower center", fontsize=LEGEND_FONT, ncols=1,
               frameon=False)


def _integer_ticks(ax) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def _fmt(v) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.3f}"


def _density(ax, x, y, *, xlog=False, label=None, color="tab:blue"):
    """Hexbin (counts, log colour scale) for many points, alpha scatter otherwise."""
    if x.size >= HEXBIN_MIN_POINTS:
        hb = ax.hexbin(x, y, gridsize=70, mincnt=1, bins="log", cmap="viridis",
                       xscale="log" if xlog else "linear", linewidths=0.0)
        ax.figure.colorbar(hb, ax=ax, label="architectures per hexagon (log scale)")
        return Line2D([], [], marker="h", color="#3b528b", linestyle="none", label=label)
    ax.scatter(x, y, s=9, alpha=0.45, color=color, linewidths=0, label=label)
    return None


def plot_score_vs_accuracy(df: pd.DataFrame, score: str, target: str, *, stats_text: str,
                           higher_is_better: bool = True) -> Figure:
    """Score (x, log scale when sensible) vs accuracy (y); disconnected cells marked red.
    ``stats_text`` (tau/rho, one line per subset) goes into the legend."""
    s = pd.to_numeric(df[score], errors="coerce").to_numpy(float)
    a = pd.to_numeric(df[target], errors="coerce").to_numpy(float)
    conn = (df["connected"].to_numpy(bool) if "connected" in df.columns
            else np.ones(len(df), bool))
    ok = np.isfinite(s) & np.isfinite(a)
    log = use_log_axis(s[ok])
    fig = _new((7.2, 6.4))
    ax = fig.add_subplot(1, 1, 1)
    plottable = ok & ((s > 0) if log else True)
    main = plottable & conn
    what = "connected cells" if "connected" in df.columns else "architectures"
    label = f"{what} (n = {main.sum():,})"
    h = _density(ax, s[main], a[main], xlog=log, label=label)
    handles = [h or Line2D([], [], marker="o", color="tab:blue", alpha=0.6, linestyle="none",
                           label=label)]
    pos = s[plottable]
    floor = (pos.min() / 3.0 if pos.size else 1e-3) if log else None
    handles += _edge_points(ax, s, a, ok & ~conn, ok & conn & ~plottable, floor)
    if log:
        ax.set_xscale("log")
    n_bad = int((~np.isfinite(s)).sum())
    if n_bad:
        handles.append(Line2D([], [], linestyle="none",
                              label=f"not shown: {n_bad:,} NaN/inf scores"))
    handles.append(Line2D([], [], linestyle="none", label=stats_text))
    _legend_below(fig, handles)
    direction = "higher is better" if higher_is_better else "lower is better"
    ax.set_xlabel(f"{score_label(score)} ({'log' if log else 'linear'} scale; {direction})")
    ax.set_ylabel(accuracy_axis(target))
    ax.set_title(f"{score_label(score)} vs {column_title(target)}", fontsize=9)
    ax.grid(True, which="major", alpha=0.3)
    return fig


def _edge_points(ax, s, a, disc, nonpos, floor) -> list:
    """Disconnected cells (red x) and connected cells with a score <= 0 on a log axis (at
    the left edge, ``floor``); returns their legend handles."""
    handles = []
    if disc.any():
        xs = np.where(s[disc] > 0, s[disc], floor) if floor is not None else s[disc]
        ax.scatter(xs, a[disc], marker="x", s=16, color="tab:red", linewidths=0.8)
        note = " (score <= 0 drawn at the left edge)" \
            if floor is not None and (s[disc] <= 0).any() else ""
        handles.append(Line2D([], [], marker="x", color="tab:red", linestyle="none",
                              label=f"disconnected cells (n = {disc.sum():,}){note}"))
    if nonpos.any():
        ax.scatter(np.full(nonpos.sum(), floor), a[nonpos], marker="|", s=30, color="0.4")
        handles.append(Line2D([], [], marker="|", color="0.4", linestyle="none",
                              label=f"connected, score <= 0 (n = {nonpos.sum():,}), at left edge"))
    return handles


def plot_rank_vs_rank(df: pd.DataFrame, score: str, target: str, *, stats_text: str,
                      higher_is_better: bool = True) -> Figure:
    """Rank by score (1 = best in the score's direction) vs rank by accuracy (1 = best)."""
    s = pd.to_numeric(df[score], errors="coerce").to_numpy(float)
    a = pd.to_numeric(df[target], errors="coerce").to_numpy(float)
    ok = np.isfinite(s) & np.isfinite(a)
    s, a = s[ok], a[ok]
    from scipy.stats import rankdata

    rs = rankdata(-s if higher_is_better else s, method="average")
    ra = rankdata(-a, method="average")
    fig = _new((6.4, 6.4))
    ax = fig.add_subplot(1, 1, 1)
    _density(ax, rs, ra)
    n = s.size
    ax.plot([1, n], [1, n], color="0.3", linewidth=0.8, linestyle="--")
    _legend_below(fig, [Line2D([], [], color="0.3", linestyle="--", label="perfect agreement"),
                        Line2D([], [], linestyle="none", label=stats_text)])
    ax.set_xlabel(f"rank by {score_label(score)} (1 = best; ties: average rank)")
    ax.set_ylabel(f"rank by {column_title(target)} (1 = best)\n[{column_provenance(target)}]")
    ax.set_title(f"Rank vs rank: {score_label(score)}", fontsize=9)
    ax.set_xlim(0, n + 1)
    ax.set_ylim(0, n + 1)
    _integer_ticks(ax)
    return fig


def _heat(ax, m: pd.DataFrame, title: str, row_labels, col_labels, show_rows=True):
    values = m.to_numpy(float)
    im = ax.imshow(np.ma.masked_invalid(values), cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(values.shape[1]))
    ax.set_xticklabels(col_labels, fontsize=7)
    ax.set_yticks(range(values.shape[0]))
    ax.set_yticklabels(row_labels if show_rows else [], fontsize=7)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            v = values[i, j]
            ax.text(j, i, _fmt(v), ha="center", va="center", fontsize=9,
                    color="white" if np.isfinite(v) and abs(v) > 0.6 else "black")
    ax.set_title(title, fontsize=9)
    return im


def plot_transfer_heatmap(matrices: Mapping[str, pd.DataFrame], *, title: str,
                          row_axis: str, col_axis: str, row_labels=None, col_labels=None
                          ) -> Figure:
    """One heatmap panel per metric (e.g. {'Kendall tau-b': m, 'Spearman rho': m}); the
    value is written in every cell (n/a = not computable)."""
    k = len(matrices)
    first = next(iter(matrices.values()))
    rows = row_labels or [str(r) for r in first.index]
    cols = col_labels or [str(c) for c in first.columns]
    fig = _new((3.6 * k + 2.4, 1.8 + 0.6 * max(3, len(rows))))
    im = None
    for i, (name, m) in enumerate(matrices.items()):
        ax = fig.add_subplot(1, k, i + 1)
        im = _heat(ax, m, name, rows, cols, show_rows=i == 0)
        ax.set_xlabel(col_axis, fontsize=8)
        if i == 0:
            ax.set_ylabel(row_axis, fontsize=8)
    fig.colorbar(im, ax=fig.axes, shrink=0.8, label="correlation")
    fig.suptitle(title, fontsize=9)
    return fig


def plot_agnostic(ref: np.ndarray, var: np.ndarray, *, score: str, ref_label: str,
                  var_label: str, stats_text: str) -> Figure:
    """Score with true labels / real data (x) vs the variant (y), log-log, with y = x."""
    ref, var = np.asarray(ref, float), np.asarray(var, float)
    ok = np.isfinite(ref) & np.isfinite(var) & (ref > 0) & (var > 0)
    dropped = int(ref.size - ok.sum())
    x, y = ref[ok], var[ok]
    fig = _new((6.4, 6.4))
    ax = fig.add_subplot(1, 1, 1)
    if x.size >= HEXBIN_MIN_POINTS:
        hb = ax.hexbin(x, y, gridsize=70, mincnt=1, bins="log", cmap="viridis",
                       xscale="log", yscale="log", linewidths=0.0)
        fig.colorbar(hb, ax=ax, label="architectures per hexagon (log scale)")
    else:
        ax.scatter(x, y, s=9, alpha=0.45, color="tab:blue", linewidths=0)
        ax.set_xscale("log")
        ax.set_yscale("log")
    if x.size:
        lo, hi = min(x.min(), y.min()), max(x.max(), y.max())
        ax.plot([lo, hi], [lo, hi], color="tab:red", linewidth=0.9, linestyle="--")
    handles = [Line2D([], [], color="tab:red", linestyle="--", label="y = x"),
               Line2D([], [], linestyle="none", label=stats_text)]
    if dropped:
        handles.append(Line2D([], [], linestyle="none",
                              label=f"not shown: {dropped:,} archs with a score <= 0 or "
                                    "NaN/inf in a run (e.g. disconnected cells)"))
    _legend_below(fig, handles)
    ax.set_xlabel(f"{score_label(score)}, {ref_label} (log scale)")
    ax.set_ylabel(f"{score_label(score)}, {var_label} (log scale)")
    ax.set_title(f"{score_label(score)}: {ref_label} vs {var_label}", fontsize=9)
    ax.grid(True, which="major", alpha=0.3)
    return fig
