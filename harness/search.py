"""Run NASI's search (Algorithm 1) on NAS-Bench-201 and compare with the published numbers.

    python -m harness.search --dataset cifar10 --seeds 5 --steps 100 --out runs/search

For every seed: the architecture found (string and benchmark index), its ground truth on all
three datasets (200-epoch test accuracy, mean over the benchmark's training seeds:
cifar10_test, cifar100_test, imagenet16_test) and the wall time of the search. Writes
OUT/summary.json (per-seed records under ``runs``, mean and std per dataset under ``stats``, the
full config, the environment), OUT/runs/<group>-seed<k>.json (alpha*, Delta, the per-step
log) with <group>-seed<k>.trace.npz (the raw per-step arrays), and OUT/report.md (the paper's
NASI(T)/NASI(4T) rows, the optimum computed from the table, our search and, with
--random-baseline, random search at equal wall time, side by side). Each seed's files are
written when its search finishes; the same command run again reuses every stored search with
an equal config and device (--no-resume: search them all).

--transfer: search on CIFAR-10 and evaluate on all three datasets (the NB201 protocol), and
search on CIFAR-100 and ImageNet16-120 directly (Gaussian data unless --data-cifar100 /
--data-imagenet16 give a dataset PATH: no real images of them are embedded).
--agnostic: the standard search, random labels and random (Gaussian) data, as NASI Table 2.
--workers W / --executor ray [--address ADDR]: run the searches (one per group and seed) side
by side in W local processes or as Ray tasks (see harness.search_jobs); same results.
--exact-from RANKING_CSV: the exact expected-reward gradient at alpha = 0 from a table of
scores for all architectures (a harness.rank ranking.csv, e.g. of ``harness.rank --width 8
--cells 5 --batch-size 32`` for the default supernet's scale), its argmax architecture, and
how often the stochastic search agrees with it, edge by edge, as T grows.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from nasi.datasets import DATASETS, get_dataset

from . import search_store
from .cli import Parser, UserError, run
from .outputs import prepare_out_dir, write_atomic

EVAL_COLUMNS = ("cifar10_test", "cifar100_test", "imagenet16_test")
COLUMN_TITLES = {"cifar10_test": "CIFAR-10 test", "cifar100_test": "CIFAR-100 test",
                 "imagenet16_test": "ImageNet16-120 test"}

# [S]: Causal-Znas Table 2 quoting NASI (docs: nasi-method.md section 2.1); 1080Ti GPU seconds.
PAPER_ROWS = (
    {"method": "NASI (T) [S]", "cost": "30 GPU-s (1080Ti)",
     "cifar10_test": (93.08, 0.24), "cifar100_test": (69.51, 0.59),
     "imagenet16_test": (40.87, 0.85)},
    {"method": "NASI (4T) [S]", "cost": "120 GPU-s (1080Ti)",
     "cifar10_test": (93.55, 0.10), "cifar100_test": (71.20, 0.14),
     "imagenet16_test": (44.84, 1.41)},
)
PAPER_SOURCE = ("[S]: secondary source, Causal-Znas Table 2 quoting NASI (also on the "
                "PapersWithCode NATS-Bench-Topology leaderboard); whether NASI searched on "
                "CIFAR-10 and transferred is not confirmed; search cost on one 1080Ti GPU.")
DEFAULT_EXACT_STEPS = (10, 25, 50, 100, 200)


def build_parser() -> Parser:
    from nasi.search import SearchConfig
    from nasi.supernet import BN_MODES, ST_MODES

    d = SearchConfig()
    p = Parser(prog="python -m harness.search", description=__doc__,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default=d.dataset,
                   help="dataset to search on: cifar10 | cifar100 | ImageNet16-120 "
                        f"(default {d.dataset})")
    p.add_argument("--seeds", type=int, default=5, help="independent searches (default 5)")
    p.add_argument("--seed-start", type=int, default=0,
                   help="first seed; seeds are seed-start .. seed-start+seeds-1 (default 0)")
    p.add_argument("--steps", type=int, default=d.steps, help=f"T (default {d.steps})")
    p.add_argument("--mu", type=float, default=d.mu, help=f"penalty coefficient (default {d.mu})")
    p.add_argument("--nu", type=float, default=d.nu,
                   help="nu: the fixed constraint (fix) or the initial one (ada); default none "
                        "(no constraint under fix; no constraint before the ada warm-up)")
    p.add_argument("--nu-mode", default=d.nu_mode, choices=("fix", "ada"),
                   help="NASI-FIX (fixed nu) or NASI-ADA (nu_t = a quantile of the scores "
                        f"sampled so far; see nasi.search) (default {d.nu_mode})")
    p.add_argument("--nu-quantile", type=float, default=d.nu_quantile,
                   help=f"ada: the quantile q (default {d.nu_quantile})")
    p.add_argument("--tau", type=float, default=d.tau,
                   help=f"Gumbel-softmax temperature (default {d.tau})")
    p.add_argument("--scale", default=d.scale, choices=("log", "linear"),
                   help="penalised reward on log s (ours, default) or on s (Eq. 14 literally); "
                        "see nasi.search")
    p.add_argument("--batch-size", type=int, default=d.batch_size,
                   help=f"mini-batch size b (default {d.batch_size})")
    p.add_argument("--width", type=int, default=d.C, help=f"supernet width C (default {d.C})")
    p.add_argument("--cells", type=int, default=d.N,
                   help=f"supernet cells per stage N (default {d.N})")
    p.add_argument("--bn", default=d.bn, choices=BN_MODES,
                   help="cell BatchNorm: nb201 (affine, as nasi.network) or batch (affine=False, "
                        f"track_running_stats=False, as NATS-algos) (default {d.bn})")
    p.add_argument("--estimator", default=d.estimator, choices=("st", "reinforce"),
                   help="st: Algorithm 1's Gumbel straight-through gradient by double backprop "
                        "(default); reinforce: score-function estimate of the same expected-"
                        "reward gradient, one ordinary backward per step (ours; see nasi.search)")
    p.add_argument("--st", default=d.st, choices=ST_MODES,
                   help=f"straight-through estimator (see nasi.supernet) (default {d.st})")
    p.add_argument("--redraw-every", type=int, default=d.redraw_every, metavar="K",
                   help="draw the supernet's initial weights anew every K steps (ours; 0: one "
                        f"draw per search, Algorithm 1) (default {d.redraw_every})")
    p.add_argument("--labels", default=d.labels, choices=("true", "random"),
                   help=f"true or uniformly random labels (default {d.labels})")
    p.add_argument("--data", default=d.data,
                   help="real (embedded CIFAR-10 test sample; CIFAR-10 only), gaussian, or a "
                        f"dataset PATH (default {d.data})")
    p.add_argument("--data-cifar100", default="gaussian",
                   help="--transfer: data for the direct CIFAR-100 search (default gaussian)")
    p.add_argument("--data-imagenet16", default="gaussian",
                   help="--transfer: data for the direct ImageNet16-120 search (default gaussian)")
    p.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda")
    p.add_argument("--threads", type=int, default=1,
                   help="CPU intra-op threads (default 1: on a shared 2-core CPU two threads "
                        "were measured up to 30x slower for the double backward)")
    p.add_argument("--workers", type=int, default=1,
                   help="searches run side by side in this many local processes (each with "
                        "--threads threads; default 1: one after another in this process)")
    p.add_argument("--executor", default="local", choices=("local", "ray"),
                   help="local (default) or ray: one Ray task per search (needs `pip install "
                        "nasi-harness[ray]`)")
    p.add_argument("--address", help="with --executor ray: the cluster (default: start a "
                                     "local one)")
    p.add_argument("--benchmark", default="embedded",
                   help="ground truth: embedded (default), a NATS-Bench tss folder or NB201 .pth")
    p.add_argument("--random-baseline", action="store_true",
                   help="also run random search at the same wall time per seed")
    p.add_argument("--transfer", action="store_true",
                   help="search on CIFAR-10 and transfer, and search on each dataset directly")
    p.add_argument("--agnostic", action="store_true",
                   help="standard, random-label and random-data searches (NASI Table 2)")
    p.add_argument("--exact-from", metavar="RANKING_CSV",
                   help="table with an index (or arch) column and a score column for the "
                        "exact expected-reward gradient check")
    p.add_argument("--exact-score", default="nasi",
                   help="score column of --exact-from (default nasi)")
    p.add_argument("--exact-steps", default=",".join(map(str, DEFAULT_EXACT_STEPS)),
                   help="T values at which agreement with the exact argmax is reported "
                        "(default 10,25,50,100,200; values above --steps are dropped)")
    p.add_argument("--out", default="runs/search", help="output folder (default runs/search)")
    p.add_argument("--no-resume", action="store_true",
                   help="search every seed again even if OUT/runs holds an equal finished "
                        "search (default: reuse it, so an interrupted run resumes)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    return p


# ------------------------------------------------------------------------------- helpers
def _config(args, **over):
    from nasi.search import SearchConfig, SearchError

    kw = dict(dataset=args.dataset, steps=args.steps, batch_size=args.batch_size, mu=args.mu,
              nu=args.nu, nu_mode=args.nu_mode, nu_quantile=args.nu_quantile, tau=args.tau,
              scale=args.scale, estimator=args.estimator, redraw_every=args.redraw_every,
              C=args.width, N=args.cells, bn=args.bn, st=args.st, labels=args.labels,
              data=args.data, seed=args.seed_start)
    kw.update(over)
    try:
        return SearchConfig(**kw)
    except SearchError as exc:
        raise UserError(str(exc)) from None


def _groups(args) -> list[dict]:
    ds = get_dataset(args.dataset).name
    if args.transfer and args.agnostic:
        raise UserError("use either --transfer or --agnostic, not both")
    if args.transfer:
        if ds != "cifar10":
            raise UserError("--transfer searches on cifar10 and on each dataset directly; "
                            "leave --dataset at cifar10")
        return [
            {"name": "cifar10", "title": f"searched on CIFAR-10 (data={args.data}), "
                                         "evaluated on all three (transfer)",
             "dataset": "cifar10", "data": args.data, "labels": args.labels},
            {"name": "cifar100-direct", "title": f"searched on CIFAR-100 directly "
                                                 f"(data={args.data_cifar100})",
             "dataset": "cifar100", "data": args.data_cifar100, "labels": args.labels},
            {"name": "imagenet16-direct", "title": f"searched on ImageNet16-120 directly "
                                                   f"(data={args.data_imagenet16})",
             "dataset": "ImageNet16-120", "data": args.data_imagenet16,
             "labels": args.labels},
        ]
    if args.agnostic:
        return [
            {"name": "standard", "title": f"standard (true labels, data={args.data})",
             "dataset": ds, "data": args.data, "labels": "true"},
            {"name": "random-label", "title": f"random labels (data={args.data})",
             "dataset": ds, "data": args.data, "labels": "random"},
            {"name": "random-data", "title": "random data (Gaussian inputs, random labels)",
             "dataset": ds, "data": "gaussian", "labels": "random"},
        ]
    return [{"name": "search", "title": f"searched on {ds} (data={args.data}, "
                                        f"labels={args.labels})",
             "dataset": ds, "data": args.data, "labels": args.labels}]


def _check_args(args) -> None:
    if args.seeds < 1:
        raise UserError(f"--seeds must be >= 1, got {args.seeds}")
    if args.seed_start < 0:
        raise UserError(f"--seed-start must be >= 0, got {args.seed_start}")
    if args.threads < 1:
        raise UserError(f"--threads must be >= 1, got {args.threads}")
    if args.workers < 1:
        raise UserError(f"--workers must be >= 1, got {args.workers}")
    if args.executor != "ray" and args.address:
        raise UserError("--address only applies with --executor ray")
    if args.executor == "ray" and args.workers != 1:
        raise UserError("--workers only applies with --executor local (Ray runs one task per "
                        "search)")
    for g in _groups(args):
        if g["data"] == "real" and g["dataset"] != "cifar10":
            raise UserError(f"data 'real' is the embedded CIFAR-10 sample; for {g['dataset']} "
                            "use --data gaussian or a dataset PATH")
        if g["data"] not in ("real", "gaussian") and not Path(g["data"]).exists():
            raise UserError(f"data path {g['data']} does not exist")
    if args.exact_from and not Path(args.exact_from).is_file():
        raise UserError(f"--exact-from: {args.exact_from} is not a file")


def _stats(values) -> dict:
    v = np.asarray([x for x in values if x is not None and not math.isnan(x)], dtype=float)
    if len(v) == 0:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": round(float(v.mean()), 4), "std": round(float(v.std()), 4), "n": len(v)}


def _fmt(st: dict) -> str:
    if not st or st.get("mean") is None:
        return "–"
    return f"{st['mean']:.2f} ± {st['std']:.2f}"


def _jsonable(obj):
    if isinstance(obj, float):
        return None if not math.isfinite(obj) else obj
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    return obj


# ------------------------------------------------------------------------------- exact check
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


def exact_check(args, cfg, results, table, truth) -> dict:
    from nasi.search import aggregate, edge_agreement, exact_gradient
    from nasi.supernet import arch_of

    tab = load_score_table(args.exact_from, args.exact_score)
    eg = exact_gradient(tab["index"].to_numpy(), tab["score"].to_numpy(), cfg.mu, cfg.nu,
                        cfg.nu_mode, cfg.nu_quantile, scale=cfg.scale)
    try:
        steps = sorted({int(s) for s in str(args.exact_steps).split(",") if s.strip()})
    except ValueError:
        raise UserError(f"--exact-steps: expected comma-separated integers, got "
                        f"{args.exact_steps!r}") from None
    steps = [s for s in steps if 1 <= s <= cfg.steps] or [cfg.steps]
    rows = []
    for T in steps:
        edge, full = [], []
        for r in results:
            tr = {k: v[:T] for k, v in r.trace.items()}
            agg = aggregate(tr, cfg.mu, cfg.nu, cfg.nu_mode, cfg.tau, cfg.nu_quantile,
                            cfg.ada_warmup, cfg.xi, cfg.scale, cfg.estimator)
            found = arch_of(agg.delta.argmax(-1))
            edge.append(edge_agreement(found, eg.arch))
            full.append(float(found == eg.arch))
        rows.append({"T": T, "edge_agreement_mean": float(np.mean(edge)),
                     "edge_agreement_std": float(np.std(edge)),
                     "arch_agreement": float(np.mean(full)), "n_seeds": len(results)})
    return {
        "table": str(args.exact_from), "score": args.exact_score, "n_archs": eg.n,
        "complete": len(tab) == 15625, "mu": cfg.mu, "scale": cfg.scale, "nu_mode": cfg.nu_mode,
        "nu_used": eg.nu, "mean_reward": eg.mean_reward,
        "gradient": eg.grad.tolist(), "arch": eg.arch.string, "index": eg.arch.index,
        **{c: _acc(truth, eg.arch.index, c) for c in EVAL_COLUMNS},
        "agreement": rows,
        "note": ("the search's reward is measured on the supernet (shared weights drawn once "
                 "per seed) with a fresh batch per step; the table holds standalone-network "
                 "scores (weights per architecture, one fixed batch). Under nu-mode fix the "
                 "same nu is applied to both scales; under ada the quantile is applied to the "
                 "table's own score distribution."),
    }


def _acc(truth: pd.DataFrame, index: int, col: str):
    if col not in truth.columns:
        return None
    v = truth.loc[index, col]
    return None if pd.isna(v) else round(float(v), 4)


# ------------------------------------------------------------------------------- main
def _record(job, res, rb, truth) -> dict:
    """The summary record of one search (accuracies looked up in ``truth``)."""
    cfg = job.cfg
    rec = {"seed": cfg.seed, "group": job.group, "search_dataset": cfg.dataset,
           "data": cfg.data, "labels": cfg.labels, "arch": res.arch.string,
           "index": res.index, "seconds": round(res.seconds, 3),
           **{c: _acc(truth, res.index, c) for c in EVAL_COLUMNS},
           "connected_steps": int(sum(s["connected"] for s in res.steps)),
           "final_nu": res.steps[-1]["nu"] if res.steps else None}
    if rb is not None:
        rec["random_baseline"] = {
            **rb, "seconds": round(rb["seconds"], 3),
            **{c: _acc(truth, rb["index"], c) for c in EVAL_COLUMNS},
            **{f"max_score_{c}": _acc(truth, rb["index_max_score"], c)
               for c in EVAL_COLUMNS}}
    return rec


def _print_seed(args, rec: dict, note: str) -> None:
    if not args.quiet:
        accs = " / ".join(f"{rec[c]:.2f}" if rec[c] is not None else "–" for c in EVAL_COLUMNS)
        print(f"[{rec['group']}] seed {rec['seed']}: {rec['arch']} (index {rec['index']}): "
              f"{accs} [{note}]", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _check_args(args)
    from benchmarks import ACCURACY_COLUMNS, load_benchmark
    from nasi.device import resolve_device

    from .environment import environment

    groups = _groups(args)
    base = _config(args)
    for g in groups:  # validate every group's config before any work
        _config(args, dataset=g["dataset"], data=g["data"], labels=g["labels"])
    device = resolve_device(args.device)
    out = prepare_out_dir(args.out)
    prepare_out_dir(out / "runs", "runs folder")
    truth = load_benchmark(None if args.benchmark == "embedded" else args.benchmark)
    seeds = list(range(args.seed_start, args.seed_start + args.seeds))
    t_start = time.monotonic()

    from .search_jobs import SearchJob, run_jobs

    jobs = [SearchJob(g["name"], _config(args, dataset=g["dataset"], data=g["data"],
                                         labels=g["labels"], seed=seed), args.random_baseline)
            for g in groups for seed in seeds]
    if not args.quiet:
        c = jobs[0].cfg
        print(f"{len(jobs)} search(es) (T={c.steps}, b={c.batch_size}, C={c.C}, N={c.N}; "
              f"groups {', '.join(g['name'] for g in groups)}; seeds {seeds[0]}..{seeds[-1]}; "
              f"{args.workers} worker(s), executor {args.executor}) ...", flush=True)
    done: dict[tuple[str, int], tuple[dict, object]] = {}
    todo = []
    for job in jobs:
        stored = None if args.no_resume else search_store.load(
            out / "runs", job.group, job.cfg, str(device), args.random_baseline)
        if stored is None:
            todo.append(job)
        else:
            done[(job.group, job.cfg.seed)] = (_record(job, *stored, truth), stored[0])
            _print_seed(args, done[(job.group, job.cfg.seed)][0], "stored, not rerun")
    for job, res, rb in run_jobs(todo, str(device), args.threads, args.workers, args.executor,
                                 args.address):
        rec = _record(job, res, rb, truth)
        done[(job.group, job.cfg.seed)] = (rec, res)
        search_store.save(out / "runs", job.group, rec, res, _jsonable)
        _print_seed(args, rec, f"{rec['seconds']:.1f} s")

    all_groups = []
    main_results = [done[(groups[0]["name"], seed)][1] for seed in seeds]
    for g in groups:
        runs = [done[(g["name"], seed)][0] for seed in seeds]
        stats = {c: _stats([r[c] for r in runs]) for c in EVAL_COLUMNS}
        stats["seconds"] = _stats([r["seconds"] for r in runs])
        gout = {**g, "runs": runs, "stats": stats}
        if args.random_baseline:
            gout["random_baseline_stats"] = {
                **{c: _stats([r["random_baseline"][c] for r in runs]) for c in EVAL_COLUMNS},
                **{f"max_score_{c}": _stats([r["random_baseline"][f"max_score_{c}"]
                                             for r in runs]) for c in EVAL_COLUMNS},
                "n_archs": _stats([r["random_baseline"]["n_archs"] for r in runs]),
                "seconds": _stats([r["random_baseline"]["seconds"] for r in runs])}
        all_groups.append(gout)

    optimum = {}
    for c in EVAL_COLUMNS:
        if c in truth.columns:
            i = int(truth[c].idxmax())
            optimum[c] = {"value": round(float(truth[c].max()), 4), "index": i,
                          "arch": truth.loc[i, "arch"]}
    summary = {
        "kind": "nasi-harness.search",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": {**base.as_dict(), "seed": None, "seeds": seeds,
                   "groups": [{k: g[k] for k in ("name", "dataset", "data", "labels")}
                              for g in groups],
                   "device": str(device), "threads": args.threads,
                   "workers": args.workers, "executor": args.executor,
                   "benchmark": args.benchmark, "random_baseline": args.random_baseline,
                   "exact_from": args.exact_from},
        "environment": environment(device),
        "columns": {c: ACCURACY_COLUMNS[c].description for c in EVAL_COLUMNS
                    if c in ACCURACY_COLUMNS},
        "std": "population standard deviation over search seeds (numpy std, ddof=0)",
        "runs": all_groups[0]["runs"],
        "stats": all_groups[0]["stats"],
        "groups": all_groups,
        "paper": [{"method": r["method"], "cost": r["cost"],
                   **{c: {"mean": r[c][0], "std": r[c][1]} for c in EVAL_COLUMNS}}
                  for r in PAPER_ROWS],
        "paper_source": PAPER_SOURCE,
        "optimum": optimum,
        "wall_time_s": round(time.monotonic() - t_start, 3),
    }
    if args.exact_from:
        summary["exact"] = exact_check(args, _config(args, dataset=groups[0]["dataset"],
                                                     data=groups[0]["data"],
                                                     labels=groups[0]["labels"]),
                                       main_results, truth, truth)
    summary = _jsonable(summary)
    write_atomic(out / "summary.json", json.dumps(summary, indent=2, allow_nan=False) + "\n")
    write_atomic(out / "report.md", render_report(summary))
    if not args.quiet:
        st = summary["stats"]
        print(f"{groups[0]['title']}: " + " / ".join(
            f"{COLUMN_TITLES[c]} {_fmt(st[c])}" for c in EVAL_COLUMNS)
            + f"; {_fmt(st['seconds'])} s per search")
        print(f"wrote {out / 'summary.json'} and {out / 'report.md'}")
    return 0


# ------------------------------------------------------------------------------- report
def render_report(summary: dict) -> str:
    cfg, env = summary["config"], summary["environment"]
    seeds = cfg["seeds"]
    dev = f"{env['device_name']}, {cfg['threads']} thread(s)" if env["device"] == "cpu" \
        else env["device_name"]
    setup = (f"T={cfg['steps']}, b={cfg['batch_size']}, supernet C={cfg['C']} N={cfg['N']} "
             f"(bn={cfg['bn']}), tau={cfg['tau']}, mu={cfg['mu']}, reward on "
             f"{'log s' if cfg['scale'] == 'log' else 's'}, "
             + (f"NASI-ADA (nu_t = q{cfg['nu_quantile']} of the sampled scores, initial nu "
                f"{cfg['nu']})" if cfg["nu_mode"] == "ada" else f"NASI-FIX (nu={cfg['nu']})")
             + (f", straight-through '{cfg['st']}'" if cfg["estimator"] == "st"
                else ", REINFORCE estimator (ours)")
             + (f", supernet weights redrawn every {cfg['redraw_every']} steps (ours)"
                if cfg.get("redraw_every") else ", one supernet draw per search"))
    lines = [
        "# NASI search on NAS-Bench-201",
        "",
        f"Created {summary['created']}; {len(seeds)} search seeds ({seeds[0]}..{seeds[-1]}); "
        f"device {dev}; torch {env['torch']}.",
        "",
        "Every accuracy is the benchmark's **200-epoch test accuracy (%), mean over the "
        "benchmark's training seeds**, of the architecture found:",
        "",
    ]
    for c, desc in summary["columns"].items():
        lines.append(f"- `{c}`: {desc}")
    lines += ["", f"Ours: mean ± std over search seeds ({summary['std']}). Search cost: "
                  "wall-clock seconds per search on the device above (supernet build, T "
                  "steps with fresh batches, aggregation).", ""]

    def table(rows_extra: list[list[str]]) -> list[str]:
        head = ["Method", "Search cost", *[COLUMN_TITLES[c] for c in EVAL_COLUMNS]]
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in summary["paper"]:
            out.append("| " + " | ".join([r["method"], r["cost"], *[
                f"{r[c]['mean']:.2f} ± {r[c]['std']:.2f}" for c in EVAL_COLUMNS]]) + " |")
        opt = summary["optimum"]
        out.append("| Optimum (max over the table) | – | " + " | ".join(
            f"{opt[c]['value']:.2f} (index {opt[c]['index']})" if c in opt else "–"
            for c in EVAL_COLUMNS) + " |")
        out += ["| " + " | ".join(r) + " |" for r in rows_extra]
        return out

    rows = []
    for g in summary["groups"]:
        st = g["stats"]
        rows.append([f"Ours: {g['title']}", f"{_fmt(st['seconds'])} s",
                     *[_fmt(st[c]) for c in EVAL_COLUMNS]])
        if "random_baseline_stats" in g:
            rb = g["random_baseline_stats"]
            rows.append([f"Random search, equal wall time ({_fmt(rb['n_archs'])} archs "
                         f"scored), best penalised reward R", f"{_fmt(rb['seconds'])} s",
                         *[_fmt(rb[c]) for c in EVAL_COLUMNS]])
            rows.append(["Random search, equal wall time, best plain NASI score",
                         f"{_fmt(rb['seconds'])} s",
                         *[_fmt(rb[f'max_score_{c}']) for c in EVAL_COLUMNS]])
    lines += [f"Setup: {setup}.", ""] + table(rows) + ["", PAPER_SOURCE, ""]
    if len(summary["groups"]) > 1:
        lines += ["Rows 'Ours' differ in the dataset searched on, its data and labels; each is "
                  "evaluated on all three datasets. CIFAR-100 and ImageNet16-120 have no "
                  "embedded real images: a direct search on them uses the data named in the "
                  "row (gaussian = i.i.d. N(0,1) inputs with uniformly random labels).", ""]
    lines += ["## Per-seed results", "",
              "| Group | Seed | Architecture | Index | " + " | ".join(
                  COLUMN_TITLES[c] for c in EVAL_COLUMNS) + " | Seconds |",
              "|---|---|---|---|---|---|---|---|"]
    for g in summary["groups"]:
        for r in g["runs"]:
            lines.append(f"| {g['name']} | {r['seed']} | `{r['arch']}` | {r['index']} | "
                         + " | ".join("–" if r[c] is None else f"{r[c]:.2f}"
                                      for c in EVAL_COLUMNS) + f" | {r['seconds']:.1f} |")
    if "exact" in summary:
        ex = summary["exact"]
        lines += ["", "## Exact check", "",
                  f"Exact expected-reward gradient at alpha = 0 from `{ex['table']}` (column "
                  f"`{ex['score']}`, {ex['n_archs']} architectures"
                  + ("" if ex["complete"] else "; incomplete table: conditional means over the "
                                               "rows present") + f"), mu={ex['mu']}, "
                  f"nu={ex['nu_used']} ({ex['nu_mode']}). Its argmax architecture: "
                  f"`{ex['arch']}` (index {ex['index']}): " + " / ".join(
                      f"{COLUMN_TITLES[c]} {ex[c]}" for c in EVAL_COLUMNS) + ".", "",
                  "| T | edge agreement (mean ± std over seeds) | whole-architecture agreement |",
                  "|---|---|---|"]
        for r in ex["agreement"]:
            lines.append(f"| {r['T']} | {r['edge_agreement_mean']:.3f} ± "
                         f"{r['edge_agreement_std']:.3f} | {r['arch_agreement']:.2f} |")
        lines += ["", ex["note"]]
    lines += ["", f"Total wall time {summary['wall_time_s']:.1f} s.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(run(main))


__all__ = ["DATASETS", "EVAL_COLUMNS", "PAPER_ROWS", "build_parser", "main", "render_report"]
