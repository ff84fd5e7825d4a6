"""The black-box flow of ``python -m harness.search`` (``--method evolution | random |
reinforce``): one search per (group, seed) over standalone benchmark networks, resumable per
seed and per network scored, reported beside the published rows (see ``harness.search``)."""

from __future__ import annotations

import time

from nasi.objective import Objective

from . import search_store
from .outputs import prepare_out_dir
from .search_common import EVAL_COLUMNS, PAPER_SOURCE, accuracy, fmt, jsonable
from .search_driver import (
    group_results,
    groups_note,
    per_seed_table,
    publish,
    report_header,
    results_table,
    run_all,
    summary_of,
)

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


def run(args, groups: list[dict], configure) -> int:
    """The black-box flow; ``configure(**over)`` gives the BlackBoxConfig of the options."""
    from benchmarks import load_benchmark
    from nasi.device import resolve_device

    from .search_jobs import SearchJob

    base = configure()
    device = resolve_device(args.device)
    out = prepare_out_dir(args.out)
    runs_dir = prepare_out_dir(args.runs_dir or out / "runs", "runs folder")
    truth = load_benchmark(None if args.benchmark == "embedded" else args.benchmark)
    seeds = list(range(args.seed_start, args.seed_start + args.seeds))
    t_start = time.monotonic()
    jobs = []
    for g in groups:
        for seed in seeds:
            cfg = configure(dataset=g["dataset"], data=g["data"], labels=g["labels"], seed=seed)
            jobs.append(SearchJob(g["name"], cfg, args.random_baseline,
                                  str(search_store.checkpoint_path(runs_dir, cfg))))
    if not args.quiet:
        print(f"{len(jobs)} {METHOD_TITLES[base.method]} search(es) (objective "
              f"{base.objective}, {base.evals} evaluations, C={base.C} N={base.N} "
              f"b={base.batch_size}; groups {', '.join(g['name'] for g in groups)}; seeds "
              f"{seeds[0]}..{seeds[-1]}; {args.workers} worker(s), executor {args.executor}) "
              "...", flush=True)
    if args.no_resume:  # a fresh search must not replay an old checkpoint later
        for job in jobs:
            search_store.checkpoint_path(runs_dir, job.cfg).unlink(missing_ok=True)
    done = run_all(
        jobs, args, device,
        load=lambda job: search_store.load_blackbox(runs_dir, job.cfg, str(device),
                                                    args.random_baseline),
        record=lambda job, res, rb: _record(job, res, rb, truth),
        save=lambda job, rec, res: search_store.save_blackbox(runs_dir, rec, res, jsonable))
    config = {**base.as_dict(), "seed": None, "seeds": seeds,
              "objective_description": Objective.parse(base.objective).describe(),
              "groups": [{k: g[k] for k in ("name", "dataset", "data", "labels")}
                         for g in groups],
              "device": str(device), "threads": args.threads, "workers": args.workers,
              "executor": args.executor, "benchmark": args.benchmark,
              "random_baseline": args.random_baseline}
    summary = summary_of(config, group_results(groups, seeds, done, args.random_baseline),
                         truth, device, time.monotonic() - t_start)
    publish(out, summary, render_report, args.quiet)
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
            "one network per isomorphism class")


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
    lines += results_table(summary, rows) + ["", PAPER_SOURCE, ""]
    lines += groups_note(summary) + per_seed_table(summary)
    lines += ["", f"Total wall time {summary['wall_time_s']:.1f} s.", ""]
    return "\n".join(lines)
