"""The NASI replication flow of ``python -m harness.search --method nasi``: Algorithm 1 (or
its REINFORCE variant) per (group, seed), resumable per seed, with the exact check and the
report beside the published NASI(T) / NASI(4T) rows (see ``harness.search`` for the options).
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.published import NASI_SEARCH_NOTE
from harness.errors import UserError
from harness.provenance import prepare_out_dir
from harness.reporting.markdown import md_table
from harness.searching import store as search_store
from harness.searching.common import (
    COLUMN_TITLES,
    EVAL_COLUMNS,
    accuracy,
    fmt,
)
from harness.searching.driver import (
    group_results,
    groups_note,
    per_seed_table,
    publish,
    report_header,
    results_table,
    run_all,
    summary_of,
)


# ------------------------------------------------------------------------------- exact check
def parse_exact_steps(text: str) -> list[int]:
    """'10,25,50' -> [10, 25, 50] (sorted, unique, >= 1) or a one-line UserError."""
    try:
        steps = sorted({int(s) for s in str(text).split(",") if s.strip()})
    except ValueError:
        raise UserError(f"--exact-steps: expected comma-separated integers, got "
                        f"{text!r}") from None
    if not steps or steps[0] < 1:
        raise UserError(f"--exact-steps: expected integers >= 1, got {text!r}")
    return steps


def load_score_table(path: str | Path, score: str) -> pd.DataFrame:
    """index + score from a ranking CSV (an ``index`` column, or an ``arch`` column)."""
    from nasi.space import parse_arch

    try:
        df = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise UserError(f"--exact-from: cannot read {path} as CSV: {exc}") from None
    if score not in df.columns:
        raise UserError(f"--exact-from: {path} has no column {score!r} (columns: "
                        f"{', '.join(map(str, df.columns))}); pick one with --exact-score")
    if "index" in df.columns:
        idx = df["index"].astype(int).to_numpy()
    elif "arch" in df.columns:
        idx = np.array([parse_arch(a).index for a in df["arch"]])
    else:
        raise UserError(f"--exact-from: {path} needs an 'index' or 'arch' column")
    out = pd.DataFrame({"index": idx, "score": pd.to_numeric(df[score], errors="coerce")})
    out = out.dropna().drop_duplicates("index")
    if out.empty:
        raise UserError(f"--exact-from: no numeric {score!r} values in {path}")
    return out


def exact_check(opts, cfg, results, truth) -> dict:
    from nasi.search import aggregate, decode, edge_agreement, exact_gradient

    tab = load_score_table(opts.exact_from, opts.exact_score)
    eg = exact_gradient(tab["index"].to_numpy(), tab["score"].to_numpy(), cfg.mu, cfg.nu,
                        cfg.nu_mode, cfg.nu_quantile, scale=cfg.scale)
    steps = [s for s in parse_exact_steps(opts.exact_steps) if s <= cfg.steps] or [cfg.steps]
    rows = []
    for T in steps:
        edge, full = [], []
        for r in results:
            tr = {k: v[:T] for k, v in r.trace.items()}
            agg = aggregate(tr, cfg.mu, cfg.nu, cfg.nu_mode, cfg.tau, cfg.nu_quantile,
                            cfg.ada_warmup, cfg.xi, cfg.scale, cfg.estimator)
            found = decode(agg.delta)
            edge.append(edge_agreement(found, eg.arch))
            full.append(float(found == eg.arch))
        rows.append({"T": T, "edge_agreement_mean": float(np.mean(edge)),
                     "edge_agreement_std": float(np.std(edge)),
                     "arch_agreement": float(np.mean(full)), "n_seeds": len(results)})
    return {
        "table": str(opts.exact_from), "score": opts.exact_score, "n_archs": eg.n,
        "complete": len(tab) == 15625, "mu": cfg.mu, "scale": cfg.scale, "nu_mode": cfg.nu_mode,
        "nu_used": eg.nu, "mean_reward": eg.mean_reward,
        "gradient": eg.grad.tolist(), "arch": eg.arch.string, "index": eg.arch.index,
        **{c: accuracy(truth, eg.arch.index, c) for c in EVAL_COLUMNS},
        "agreement": rows,
        "note": ("the search's reward is measured on the supernet (shared weights drawn once "
                 "per seed) with a fresh batch per step; the table holds standalone-network "
                 "scores (weights per architecture, one fixed batch). Under nu-mode fix the "
                 "same nu is applied to both scales; under ada the quantile is applied to the "
                 "table's own score distribution."),
    }


# ------------------------------------------------------------------------------- main
def _record(job, res, rb, truth) -> dict:
    """The summary record of one search (accuracies looked up in ``truth``)."""
    cfg = job.cfg
    rec = {"seed": cfg.seed, "group": job.group, "method": "nasi",
           "search_dataset": cfg.dataset, "data": cfg.data, "labels": cfg.labels,
           "arch": res.arch.string, "index": res.index, "seconds": round(res.seconds, 3),
           **{c: accuracy(truth, res.index, c) for c in EVAL_COLUMNS},
           "connected_steps": int(sum(s["connected"] for s in res.steps)),
           "final_nu": res.steps[-1]["nu"] if res.steps else None}
    if rb is not None:
        rec["random_baseline"] = {
            **rb, "seconds": round(rb["seconds"], 3),
            **{c: accuracy(truth, rb["index"], c) for c in EVAL_COLUMNS},
            **{f"max_score_{c}": accuracy(truth, rb["index_max_score"], c)
               for c in EVAL_COLUMNS}}
    return rec


def run(opts, groups: list[dict], configure) -> int:
    """The NASI flow; ``configure(**over)`` gives the SearchConfig of the options."""
    from benchmarks import load_benchmark
    from harness.progress import READING_BENCHMARK, ProgressCallback
    from harness.searching.jobs import SearchJob
    from nasi.device import resolve_device

    base = configure()
    device = resolve_device(opts.device)
    out = prepare_out_dir(opts.out)
    runs_dir = prepare_out_dir(out / "runs", "runs folder")
    truth = load_benchmark(None if opts.benchmark == "embedded" else opts.benchmark,
                           progress=ProgressCallback(READING_BENCHMARK, not opts.quiet,
                                                     unit="records"))
    seeds = list(range(opts.seed_start, opts.seed_start + opts.seeds))
    t_start = time.monotonic()
    jobs = [SearchJob(g["name"], configure(dataset=g["dataset"], data=g["data"],
                                           labels=g["labels"], seed=seed), opts.random_baseline)
            for g in groups for seed in seeds]
    if not opts.quiet:
        c = jobs[0].cfg
        print(f"{len(jobs)} NASI search(es) (T={c.steps}, b={c.batch_size}, C={c.C}, N={c.N}; "
              f"groups {', '.join(g['name'] for g in groups)}; seeds {seeds[0]}..{seeds[-1]}; "
              f"{opts.workers} worker(s), executor {opts.executor}) ...", flush=True)
    done = run_all(
        jobs, opts, device,
        load=lambda job: search_store.load(runs_dir, job.group, job.cfg, str(device),
                                           opts.random_baseline),
        record=lambda job, res, rb: _record(job, res, rb, truth),
        save=lambda job, rec, res: search_store.save(runs_dir, job.group, rec, res))
    config = {**base.as_dict(), "method": "nasi", "seed": None, "seeds": seeds,
              "groups": [{k: g[k] for k in ("name", "dataset", "data", "labels")}
                         for g in groups],
              "device": str(device), "threads": opts.threads, "workers": opts.workers,
              "executor": opts.executor, "benchmark": opts.benchmark,
              "random_baseline": opts.random_baseline, "exact_from": opts.exact_from}
    summary = summary_of(config, group_results(groups, seeds, done, opts.random_baseline),
                         truth, device, time.monotonic() - t_start)
    if opts.exact_from:
        main_results = [done[(groups[0]["name"], seed)][1] for seed in seeds]
        first = configure(dataset=groups[0]["dataset"], data=groups[0]["data"],
                          labels=groups[0]["labels"])
        summary = replace(summary, exact=exact_check(opts, first, main_results, truth))
    publish(out, summary, render_report, opts.quiet)
    return 0


# ------------------------------------------------------------------------------- report
def _setup(cfg: dict) -> str:
    return (f"T={cfg['steps']}, b={cfg['batch_size']}, supernet C={cfg['C']} N={cfg['N']} "
            f"(bn={cfg['bn']}), tau={cfg['tau']}, mu={cfg['mu']}, reward on "
            f"{'log s' if cfg['scale'] == 'log' else 's'}, "
            + (f"NASI-ADA (nu_t = q{cfg['nu_quantile']} of the sampled scores, initial nu "
               f"{cfg['nu']})" if cfg["nu_mode"] == "ada" else f"NASI-FIX (nu={cfg['nu']})")
            + (f", straight-through '{cfg['st']}' (Algorithm 1: the NASI replication)"
               if cfg["estimator"] == "st" else ", REINFORCE estimator (ours)")
            + (f", supernet weights redrawn every {cfg['redraw_every']} steps (ours)"
               if cfg.get("redraw_every") else ", one supernet draw per search"))


def _exact_section(ex: dict) -> list[str]:
    lines = ["", "## Exact check", "",
             f"Exact expected-reward gradient at alpha = 0 from `{ex['table']}` (column "
             f"`{ex['score']}`, {ex['n_archs']} architectures"
             + ("" if ex["complete"] else "; incomplete table: conditional means over the "
                                          "rows present") + f"), mu={ex['mu']}, "
             f"nu={ex['nu_used']} ({ex['nu_mode']}). Its argmax architecture: "
             f"`{ex['arch']}` (index {ex['index']}): " + " / ".join(
                 f"{COLUMN_TITLES[c]} {ex[c]}" for c in EVAL_COLUMNS) + ".", ""]
    rows = [[r["T"], f"{r['edge_agreement_mean']:.3f} ± {r['edge_agreement_std']:.3f}",
             f"{r['arch_agreement']:.2f}"] for r in ex["agreement"]]
    lines += md_table(["T", "edge agreement (mean ± std over seeds)",
                       "whole-architecture agreement"], rows).split("\n")
    return lines + ["", ex["note"]]


def render_report(summary: dict) -> str:
    rows = []
    for g in summary["groups"]:
        st = g["stats"]
        rows.append([f"Ours (NASI): {g['title']}", f"{fmt(st['seconds'])} s",
                     *[fmt(st[c]) for c in EVAL_COLUMNS]])
        if "random_baseline_stats" in g:
            rb = g["random_baseline_stats"]
            rows.append([f"Random search, equal wall time ({fmt(rb['n_archs'])} archs "
                         f"scored), best penalised reward R", f"{fmt(rb['seconds'])} s",
                         *[fmt(rb[c]) for c in EVAL_COLUMNS]])
            rows.append(["Random search, equal wall time, best plain NASI score",
                         f"{fmt(rb['seconds'])} s",
                         *[fmt(rb[f'max_score_{c}']) for c in EVAL_COLUMNS]])
    lines = report_header(summary, "NASI search on NAS-Bench-201",
                          "supernet build, T steps with fresh batches, aggregation")
    lines += [f"Setup: {_setup(summary['config'])}.", ""]
    lines += results_table(summary, rows) + ["", NASI_SEARCH_NOTE, ""]
    lines += groups_note(summary) + per_seed_table(summary)
    if "exact" in summary:
        lines += _exact_section(summary["exact"])
    lines += ["", f"Total wall time {summary['wall_time_s']:.1f} s.", ""]
    return "\n".join(lines)
