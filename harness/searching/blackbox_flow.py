"""The black-box flow of ``python -m harness.search`` (``--method evolution | random |
reinforce``): one search per (group, seed) over standalone benchmark networks, resumable per
seed and per network scored, reported beside the published rows (see ``harness.search``)."""

from __future__ import annotations

import time

from benchmarks.published import NASI_SEARCH_NOTE
from harness.provenance import prepare_out_dir
from harness.searching import store as search_store
from harness.searching.common import EVAL_COLUMNS, accuracy, fmt
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
from nasi.objective import Objective

METHOD_TITLES = {"evolution": "regularized evolution", "random": "random search",
                 "reinforce": "one-step REINFORCE"}


def _record(job, res, rb, truth) -> dict:
    cfg = job.cfg
    rec = {"seed": cfg.seed, "group": job.group, "method": cfg.method,
           "objective": cfg.objective, "search_dataset": cfg.dataset, "data": cfg.data,
           "labels": cfg.labels, "arch": res.arch.string, "index": res.index,
           "seconds": round(res.seconds, 3), **{c: accuracy(truth, res.index, c)
                                                for c in EVAL_COLUMNS},
           "evaluations": res.evaluations, "proposals": res.proposals,
           "charged_seconds": round(res.charged_seconds, 3), "fitness": res.fitness}
    if rb is not None:
        rec["random_baseline"] = {**rb, "seconds": round(rb["seconds"], 3),
                                  **{c: accuracy(truth, rb["index"], c) for c in EVAL_COLUMNS}}
    return rec


def run(opts, groups: list[dict], configure) -> int:
    """The black-box flow; ``configure(**over)`` gives the BlackBoxConfig of the options."""
    from benchmarks import load_benchmark
    from harness.progress import READING_BENCHMARK, ProgressCallback
    from harness.searching.jobs import SearchJob
    from nasi.device import resolve_device

    base = configure()
    device = resolve_device(opts.device)
    out = prepare_out_dir(opts.out)
    runs_dir = prepare_out_dir(opts.runs_dir or out / "runs", "runs folder")
    truth = load_benchmark(None if opts.benchmark == "embedded" else opts.benchmark,
                           progress=ProgressCallback(READING_BENCHMARK, not opts.quiet,
                                                     unit="records"))
    seeds = list(range(opts.seed_start, opts.seed_start + opts.seeds))
    t_start = time.monotonic()
    jobs = []
    for g in groups:
        for seed in seeds:
            cfg = configure(dataset=g["dataset"], data=g["data"], labels=g["labels"], seed=seed)
            jobs.append(SearchJob(g["name"], cfg, opts.random_baseline,
                                  str(search_store.checkpoint_path(runs_dir, cfg))))
    if not opts.quiet:
        print(f"{len(jobs)} {METHOD_TITLES[base.method]} search(es) (objective "
              f"{base.objective}, {base.evals} evaluations, C={base.C} N={base.N} "
              f"b={base.batch_size}; groups {', '.join(g['name'] for g in groups)}; seeds "
              f"{seeds[0]}..{seeds[-1]}; {opts.workers} worker(s), executor {opts.executor}) "
              "...", flush=True)
    if opts.no_resume:  # a fresh search must not replay an old checkpoint later
        for job in jobs:
            search_store.checkpoint_path(runs_dir, job.cfg).unlink(missing_ok=True)
    done = run_all(
        jobs, opts, device,
        load=lambda job: search_store.load_blackbox(runs_dir, job.cfg, str(device),
                                                    opts.random_baseline),
        record=lambda job, res, rb: _record(job, res, rb, truth),
        save=lambda job, rec, res: search_store.save_blackbox(runs_dir, rec, res))
    config = {**base.as_dict(), "seed": None, "seeds": seeds,
              "objective_description": Objective.parse(base.objective).describe(),
              "groups": [{k: g[k] for k in ("name", "dataset", "data", "labels")}
                         for g in groups],
              "device": str(device), "threads": opts.threads, "workers": opts.workers,
              "executor": opts.executor, "benchmark": opts.benchmark,
              "random_baseline": opts.random_baseline}
    summary = summary_of(config, group_results(groups, seeds, done, opts.random_baseline),
                         truth, device, time.monotonic() - t_start)
    publish(out, summary, render_report, opts.quiet)
    return 0


def _setup(cfg: dict) -> str:
    budget = f"{cfg['evals']} networks scored"
    if cfg.get("seconds"):
        budget += f" or {cfg['seconds']} s of scoring, whichever comes first"
    method = METHOD_TITLES[cfg["method"]]
    if cfg["method"] == "evolution":
        method += f" (population {cfg['population']}, tournament {cfg['tournament']})"
    return (f"{method}; objective `{cfg['objective']}`: {cfg['objective_description']}; "
            f"budget {budget}; standalone benchmark networks C={cfg['C']} N={cfg['N']}, "
            f"one batch of b={cfg['batch_size']} per search (seeded by the search seed), "
            "one network per isomorphism class"
            + ("" if cfg.get("precision", "fp32") == "fp32" else
               f", forward in {cfg['precision']} autocast (nasi.precision)"))


def render_report(summary: dict) -> str:
    rows = []
    for g in summary["groups"]:
        st = g["stats"]
        rows.append([f"Ours ({METHOD_TITLES[summary['config']['method']]}): {g['title']}",
                     f"{fmt(st['seconds'])} s, {fmt(st['evaluations'])} nets",
                     *[fmt(st[c]) for c in EVAL_COLUMNS]])
        if "random_baseline_stats" in g:
            rb = g["random_baseline_stats"]
            rows.append(["Random search, same objective, equal wall time",
                         f"{fmt(rb['seconds'])} s, {fmt(rb['n_archs'])} nets",
                         *[fmt(rb[c]) for c in EVAL_COLUMNS]])
    lines = report_header(summary, "Training-free search on NAS-Bench-201",
                          "batch, networks scored, selection")
    lines += [f"Setup: {_setup(summary['config'])}.", ""]
    lines += results_table(summary, rows) + ["", NASI_SEARCH_NOTE, ""]
    lines += groups_note(summary) + per_seed_table(summary)
    lines += ["", f"Total wall time {summary['wall_time_s']:.1f} s.", ""]
    return "\n".join(lines)
