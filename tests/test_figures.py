"""Report figures: the plotting functions return figures, rank axes have integer ticks,
nothing is clipped, legends stay off the data, PDF / SVG are written on request."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from harness.errors import UserError
from harness.reporting import plots as P
from harness.reporting.figures import check_formats, save_figure


def small_run(n=12, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    acc = rng.uniform(60, 94, n)
    return pd.DataFrame({"index": np.arange(n), "connected": np.r_[False, np.ones(n - 1, bool)],
                         "nasi": np.exp(acc / 10 + rng.normal(size=n)),
                         "cifar10_test": acc})


def all_figures(df: pd.DataFrame) -> dict[str, Figure]:
    m = pd.DataFrame([[1.0, 0.5], [0.4, np.nan]], index=["a", "b"], columns=["x", "y"])
    return {
        "score": P.plot_score_vs_accuracy(df, "nasi", "cifar10_test", stats_text="tau = 0.5"),
        "rank": P.plot_rank_vs_rank(df, "nasi", "cifar10_test", stats_text="tau = 0.5"),
        "transfer": P.plot_transfer_heatmap({"Kendall": m, "Spearman": m}, title="Transfer",
                                            row_axis="score on", col_axis="accuracy of"),
        "agnostic": P.plot_agnostic(df["nasi"], 2 * df["nasi"], score="nasi",
                                    ref_label="true labels", var_label="random labels",
                                    stats_text="r = 1"),
    }


@pytest.fixture(scope="module")
def figures():
    figs = all_figures(small_run())
    for fig in figs.values():
        fig.canvas.draw()  # lay out, as saving would
    return figs


def test_plots_return_figures(figures):
    assert all(isinstance(fig, Figure) for fig in figures.values())


def test_rank_ticks_are_integers_on_a_small_run():
    fig = P.plot_rank_vs_rank(small_run(3), "nasi", "cifar10_test", stats_text="t")
    fig.canvas.draw()  # without the integer locator matplotlib puts ticks at 0.5, 1.5, ...
    ax = fig.axes[0]
    for axis in (ax.xaxis, ax.yaxis):
        ticks = [t for t in axis.get_majorticklocs() if 0 <= t <= 4]
        assert len(ticks) >= 2
        assert all(float(t).is_integer() for t in ticks), ticks


def test_nothing_clipped_and_legend_off_the_axes(figures):
    for name, fig in figures.items():
        renderer = fig.canvas.get_renderer()
        page = fig.bbox
        for artist in [*fig.axes, *fig.legends, *fig.texts]:
            box = artist.get_tightbbox(renderer)
            assert box.x0 >= page.x0 - 1 and box.y0 >= page.y0 - 1, (name, artist)
            assert box.x1 <= page.x1 + 1 and box.y1 <= page.y1 + 1, (name, artist)
        for legend in fig.legends:
            box = legend.get_window_extent(renderer)
            for ax in fig.axes:
                assert not box.overlaps(ax.get_window_extent(renderer)), name
        assert all(ax.get_legend() is None for ax in fig.axes), name


def test_titles_are_one_short_line(figures):
    for name, fig in figures.items():
        titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
        titles += [fig.get_suptitle()] if fig.get_suptitle() else []
        assert titles, name
        assert all("\n" not in t and len(t) <= 80 for t in titles), (name, titles)


def test_save_figure_formats(tmp_path, figures):
    paths = save_figure(figures["score"], tmp_path / "sub" / "fig", ("png", "pdf", "svg"))
    assert [p.name for p in paths] == ["fig.png", "fig.pdf", "fig.svg"]
    assert paths[0].read_bytes().startswith(b"\x89PNG")
    assert paths[1].read_bytes().startswith(b"%PDF")
    assert b"<svg" in paths[2].read_bytes()[:1000]
    assert [p.name for p in save_figure(figures["rank"], tmp_path / "r")] == ["r.png"]


def test_check_formats():
    assert check_formats("png, PDF,svg") == ("png", "pdf", "svg")
    assert check_formats(["svg", "svg"]) == ("svg",)
    for bad in ("jpg", "", "png,eps"):
        with pytest.raises(UserError):
            check_formats(bad)
