"""The driver every search flow of ``python -m harness.search`` shares: reuse stored seeds,
run the rest on the chosen executor, write each seed as it finishes, summarise per group and
publish ``summary.json`` + ``report.md``."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

from .outputs import write_atomic
from .search_common import (
    ANCHOR_ROWS,
    COLUMN_TITLES,
    EVAL_COLUMNS,
    PAPER_ROWS,
    PAPER_SOURCE,
    fmt,
    jsonable,
    optimum,
    stats,
)

Done = dict[tuple[str, int], tuple[dict, object]]


def print_seed(args, rec: dict, note: str) -> None:
    if not args.quiet:
        accs = " / ".join(f"{rec[c]:.2f}" if rec[c] is not None else "–" for c in EVAL_COLUMNS)
        print(f"[{rec['group']}] seed {rec['seed']}: {rec['arch']} (index {rec['index']}): "
              f"{accs} [{note}]", flush=True)


def run_all(jobs: Sequence, args, device, *, load: Callable, record: Callable,
            save: Callable) -> Done:
    """{(group, seed): (record, result)}: stored searches reused (``load(job)`` -> (result,
    baseline) or None), the others run and saved (``save(job, record, result)``) one by one
    as they finish, so an interrupted command loses no finished seed."""
    from .search_jobs import run_jobs

    done: Done = {}
    todo = []
    for job in jobs:
        stored = None if args.no_resume else load(job)
        if stored is None:
            todo.append(job)
            continue
        rec = record(job, *stored)
        done[(job.group, job.cfg.seed)] = (rec, stored[0])
        print_seed(args, rec, "stored, not rerun")
    for job, res, rb in run_jobs(todo, str(device), args.threads, args.workers, args.executor,
                                 args.address):
        rec = record(job, res, rb)
        done[(job.group, job.cfg.seed)] = (rec, res)
        save(job, rec, res)
        print_seed(args, rec, f"{rec['seconds']:.1f} s")
    return done


def group_results(groups: Sequence[dict], seeds: Sequence[int], done: Done,
                  random_baseline: bool) -> list[dict]:
    """Per group: its records and mean ± std of every evaluation column and the seconds."""
    out = []
    for g in groups:
        runs = [done[(g["name"], seed)][0] for seed in seeds]
        st = {c: stats([r[c] for r in runs]) for c in EVAL_COLUMNS}
        st["seconds"] = stats([r["seconds"] for r in runs])
        if "evaluations" in runs[0]:
            st["evaluations"] = stats([r["evaluations"] for r in runs])
        gout = {**g, "runs": runs, "stats": st}
        if random_baseline:
            rbs = [r["random_baseline"] for r in runs]
            keys = [*EVAL_COLUMNS, "n_archs", "seconds",
                    *(k for k in rbs[0] if k.startswith("max_score_"))]
            gout["random_baseline_stats"] = {k: stats([rb[k] for rb in rbs]) for k in keys}
        out.append(gout)
    return out


def summary_of(config: dict, groups: list[dict], truth, device, wall_time_s: float) -> dict:
    """The summary.json body both flows share (a flow adds its own keys)."""
    from benchmarks import ACCURACY_COLUMNS

    from .environment import environment

    return {
        "kind": "nasi-harness.search",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": config,
        "environment": environment(device),
        "columns": {c: ACCURACY_COLUMNS[c].description for c in EVAL_COLUMNS
                    if c in ACCURACY_COLUMNS},
        "std": "population standard deviation over search seeds (numpy std, ddof=0)",
        "runs": groups[0]["runs"],
        "stats": groups[0]["stats"],
        "groups": groups,
        "paper": [{"method": r["method"], "cost": r["cost"],
                   **{c: {"mean": r[c][0], "std": r[c][1]} for c in EVAL_COLUMNS}}
                  for r in (*PAPER_ROWS, *ANCHOR_ROWS)],
        "paper_source": PAPER_SOURCE,
        "optimum": optimum(truth),
        "wall_time_s": round(wall_time_s, 3),
    }


def publish(out: Path, summary: dict, render: Callable[[dict], str], quiet: bool) -> dict:
    """Write summary.json and report.md (each atomically); print the headline."""
    summary = jsonable(summary)
    write_atomic(out / "summary.json", json.dumps(summary, indent=2, allow_nan=False) + "\n")
    write_atomic(out / "report.md", render(summary))
    if not quiet:
        st = summary["stats"]
        print(f"{summary['groups'][0]['title']}: " + " / ".join(
            f"{COLUMN_TITLES[c]} {fmt(st[c])}" for c in EVAL_COLUMNS)
            + f"; {fmt(st['seconds'])} s per search")
        print(f"wrote {out / 'summary.json'} and {out / 'report.md'}")
    return summary


def results_table(summary: dict, rows_extra: list[list[str]]) -> list[str]:
    """Markdown: the published rows, the benchmark's optimum, then ``rows_extra``."""
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


def per_seed_table(summary: dict) -> list[str]:
    lines = ["## Per-seed results", "",
             "| Group | Seed | Architecture | Index | " + " | ".join(
                 COLUMN_TITLES[c] for c in EVAL_COLUMNS) + " | Seconds |",
             "|---|---|---|---|---|---|---|---|"]
    for g in summary["groups"]:
        for r in g["runs"]:
            arch = r["arch"].replace("|", "\\|")
            lines.append(f"| {g['name']} | {r['seed']} | `{arch}` | {r['index']} | "
                         + " | ".join("–" if r[c] is None else f"{r[c]:.2f}"
                                      for c in EVAL_COLUMNS) + f" | {r['seconds']:.1f} |")
    return lines


def report_header(summary: dict, title: str, cost_covers: str) -> list[str]:
    """Title, provenance (date, seeds, device, torch) and what every accuracy is."""
    cfg, env = summary["config"], summary["environment"]
    seeds = cfg["seeds"]
    dev = f"{env['device_name']}, {cfg['threads']} thread(s)" if env["device"] == "cpu" \
        else env["device_name"]
    lines = [f"# {title}", "",
             f"Created {summary['created']} (git {env.get('git_commit')}); {len(seeds)} search "
             f"seeds ({seeds[0]}..{seeds[-1]}); device {dev}; torch {env['torch']}.", "",
             "Every accuracy is the benchmark's **200-epoch test accuracy (%), mean over the "
             "benchmark's training seeds**, of the architecture found:", ""]
    lines += [f"- `{c}`: {desc}" for c, desc in summary["columns"].items()]
    return lines + ["", f"Ours: mean ± std over search seeds ({summary['std']}). Search cost: "
                        f"wall-clock seconds per search on the device above ({cost_covers}).",
                    ""]


def groups_note(summary: dict) -> list[str]:
    if len(summary["groups"]) == 1:
        return []
    return ["Rows 'Ours' differ in the dataset searched on, its data and labels; each is "
            "evaluated on all three datasets. CIFAR-100 and ImageNet16-120 have no embedded "
            "real images: a direct search on them uses the data named in the row (gaussian = "
            "i.i.d. N(0,1) inputs with uniformly random labels).", ""]
