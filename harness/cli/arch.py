r"""Look NAS-Bench-201 architectures up by benchmark index or arch string.

    python -m harness.arch 6111 \
        '|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|none~0|nor_conv_3x3~1|avg_pool_3x3~2|'
    python -m harness.arch 0 11 --dataset cifar100 --format json
    python -m harness.arch --all --format csv > all.csv

Fields: index (benchmark index 0..15624); arch (NB201 string); iso_key (NATS-Bench
get_unique_str: equal keys build isomorphic networks); connected (no: the cell has no
input-to-output path and the network scores chance accuracy); params_<dataset> (parameter
count); flops_<dataset> (millions of conv/linear multiply-accumulates for one image, the
benchmark's convention); then every ground-truth accuracy column of the benchmark source
(top-1 %, final epoch of 200, mean over seeds; benchmarks/columns.py says which split each is).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings

import pandas as pd

from harness.cli import Parser
from harness.errors import UserError

FORMATS = ("table", "json", "csv")
# Up to this many architectures the table is printed one field per line (arch strings are
# ~90 characters wide); beyond it, one row per architecture.
VERTICAL_MAX = 10


def build_parser() -> Parser:
    p = Parser(prog="python -m harness.arch", description=__doc__,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("archs", nargs="*", metavar="ARCH_OR_INDEX",
                   help="benchmark index (0..15624) or NB201 arch string '|op~0|+|op~0|op~1|+...'")
    p.add_argument("--all", action="store_true", help="all 15,625 architectures, index order")
    p.add_argument("--dataset", help="params/flops of this dataset only: cifar10 | cifar100 | "
                                     "ImageNet16-120 (default: all three)")
    p.add_argument("--format", choices=FORMATS, default="table",
                   help="table (for people, default), json (list of objects) or csv")
    p.add_argument("--benchmark", default="embedded",
                   help="ground truth: 'embedded' (shipped table, default), a NATS-Bench tss "
                        "fast_mode folder or an NB201 .pth file")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from benchmarks import ACCURACY_COLUMNS, load_benchmark
    from harness.progress import READING_BENCHMARK, ProgressCallback
    from nasi.datasets import DATASETS, get_dataset
    from nasi.space import parse_arch

    # Validate the cheap inputs before loading a (possibly large) benchmark.
    if args.all and args.archs:
        raise UserError("give architectures or --all, not both")
    if not args.all and not args.archs:
        raise UserError("give at least one architecture (index or arch string), or --all")
    indices = [parse_arch(spec).index for spec in args.archs]
    specs = [get_dataset(args.dataset)] if args.dataset else list(DATASETS.values())

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = load_benchmark(None if args.benchmark == "embedded" else args.benchmark,
                               progress=ProgressCallback(READING_BENCHMARK, unit="records"))
    for w in caught:  # one line each, not warnings' two-line "file:line" form
        sys.stderr.write(f"warning: {w.message}\n")

    columns = ["index", "arch", "iso_key", "connected"]
    columns += [f"{kind}_{s.key}" for s in specs for kind in ("params", "flops")]
    columns += [c for c in ACCURACY_COLUMNS if c in table.columns]
    rows = table[columns] if args.all else table.iloc[indices][columns]
    sys.stdout.write(render(rows, args.format))
    return 0


def render(rows: pd.DataFrame, fmt: str) -> str:
    if fmt == "csv":
        return rows.to_csv(index=False)
    if fmt == "json":
        return json.dumps(_records(rows), indent=1) + "\n"
    cells = pd.DataFrame({c: rows[c].map(_formatter(c)) for c in rows.columns})
    return _vertical(cells) if len(cells) <= VERTICAL_MAX else _wide(cells)


def _records(rows: pd.DataFrame) -> list[dict]:
    """Plain Python values; NaN (no record in the source) becomes null."""
    out = []
    for rec in rows.to_dict("records"):
        out.append({k: (None if isinstance(v, float) and math.isnan(v) else
                        v.item() if hasattr(v, "item") else v) for k, v in rec.items()})
    return out


def _formatter(column: str):
    if column == "connected":
        return lambda v: "yes" if v else "no"
    if column.startswith("params_"):
        return lambda v: f"{v:,}"
    if column.startswith("flops_"):
        return lambda v: f"{v:.3f}"
    if column in ("index", "arch", "iso_key"):
        return str
    return lambda v: "n/a" if math.isnan(v) else f"{v:.2f}"  # accuracy, %


def _vertical(cells: pd.DataFrame) -> str:
    width = max(len(c) for c in cells.columns)
    blocks = ["\n".join(f"{c:<{width}}  {v}" for c, v in rec.items())
              for rec in cells.to_dict("records")]
    return "\n\n".join(blocks) + "\n"


def _wide(cells: pd.DataFrame) -> str:
    widths = {c: max(len(c), int(cells[c].str.len().max())) for c in cells.columns}
    left = {"arch", "iso_key"}  # text; numbers are right-aligned

    def line(values) -> str:
        return "  ".join(f"{v:<{widths[c]}}" if c in left else f"{v:>{widths[c]}}"
                         for c, v in zip(cells.columns, values)).rstrip()

    out = [line(cells.columns)]
    out.extend(line(vals) for vals in cells.itertuples(index=False, name=None))
    return "\n".join(out) + "\n"
