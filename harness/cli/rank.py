"""Score NAS-Bench-201 architectures at initialisation and pair them with ground truth.

    python -m harness.rank --sample 200 --seed 0 --out runs/demo

Writes OUT/ranking.csv (index, arch, iso_key, connected, one column per score, the ground-truth
columns) and OUT/summary.json (config, environment, correlations of every score with every
ground-truth column). Scores are cached in SQLite as they are computed: rerunning, or running
after an interruption, only computes what is missing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli import PLUGIN_HELP, Parser
from harness.errors import UserError
from harness.limits import check_batch_fits, check_seed, is_index_text, read_text_input
from harness.provenance import prepare_out_dir
from harness.reporting.report import write_report
from harness.reporting.runs import write_run
from harness.scoring.executors import make_executor
from harness.scoring.rank import DEFAULT_CACHE, RankRequest, rank
from harness.summary import RunSummary
from nasi.data import LABEL_MODES
from nasi.device import resolve_device
from nasi.precision import PRECISIONS, check_precision
from nasi.scores import available_scores, parse_score_list
from nasi.scores.plugins import load_plugins
from nasi.scoring import BN_STATISTICS_MODES, ScoreConfig
from nasi.space import NUM_ARCHS, SAMPLE_METHOD, parse_arch, sample_indices


def build_parser() -> Parser:
    p = Parser(prog="python -m harness.rank", description=__doc__,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--benchmark", default="embedded",
                   help="ground truth: 'embedded' (shipped table, default), a NATS-Bench tss "
                        "fast_mode folder or an NB201 .pth file")
    p.add_argument("--dataset", default="cifar10",
                   help="cifar10 | cifar100 | ImageNet16-120: network head, input size and data "
                        "(default cifar10)")
    p.add_argument("--score", default="nasi",
                   help="comma-separated score names, e.g. nasi,synflow (default nasi); "
                        "--list-scores shows them all")
    p.add_argument("--list-scores", action="store_true",
                   help="print one line per score (name, cost, what it computes) and exit")
    p.add_argument("--plugin", action="append", default=[], metavar="MODULE", help=PLUGIN_HELP)
    _selection_options(p)
    _score_config_options(p)
    p.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:1")
    p.add_argument("--cache", default=str(DEFAULT_CACHE),
                   help=f"SQLite score cache (default {DEFAULT_CACHE}; env NASI_HARNESS_CACHE)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    p.add_argument("--out", default="runs/rank", help="output folder (default runs/rank)")
    p.add_argument("--report", action="store_true",
                   help="also write OUT/report/report.md with correlations, top-k and plots")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    _scale_out_options(p)
    return p


def _selection_options(p: Parser) -> None:
    sel = p.add_argument_group("which architectures (default: all 15,625)")
    sel.add_argument("--sample", type=int, metavar="N",
                     help="N architectures drawn uniformly without replacement (seeded by --seed)")
    sel.add_argument("--indices", metavar="LIST|FILE",
                     help="comma-separated indices or ranges (0,5,10-20), or a file with one "
                          "index or arch string per line")


def _score_config_options(p: Parser) -> None:
    p.add_argument("--seed", type=int, default=0,
                   help="global seed: mini-batch draw, random labels, per-architecture init "
                        "(derived from (seed, isomorphism class)) and --sample (default 0)")
    p.add_argument("--batch-size", type=int, default=64, help="mini-batch size b (default 64)")
    p.add_argument("--labels", default="true", choices=LABEL_MODES,
                   help="true labels, or random labels uniform over the classes (default true)")
    p.add_argument("--data", default="real",
                   help="real (embedded CIFAR-10 test sample; CIFAR-10 only), gaussian (N(0,1) "
                        "inputs of the dataset's shape), or a dataset PATH (CIFAR python "
                        "pickles, an image folder, ImageNet16 pickles) (default real)")
    p.add_argument("--loss", default="ce", choices=("ce", "mse"),
                   help="cross-entropy or MSE on one-hot labels (default ce)")
    p.add_argument("--bn", default="train", choices=BN_STATISTICS_MODES,
                   help="BatchNorm: batch statistics as NB201 nets at init (train, default) or "
                        "running statistics (eval)")
    p.add_argument("--init", default="pytorch",
                   help="weight init: pytorch (as NB201 trained; default), kaiming_normal, "
                        "kaiming_uniform, xavier_normal")
    p.add_argument("--width", type=int, default=16,
                   help="stem width C of the networks (benchmark: 16); smaller = cheap variant")
    p.add_argument("--cells", type=int, default=5,
                   help="cells per stage N (benchmark: 5); smaller = cheap variant")
    precision_options(p)


def precision_options(p: Parser) -> None:
    """--precision and --tf32 (see nasi.precision); shared with harness.perf."""
    p.add_argument("--precision", default="fp32", choices=PRECISIONS,
                   help="fp32: float32, the reference (default); bf16: the network's forward "
                        "under bfloat16 autocast, loss and gradient norms in float32 (CUDA, or "
                        "a CPU with AVX512-BF16/AMX-BF16; refused elsewhere). Recorded in the "
                        "summary and the cache key")
    p.add_argument("--tf32", action="store_true",
                   help="CUDA only: TensorFloat-32 convolutions and matmuls (off by default, "
                        "so fp32 is float32 throughout); recorded like --precision")


def _scale_out_options(p: Parser) -> None:
    ex = p.add_argument_group("scale-out (see harness.scoring.executors)")
    ex.add_argument("--executor", default="local", choices=("local", "ray"),
                    help="local: worker processes on this machine (default); ray: shards of "
                         "classes as Ray tasks whose results this process stores in the "
                         "cache (needs `pip install nasi-harness[ray]`; nothing shared)")
    ex.add_argument("--workers", type=int, metavar="W",
                    help="local: scoring processes (default: all usable cores on the CPU, each "
                         "with one torch thread, so scores do not depend on W; 1 on CUDA)")
    ex.add_argument("--address", help="Ray cluster to connect to (default: start a local one "
                                      "on this machine's cores, loopback only)")
    ex.add_argument("--shard-size", type=int, metavar="N",
                    help="isomorphism classes per Ray task (default: about 4 tasks per worker "
                         "slot, at most 64)")
    ex.add_argument("--gpus-per-task", type=float, metavar="F",
                    help="GPU fraction per Ray task when the cluster has GPUs (default 0.25: "
                         "the NB201 nets are small)")


def parse_indices(spec: str) -> list[int]:
    """'0,5,10-20' or a file with one index or arch string per line -> indices."""
    if not spec.strip():
        raise UserError("--indices is empty (an unset shell variable?); give indices, ranges "
                        "or a file, or leave the option out to score all architectures")
    text = read_text_input(spec, "--indices")
    if text is not None:
        items = [ln.strip() for ln in text.splitlines()]
        items = [s for s in items if s and not s.startswith("#")]
    else:
        if "/" in spec or spec.endswith((".txt", ".csv")):
            raise UserError(f"indices file {spec} does not exist")
        items = [s.strip() for s in spec.split(",") if s.strip()]
    out: list[int] = []
    for item in items:
        lo, dash, hi = item.partition("-")
        if dash and is_index_text(lo) and is_index_text(hi):
            if int(hi) < int(lo) or int(hi) >= NUM_ARCHS:
                raise UserError(f"bad index range {item!r} (must lie in 0..{NUM_ARCHS - 1})")
            out.extend(range(int(lo), int(hi) + 1))
        else:
            out.append(parse_arch(item).index)
    if not out:
        raise UserError(f"no architectures in --indices {spec[:100]!r}")
    return list(dict.fromkeys(out))


def select_indices(args) -> tuple[list[int], dict]:
    if args.sample is not None and args.indices is not None:
        raise UserError("use either --sample or --indices, not both")
    if args.sample is not None:
        if not 1 <= args.sample <= NUM_ARCHS:
            raise UserError(f"--sample must be in 1..{NUM_ARCHS}, got {args.sample}")
        idx = sample_indices(args.sample, args.seed)
        return idx, {"mode": "sample", "n": args.sample, "seed": args.seed,
                     "method": SAMPLE_METHOD}
    if args.indices is not None:
        idx = parse_indices(args.indices)
        return idx, {"mode": "indices", "n": len(idx), "source": args.indices}
    return list(range(NUM_ARCHS)), {"mode": "all", "n": NUM_ARCHS}


def list_scores() -> str:
    """One line per registry score: name, cost, direction and what it computes."""
    lines = []
    for name, s in sorted(available_scores().items()):
        better = "higher" if s.higher_is_better else "lower"
        lines.append(f"{name} [{s.cost}; {better} is better]: {s.description}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    load_plugins(args.plugin)
    if args.list_scores:
        print(list_scores())
        return 0
    check_seed(args.seed)
    names = parse_score_list(args.score)
    cfg = ScoreConfig(dataset=args.dataset, batch_size=args.batch_size, labels=args.labels,
                      data=args.data, loss=args.loss, bn=args.bn, init=args.init, seed=args.seed,
                      C=args.width, N=args.cells, precision=args.precision, tf32=args.tf32)
    # with Ray the tasks choose their device (make_executor checks --device): check the kind asked
    check_precision(cfg.precision, cfg.tf32, resolve_device(args.device)
                    if args.executor == "local" else ("cuda" if args.device == "cuda" else "cpu"))
    out = prepare_out_dir(args.out)
    indices, selection = select_indices(args)
    # with Ray the tasks choose their device; this process only reads the cache
    device = resolve_device("cpu" if args.executor == "ray" else args.device)
    check_batch_fits(cfg, device if args.executor == "local" else None, args.workers)
    executor = make_executor(args.executor, device, workers=args.workers, address=args.address,
                             shard_size=args.shard_size, gpus_per_task=args.gpus_per_task,
                             ray_device=args.device, cache=not args.no_cache)
    request = RankRequest(config=cfg, scores=names, indices=indices, selection=selection,
                          benchmark=args.benchmark, cache=None if args.no_cache else args.cache,
                          progress=not args.quiet)
    result = rank(request, device, executor)
    summary = write_run(out, result.table, result.summary)  # one set (docs/outputs.md)
    if args.report:
        write_report([out], out / "report", name=out.name, summaries=[summary])
    _print_summary(summary, out)
    return 0


def _print_summary(summary: RunSummary, out: Path) -> None:
    cfg = summary.config
    print(f"scored {summary.n_archs} architectures on {cfg.dataset} "
          f"(b={cfg.batch_size}, labels={cfg.labels}, data={cfg.data}, "
          f"seed={cfg.seed}, precision={cfg.precision}{'+tf32' if cfg.tf32 else ''}, "
          f"device={summary.environment['device']}) "
          f"in {summary.wall_time_s:.1f} s "
          f"({summary.engine.classes_computed} networks run, "
          f"{summary.engine.classes_cached} classes from cache)")
    for c in summary.correlations:
        tau, rho = (f"{v:+.3f}" if v is not None else "n/a"
                    for v in (c["kendall_tau"], c["spearman_rho"]))
        print(f"  {c['score']:>14} vs {c['target']:<22} n={c['n']:5d}  "
              f"kendall_tau={tau}  spearman_rho={rho}")
    print(f"wrote {out / 'ranking.csv'} and {out / 'summary.json'}")
