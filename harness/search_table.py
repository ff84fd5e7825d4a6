"""Score every NAS-Bench-201 architecture at a search supernet's scale, for the exact check.

    python -m harness.search_table --width 8 --cells 5 --batch-size 32 --out runs/table-c8n5

Writes OUT/ranking.csv (index, arch, connected, nasi) for all 15,625 architectures: the
``nasi`` score (NASI Eq. 12, :func:`nasi.scoring.score_architecture`) of the standalone network
at width C and N cells per stage (``harness.rank`` scores the benchmark's C=16, N=5 only), one
network per isomorphism class (6,466), disconnected cells 0. ``python -m harness.search
--exact-from OUT/ranking.csv`` then compares the search with the exact expected-reward gradient
of the same reward at the same scale. Progress is saved to OUT/partial.csv every 100 classes; a
rerun with the same options resumes from it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd

from .cli import Parser, UserError, run


def build_parser() -> Parser:
    p = Parser(prog="python -m harness.search_table", description=__doc__)
    p.add_argument("--dataset", default="cifar10")
    p.add_argument("--width", type=int, default=8, help="C (default 8)")
    p.add_argument("--cells", type=int, default=5, help="N (default 5)")
    p.add_argument("--batch-size", type=int, default=32, help="b (default 32)")
    p.add_argument("--labels", default="true", choices=("true", "random"))
    p.add_argument("--data", default="real", help="real | gaussian | PATH (default real)")
    p.add_argument("--seed", type=int, default=0, help="batch and init seed (default 0)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    p.add_argument("--limit", type=int, default=None,
                   help="score only the first LIMIT classes (for tests)")
    p.add_argument("--out", required=True, help="output folder")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import torch

    from nasi.data import load_batch
    from nasi.scoring import ScoreConfig, score_architecture
    from nasi.space import all_archs

    if args.threads < 1 or args.width < 1 or args.cells < 1 or args.batch_size < 2:
        raise UserError("--threads, --width and --cells must be >= 1, --batch-size >= 2")
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create {out}: {exc.strerror or exc}") from None
    cfg = ScoreConfig(dataset=args.dataset, batch_size=args.batch_size, labels=args.labels,
                      data=args.data, seed=args.seed, C=args.width, N=args.cells)
    x, y = load_batch(cfg.dataset, cfg.data, cfg.batch_size, cfg.seed, cfg.labels)
    reps: dict[str, object] = {}
    for a in all_archs():
        if a.is_connected:
            reps.setdefault(a.iso_key, a)
    keys = list(reps)[: args.limit] if args.limit else list(reps)
    partial = out / "partial.csv"
    meta = out / "config.json"
    done: dict[str, float] = {}
    if partial.exists() and meta.exists() and json.loads(meta.read_text()) == cfg.as_dict():
        done = dict(pd.read_csv(partial).itertuples(index=False, name=None))
    meta.write_text(json.dumps(cfg.as_dict()))
    t0 = time.monotonic()
    todo = [k for k in keys if k not in done]
    for n, k in enumerate(todo, 1):
        done[k] = score_architecture(reps[k], ["nasi"], cfg, x, y)["nasi"]
        if n % 100 == 0 or n == len(todo):
            pd.DataFrame(list(done.items()), columns=["iso_key", "nasi"]).to_csv(
                partial, index=False)
            rate = n / (time.monotonic() - t0)
            print(f"{len(done)}/{len(keys)} classes, {rate:.2f}/s, "
                  f"eta {(len(todo) - n) / rate / 60:.1f} min", flush=True)
    rows = []
    for i, a in enumerate(all_archs()):
        if not a.is_connected:
            rows.append((i, a.string, False, 0.0))
        elif a.iso_key in done:
            rows.append((i, a.string, True, done[a.iso_key]))
    pd.DataFrame(rows, columns=["index", "arch", "connected", "nasi"]).to_csv(
        out / "ranking.csv", index=False)
    print(f"wrote {out / 'ranking.csv'} ({len(rows)} architectures)")
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
