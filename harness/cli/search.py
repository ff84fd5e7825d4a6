"""Search NAS-Bench-201 without training and compare with the published numbers.

    python -m harness.search --seeds 5 --out runs/search            # the default search
    python -m harness.search --method nasi --seeds 5 --out runs/nasi  # the NASI replication

Methods (``--method``):
- ``evolution`` (default): regularized evolution (Real et al., AAAI 2019) over standalone
  benchmark networks, maximising ``--objective`` (default ``synflow+jacob_cov``: the equal-
  weight mean of the two scores' percentile ranks among the evaluated architectures; chosen on
  CIFAR-10 validation accuracy of half of the space, see reports/search/README.md);
- ``random``: random search with the same objective; ``reinforce``: NASI's one-step update
  with a REINFORCE estimate over the same objective (see nasi.blackbox);
- ``nasi``: **the NASI replication**, Algorithm 1 of Shu et al. (ICLR 2022) on a supernet with
  the Gumbel straight-through gradient of NASI's penalised reward (``--estimator reinforce``:
  our unbiased estimator of the same gradient; see nasi.search). Its objective is NASI's
  reward by construction: the gradient is taken through the supernet.

Budgets: ``--evals`` networks scored (default 200) or ``--budget-seconds`` of scoring for the
black-box methods, ``--steps`` T for nasi. For every seed: the architecture found (string and
benchmark index), its ground truth on all three datasets (200-epoch test accuracy, mean over
the benchmark's training seeds: cifar10_test, cifar100_test, imagenet16_test) and the wall
time of the search. Writes OUT/summary.json (per-seed records under ``runs``, mean and std per
dataset under ``stats``, the full config, the environment), OUT/runs/ (one JSON per seed with
the search's log; nasi: a .trace.npz of the raw per-step arrays beside it; black-box: a
.evals.json checkpoint of every network scored, written as the search goes) and OUT/report.md
(published rows, the benchmark's optimum, our search and, with --random-baseline, random
search at equal wall time with the same objective). Each seed's files are written when its
search finishes; the same command run again reuses every stored search with an equal config
and device, and a black-box search interrupted mid-way replays the networks it had already
scored (--no-resume: search them all again).

--transfer: search on CIFAR-10 and evaluate on all three datasets (the NB201 protocol), and
search on CIFAR-100 and ImageNet16-120 directly (Gaussian data unless --data-cifar100 /
--data-imagenet16 give a dataset PATH: no real images of them are embedded).
--agnostic: the standard search, random labels and random (Gaussian) data, as NASI Table 2.
--workers W / --executor ray [--address ADDR]: run the searches (one per group and seed) side
by side in W local processes or as Ray tasks (see harness.searching.jobs); same results.
--exact-from RANKING_CSV (nasi): the exact expected-reward gradient at alpha = 0 from a table
of scores for all architectures (a harness.rank ranking.csv, e.g. of ``harness.rank --width 8
--cells 5 --batch-size 32`` for the default supernet's scale), its argmax architecture, and
how often the stochastic search agrees with it, edge by edge, as T grows.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli import PLUGIN_HELP, Parser
from harness.errors import UserError
from harness.searching.common import SearchOptions, search_groups

DEFAULT_EXACT_STEPS = (10, 25, 50, 100, 200)
METHODS = ("evolution", "random", "reinforce", "nasi")
# Options of one family only; None = not given (the method's own default applies).
NASI_ONLY = ("steps", "mu", "nu", "nu_mode", "nu_quantile", "tau", "scale", "bn", "estimator",
             "st", "redraw_every", "exact_from")
BLACKBOX_ONLY = ("objective", "evals", "budget_seconds", "population", "tournament",
                 "runs_dir", "precision")


def _nasi_options(p: Parser) -> None:
    from nasi.search import SearchConfig
    from nasi.supernet import CELL_BN_KINDS, ST_MODES

    d = SearchConfig()
    g = p.add_argument_group("the NASI replication (--method nasi)")
    g.add_argument("--steps", type=int, help=f"T (default {d.steps})")
    g.add_argument("--mu", type=float, help=f"penalty coefficient (default {d.mu})")
    g.add_argument("--nu", type=float,
                   help="nu: the fixed constraint (fix) or the initial one (ada); default none "
                        "(no constraint under fix; no constraint before the ada warm-up)")
    g.add_argument("--nu-mode", choices=("fix", "ada"),
                   help="NASI-FIX (fixed nu) or NASI-ADA (nu_t = a quantile of the scores "
                        f"sampled so far; see nasi.search) (default {d.nu_mode})")
    g.add_argument("--nu-quantile", type=float,
                   help=f"ada: the quantile q (default {d.nu_quantile})")
    g.add_argument("--tau", type=float, help=f"Gumbel-softmax temperature (default {d.tau})")
    g.add_argument("--scale", choices=("log", "linear"),
                   help="penalised reward on log s (ours, default) or on s (Eq. 14 literally); "
                        "see nasi.search")
    g.add_argument("--bn", choices=CELL_BN_KINDS,
                   help="cell BatchNorm: nb201 (affine, as nasi.network) or batch (affine=False, "
                        f"track_running_stats=False, as NATS-algos) (default {d.bn})")
    g.add_argument("--estimator", choices=("st", "reinforce"),
                   help="st: Algorithm 1's Gumbel straight-through gradient by double backprop "
                        "(default); reinforce: score-function estimate of the same expected-"
                        "reward gradient, one ordinary backward per step (ours; see nasi.search)")
    g.add_argument("--st", choices=ST_MODES,
                   help=f"straight-through estimator (see nasi.supernet) (default {d.st})")
    g.add_argument("--redraw-every", type=int, metavar="K",
                   help="draw the supernet's initial weights anew every K steps (ours; 0: one "
                        f"draw per search, Algorithm 1) (default {d.redraw_every})")
    g.add_argument("--exact-from", metavar="RANKING_CSV",
                   help="table with an index (or arch) column and a score column for the "
                        "exact expected-reward gradient check")
    g.add_argument("--exact-score", default="nasi",
                   help="score column of --exact-from (default nasi)")
    g.add_argument("--exact-steps", default=",".join(map(str, DEFAULT_EXACT_STEPS)),
                   help="T values at which agreement with the exact argmax is reported "
                        "(default 10,25,50,100,200; values above --steps are dropped)")


def _blackbox_options(p: Parser) -> None:
    from nasi.blackbox import BlackBoxConfig

    d = BlackBoxConfig()
    g = p.add_argument_group("black-box searches (--method evolution | random | reinforce)")
    g.add_argument("--objective",
                   help="a registry score or score+score+... (equal-weight percentile ranks "
                        f"among the evaluated architectures; default {d.objective})")
    g.add_argument("--evals", type=int,
                   help=f"budget: networks scored per search (default {d.evals})")
    g.add_argument("--budget-seconds", type=float,
                   help="also stop once scoring has taken this many seconds (wall-time budget; "
                        "default none: the evaluation budget alone, reproducible)")
    g.add_argument("--population", type=int, help=f"evolution: population (default {d.population})")
    g.add_argument("--tournament", type=int,
                   help=f"evolution: tournament sample size (default {d.tournament})")
    g.add_argument("--precision", choices=("fp32", "bf16"),
                   help="of the scored networks: fp32 (default, the reference) or bf16 "
                        "autocast forward (CUDA, or a CPU with AVX512-BF16/AMX-BF16); see "
                        "harness.rank --help")


def build_parser() -> Parser:
    from nasi.data import LABEL_MODES  # with torch, as the method options below
    p = Parser(prog="python -m harness.search", description=__doc__,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--method", default="evolution", choices=METHODS,
                   help="evolution (default), random, reinforce, or nasi (the NASI "
                        "replication, Algorithm 1)")
    p.add_argument("--dataset", default="cifar10",
                   help="dataset to search on: cifar10 | cifar100 | ImageNet16-120 "
                        "(default cifar10)")
    p.add_argument("--seeds", type=int, default=5, help="independent searches (default 5)")
    p.add_argument("--seed-start", type=int, default=0,
                   help="first seed; seeds are seed-start .. seed-start+seeds-1 (default 0)")
    p.add_argument("--batch-size", type=int,
                   help="mini-batch size b (default: 64 for black-box methods, 32 for nasi)")
    p.add_argument("--width", type=int,
                   help="network width C (default: 16, the benchmark's, for black-box methods; "
                        "supernet 8 for nasi)")
    p.add_argument("--cells", type=int, help="cells per stage N (default 5)")
    p.add_argument("--labels", default="true", choices=LABEL_MODES,
                   help="true or uniformly random labels (default true)")
    p.add_argument("--data", default="real",
                   help="real (embedded CIFAR-10 test sample; CIFAR-10 only), gaussian, or a "
                        "dataset PATH (default real)")
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
                   help="also run random search at the same wall time per seed (black-box: "
                        "same objective; nasi: the standalone nasi score and its reward)")
    p.add_argument("--transfer", action="store_true",
                   help="search on CIFAR-10 and transfer, and search on each dataset directly")
    p.add_argument("--agnostic", action="store_true",
                   help="standard, random-label and random-data searches (NASI Table 2)")
    p.add_argument("--out", default="runs/search", help="output folder (default runs/search)")
    p.add_argument("--runs-dir", metavar="DIR",
                   help="black-box methods: where each search's files go (default OUT/runs); "
                        "commands sharing one reuse each other's equal searches")
    p.add_argument("--no-resume", action="store_true",
                   help="search every seed again even if OUT/runs holds an equal finished "
                        "search (default: reuse it, so an interrupted run resumes)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--plugin", action="append", default=[], metavar="MODULE", help=PLUGIN_HELP)
    _blackbox_options(p)
    _nasi_options(p)
    return p


# ------------------------------------------------------------------------------- configs
def _given(args, names) -> dict:
    return {n: getattr(args, n) for n in names if getattr(args, n) is not None}


def _shared_config(args) -> dict:
    """The config fields both families take from the shared options."""
    kw = dict(dataset=args.dataset, labels=args.labels, data=args.data, seed=args.seed_start,
              **_given(args, ("batch_size",)))
    if args.width is not None:
        kw["C"] = args.width
    if args.cells is not None:
        kw["N"] = args.cells
    return kw


def _nasi_config(args, **over):
    from nasi.search import SearchConfig, SearchError

    kw = {k: v for k, v in _given(args, NASI_ONLY).items() if k != "exact_from"}
    try:
        return SearchConfig(**{**kw, **_shared_config(args), **over})
    except SearchError as exc:
        raise UserError(str(exc)) from None


def _blackbox_config(args, **over):
    from nasi.blackbox import BlackBoxConfig
    from nasi.objective import ObjectiveError

    kw = {k: v for k, v in _given(args, BLACKBOX_ONLY).items()
          if k not in ("budget_seconds", "runs_dir")}
    kw.update(method=args.method, seconds=args.budget_seconds)
    try:
        return BlackBoxConfig(**{**kw, **_shared_config(args), **over})
    except (ObjectiveError, ValueError) as exc:
        raise UserError(str(exc)) from None


def _check_args(args) -> list[dict]:
    """Every option checked before any work; returns the search groups."""
    from harness.searching.nasi_flow import parse_exact_steps

    parse_exact_steps(args.exact_steps)  # checked whatever the method: it may be a typo
    if args.method != "nasi" and args.exact_steps != build_parser().get_default("exact_steps"):
        raise UserError(f"--exact-steps does not apply to --method {args.method}")
    for name, low in (("seeds", 1), ("seed_start", 0), ("threads", 1), ("workers", 1)):
        if getattr(args, name) < low:
            raise UserError(f"--{name.replace('_', '-')} must be >= {low}, got "
                            f"{getattr(args, name)}")
    if args.executor != "ray" and args.address:
        raise UserError("--address only applies with --executor ray")
    if args.executor == "ray" and args.workers != 1:
        raise UserError("--workers only applies with --executor local (Ray runs one task per "
                        "search)")
    wrong = NASI_ONLY if args.method != "nasi" else BLACKBOX_ONLY
    for name in wrong:
        if getattr(args, name) is not None:
            raise UserError(f"--{name.replace('_', '-')} does not apply to --method "
                            f"{args.method}")
    if args.precision is not None and args.method != "nasi":
        from nasi.device import resolve_device
        from nasi.precision import check_precision

        check_precision(args.precision, False, resolve_device(args.device))
    groups = search_groups(args.dataset, args.data, args.labels, args.transfer, args.agnostic,
                           args.data_cifar100, args.data_imagenet16)
    for g in groups:
        if g["data"] == "real" and g["dataset"] != "cifar10":
            raise UserError(f"data 'real' is the embedded CIFAR-10 sample; for {g['dataset']} "
                            "use --data gaussian or a dataset PATH")
        if g["data"] not in ("real", "gaussian") and not Path(g["data"]).exists():
            raise UserError(f"data path {g['data']} does not exist")
        configure = _nasi_config if args.method == "nasi" else _blackbox_config
        configure(args, dataset=g["dataset"], data=g["data"], labels=g["labels"])
    if args.method == "nasi":
        if args.exact_from and not Path(args.exact_from).is_file():
            raise UserError(f"--exact-from: {args.exact_from} is not a file")
    return groups


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from nasi.scores.plugins import load_plugins

    load_plugins(args.plugin)  # before the objective's score names are checked
    groups = _check_args(args)
    opts = SearchOptions(**{name: getattr(args, name) for name in SearchOptions.field_names()})
    if args.method == "nasi":
        from harness.searching import nasi_flow

        return nasi_flow.run(opts, groups, lambda **over: _nasi_config(args, **over))
    from harness.searching import blackbox_flow

    return blackbox_flow.run(opts, groups, lambda **over: _blackbox_config(args, **over))
