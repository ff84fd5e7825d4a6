"""report.md of :func:`harness.reporting.report.write_report`: how to read the numbers, the
inputs, one section per run, transfer and agnostic sections."""

from __future__ import annotations

import pandas as pd

from benchmarks.columns import ACCURACY_COLUMNS, TEST_COLUMN, describe
from harness.analysis import correlation as C
from harness.analysis import tables as T
from harness.analysis.anchors import METRIC_LABELS
from harness.reporting.analyse import Analysis
from harness.reporting.markdown import md_table, num, target_text, with_ci
from harness.reporting.runs import UNKNOWN, Run
from nasi.datasets import DATASET_ORDER, display_name


def report_markdown(name: str, an: Analysis, figs, settings: dict, software: dict,
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
        "input-to-output path compute a constant function; left out when a run has none). "
        "Size baselines (`params_<ds>`, `flops_<ds>`) are the benchmark's closed-form "
        "columns, not scores of the run. Top-k: "
        f"k in {settings['topk']} ('1%' = round(n/100)); ties in the score are broken by "
        "ascending benchmark index (column `ties broken` counts the tied rows left out).\n")

    add("## Inputs\n")
    rows = []
    for r in an.runs:
        c = r.config
        known = [UNKNOWN if v is None else v for v in (c.batch_size, c.seed, c.loss, c.bn,
                                                       c.init, c.benchmark)]
        rows.append([f"`{r.label}`", display_name(r.dataset), ", ".join(r.scores), r.labels, r.data,
                     *known, r.device,
                     f"{r.n:,}" + (f" ({r.n_connected:,})" if r.n_connected is not None else ""),
                     num(r.summary.wall_time_s, 1), f"`{r.given}`"])
    add(md_table(["run", "scored on", "scores", "labels", "data", "batch", "seed", "loss",
                   "BN", "init", "benchmark", "device", "archs (connected)",
                   "scoring wall time (s)", "path"], rows) + "\n")
    used = sorted(set(an.correlations.get("target", pd.Series(dtype=str)))
                  | set(an.transfer["target"]), key=list(ACCURACY_COLUMNS).index)
    add("Ground-truth columns (from `benchmarks.columns`):\n")
    add(md_table(["column", "provenance label", "what it is"],
                  [[f"`{c}`", ACCURACY_COLUMNS[c].label, describe(c)] for c in used]) + "\n")
    for r in an.runs:
        if r.filled_columns:
            add(f"Run `{r.label}`: columns {', '.join(r.filled_columns)} were missing from "
                f"`{r.table_name}` and taken from the embedded benchmark table.\n")

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
    add(f"## Run `{run.label}`: {display_name(run.dataset)}, {run.mode_text}\n")
    add(f"All numbers in this section: {run.context()} "
        f"({run.n_connected if run.n_connected is not None else '?'} connected); {run.source_kind} "
        f"`{run.given}`.\n")
    corr = an.correlations
    if corr.empty or run.label not in set(corr["run"]):
        add("No accuracy column of this dataset: no correlation table.\n")
        return
    mine = corr[corr["run"] == run.label]
    add("### Correlation of each score with accuracy\n")
    rows = [[f"`{r['score']}`" + (" (size baseline)" if r["score_source"] != "run" else "")
             + ("" if r["higher_is_better"] else " (lower is better)"),
             target_text(r["target"]), r["subset"], f"{int(r['n']):,}", int(r["n_invalid"]),
             with_ci(r, "kendall_tau"), with_ci(r, "spearman_rho"), with_ci(r, "pearson"),
             f"{num(r['pearson_log10'])} (n = {int(r['n_log10']):,})"]
            for r in mine.to_dict(orient="records")]
    add(md_table(["score", "target column [provenance]", "subset", "n", "invalid",
                   "Kendall tau-b [CI]", "Spearman rho [CI]", "Pearson r, raw score [CI]",
                   "Pearson r, log10(score)"], rows) + "\n")

    anc = an.anchors[(an.anchors["run"] == run.label) & (an.anchors["kind"] == "accuracy")]
    add("### Published anchors (same score, same dataset)\n")
    if len(anc):
        add("Ours: this run, all archs, on the column named; published values as printed by "
            "the source. Confidence: P = primary source, S = secondary.\n")
        rows = [[f"`{r['score']}`", r["anchor"], METRIC_LABELS[r["metric"]], r["published"],
                 num(r["ours"]), target_text(r["our_target"]) if r["our_target"] else "n/a",
                 r["anchor_target"], f"{r['anchor_archs']} / {r['anchor_batch']}",
                 r["source"], r["confidence"], r["notes"] or "-"]
                for r in anc.to_dict(orient="records")]
        add(md_table(["our score", "anchor", "metric", "published", "ours",
                       "our target column", "anchor's accuracy (split@epochs [release])",
                       "anchor archs / batch", "source", "conf.", "notes"], rows) + "\n")
    elif not run.standard:
        add("Anchors are shown for true-label, real-data runs only.\n")
    else:
        add("No published anchor for these scores on this dataset.\n")

    _topk_table(L, an.topk[an.topk["run"] == run.label])
    if figs.get(run.label):
        add("### Figures\n")
        for caption, rels in figs[run.label]:
            add(figure_markdown(caption, rels))


def figure_markdown(caption: str, rels: list[str]) -> str:
    """The figure shown inline (PNG, else SVG; a PDF only linked), its caption and links to
    its other formats."""
    shown = next((r for r in rels if not r.endswith(".pdf")), None)
    others = [r for r in rels if r != shown]
    links = (" (" + ", ".join(f"[{r.rsplit('.', 1)[-1].upper()}]({r})" for r in others) + ")"
             if others else "")
    image = f"![{caption}]({shown})\n\n" if shown else ""
    return f"{image}*{caption}*{links}\n"


def _topk_table(L, tk: pd.DataFrame) -> None:
    add = L.append
    add("### Top-k: are the best architectures by score the best by accuracy?\n")
    add("Each cell: `overlap/k [random]; best; mean`: how many of the top-k architectures by "
        "score are among the top-k by the target column, [the overlap a random ranking would "
        "give on average, k^2/n]; best and mean target accuracy (%) among the top-k by score. "
        "`ties` = rows tied with the k-th score left out by the index tie-break; `n/a` where "
        "k >= n (the top-k would be every architecture).\n")
    ks = list(dict.fromkeys(tk["k"]))
    rows = []
    for (score, target, subset), g in tk.groupby(["score", "target", "subset"], sort=False):
        g = g.set_index("k")
        first = g.iloc[0]
        cells = []
        for k in ks:
            r = g.loc[k] if k in g.index else None
            # k >= n selects every architecture: the overlap n/n says nothing
            if r is None or not r["k_value"] or int(r["k_value"]) >= int(r["n"]):
                cells.append("n/a")
                continue
            kv = int(r["k_value"])
            cell = (f"{int(r['overlap'])}/{kv} [{num(r['expected_overlap_random'], 1)}]; "
                    f"{num(r['best_acc_topk'], 2)}; {num(r['mean_acc_topk'], 2)}")
            if str(k).endswith("%"):
                cell = f"(k = {kv}) {cell}"
            if int(r["score_ties_at_cutoff"]):
                cell += f"; ties {int(r['score_ties_at_cutoff'])}"
            cells.append(cell)
        rows.append([f"`{score}`", target_text(target), subset, f"{int(first['n']):,}",
                     num(first["best_acc_overall"], 2)] + cells)
    add(md_table(["score", "target column [provenance]", "subset", "n",
                  "best acc. overall (%)"] + [f"top-{k}" for k in ks], rows) + "\n")


def _transfer_section(L, an: Analysis, figs) -> None:
    add = L.append
    tr = an.transfer
    add("## Cross-dataset transfer\n")
    add("(a) A score computed on the row's run (dataset A, its label/data mode) against the test "
        "accuracy of each dataset B, on the architectures of the row's run. Test columns: "
        + "; ".join(target_text(TEST_COLUMN[d]) for d in DATASET_ORDER) + ".\n")
    for score in dict.fromkeys(tr.loc[tr["kind"] == "score", "score"]):
        for subset in C.SUBSETS:
            part = tr[(tr["kind"] == "score") & (tr["score"] == score) & (tr["subset"] == subset)]
            if not len(part):
                continue
            kt = T.transfer_matrix(part, "kendall_tau", subset)
            sp = T.transfer_matrix(part, "spearman_rho", subset)
            ns = part.groupby("source", sort=False)["n"].max()
            add(f"`{score}`, {subset} archs: Kendall tau-b / Spearman rho "
                "(rows: score computed on; columns: test accuracy of)\n")
            rows = [[f"`{src}` (n = {int(ns[src]):,})"]
                    + [f"{num(kt.loc[src, d])} / {num(sp.loc[src, d])}" for d in kt.columns]
                    for src in kt.index]
            add(md_table(["score from run"] + [f"{display_name(d)} test" for d in kt.columns], rows)
                + "\n")
    acc = tr[tr["kind"] == "accuracy"]
    if len(acc):
        src = acc["source"].iloc[0]
        add(f"(b) Reference: the datasets' test-accuracy rankings against each other "
            f"(architectures of run `{src}`), Kendall tau-b / Spearman rho.\n")
        for subset in dict.fromkeys(acc["subset"]):
            part = acc[acc["subset"] == subset]
            kt = T.transfer_matrix(part, "kendall_tau", subset)
            sp = T.transfer_matrix(part, "spearman_rho", subset)
            n = int(part["n"].max())
            rows = [[f"{display_name(s)} test ({subset}, n = {n:,})"]
                    + [f"{num(kt.loc[s, d])} / {num(sp.loc[s, d])}" for d in kt.columns]
                    for s in kt.index]
            add(md_table(["accuracy of"] + [f"{display_name(d)} test" for d in kt.columns], rows)
                + "\n")
    for caption, rels in figs.get("transfer", []):
        add(figure_markdown(caption, rels))


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
             r["subset"], f"{int(r['n']):,}", int(r["n_invalid"]), num(r["pearson"]),
             f"{num(r['pearson_log10'])} (n = {int(r['n_log10']):,})", num(r["spearman_rho"]),
             num(r["kendall_tau"]), r["other_differences"]]
            for r in an.agnostic.to_dict(orient="records")]
    add(md_table(["dataset", "reference run", "variant run", "variant mode", "score", "subset",
                   "n", "invalid", "Pearson r (raw)", "Pearson r (log10)", "Spearman rho",
                   "Kendall tau-b", "other config differences"], rows) + "\n")
    anc = an.anchors[an.anchors["kind"].isin(["labels", "data"])]
    if len(anc):
        add("Published anchors (Pearson, raw scores assumed; ours: all joined archs):\n")
        add(md_table(["variant run", "score", "anchor", "published", "ours", "source",
                       "conf.", "notes"],
                      [[f"`{r['run']}`", f"`{r['score']}`", r["anchor"], r["published"],
                        num(r["ours"]), r["source"], r["confidence"], r["notes"]]
                       for r in anc.to_dict(orient="records")]) + "\n")
    for caption, rels in figs.get("agnostic", []):
        add(figure_markdown(caption, rels))
