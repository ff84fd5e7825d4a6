"""The driver every search flow of ``python -m harness.search`` shares: reuse stored seeds,
run the rest on the chosen executor, write each seed as it finishes, summarise per group and
publish ``summary.json`` + ``report.md``."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from benchmarks.published import NASI_SEARCH_NOTE, SEARCH_RESULTS
from harness.errors import UserError
from harness.progress import Progress
from harness.provenance import fingerprint, json_clean, write_set
from harness.reporting.markdown import md_table
from harness.searching.common import (
    COLUMN_TITLES,
    EVAL_COLUMNS,
    fmt,
    optimum,
    stats,
)
from harness.summary import SearchSummary, read_json

Done = dict[tuple[str, int], tuple[dict, object]]


def print_seed(opts, rec: dict, note: str) -> None:
    if not opts.quiet:
        accs = " / ".join(f"{rec[c]:.2f}" if rec[c] is not None else "–" for c in EVAL_COLUMNS)
        print(f"[{rec['group']}] seed {rec['seed']}: {rec['arch']} (index {rec['index']}): "
              f"{accs} [{note}]", flush=True)


def run_all(jobs: Sequence, opts, device, *, load: Callable, record: Callable,
            save: Callable) -> Done:
    """{(group, seed): (record, result)}: stored searches reused (``load(job)`` -> (result,
    baseline) or None), the others run and saved (``save(job, record, result)``) one by one
    as they finish, so an interrupted command loses no finished seed."""
    done: Done = {}
    todo = []
    for job in jobs:
        stored = None if opts.no_resume else load(job)
        if stored is None:
            todo.append(job)
            continue
        rec = record(job, *stored)
        done[(job.group, job.cfg.seed)] = (rec, stored[0])
        print_seed(opts, rec, "stored, not rerun")
    _run_todo(todo, opts, device, done, record, save)
    return done


def _run_todo(todo: Sequence, opts, device, done: Done, record: Callable,
              save: Callable) -> None:
    """Run the searches not stored, with one progress line over steps x seeds."""
    from harness.searching.jobs import job_size, run_jobs, search_executor, steps_reported_to

    sizes = [job_size(job) for job in todo]
    unit = sizes[0][1] if sizes else ""
    bar = Progress(sum(n for n, _ in sizes), f"search ({len(todo)} seed(s) x "
                   f"{sizes[0][0] if sizes else 0} {unit})", not opts.quiet, unit=unit)
    live = [0]  # units reported by the search running in this process

    def step() -> None:
        live[0] += 1
        bar.update()

    with bar, steps_reported_to(step), search_executor(opts, device) as executor:
        for job, res, rb in run_jobs(todo, executor, opts.threads):
            bar.update(max(0, job_size(job)[0] - live[0]))  # the rest of this search
            live[0] = 0
            rec = record(job, res, rb)
            done[(job.group, job.cfg.seed)] = (rec, res)
            save(job, rec, res)
            bar.end_line()
            print_seed(opts, rec, f"{rec['seconds']:.1f} s")


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


def summary_of(config: dict, groups: list[dict], truth, device,
               wall_time_s: float) -> SearchSummary:
    """The summary both flows build (the NASI flow may add its exact check)."""
    from benchmarks import ACCURACY_COLUMNS
    from harness.provenance import environment

    return SearchSummary(
        config=config, environment=environment(device),
        columns={c: ACCURACY_COLUMNS[c].description for c in EVAL_COLUMNS
                 if c in ACCURACY_COLUMNS},
        std="population standard deviation over search seeds (numpy std, ddof=0)",
        groups=groups,
        paper=[{"method": r.method, "cost": r.cost,
                **{c: {"mean": r.accuracy[c][0], "std": r.accuracy[c][1]}
                   for c in EVAL_COLUMNS}}
               for r in SEARCH_RESULTS],
        paper_source=NASI_SEARCH_NOTE, optimum=optimum(truth),
        wall_time_s=round(wall_time_s, 3))


def publish(out: Path, summary: SearchSummary, render: Callable[[dict], str],
            quiet: bool) -> dict:
    """Write report.md and summary.json as one set (both staged, then renamed, summary
    last: a full disk publishes neither; the summary holds the report's sha256, so a reader
    can tell a mix of two generations, see :func:`read_summary`); print the headline."""
    data = json_clean(summary.to_json())
    report = render(data)
    data["outputs"] = {"report.md": {"sha256": fingerprint(report)}}
    write_set(out, {"report.md": report,
                    "summary.json": json.dumps(data, indent=2, allow_nan=False) + "\n"})
    if not quiet:
        st = data["stats"]
        print(f"{data['groups'][0]['title']}: " + " / ".join(
            f"{COLUMN_TITLES[c]} {fmt(st[c])}" for c in EVAL_COLUMNS)
            + f"; {fmt(st['seconds'])} s per search")
        print(f"wrote {out / 'summary.json'} and {out / 'report.md'}")
    return data


def results_table(summary: dict, rows_extra: list[list[str]]) -> list[str]:
    """Markdown: the published rows, the benchmark's optimum, then ``rows_extra``."""
    head = ["Method", "Search cost", *[COLUMN_TITLES[c] for c in EVAL_COLUMNS]]
    rows = [[r["method"], r["cost"], *[f"{r[c]['mean']:.2f} ± {r[c]['std']:.2f}"
                                       for c in EVAL_COLUMNS]] for r in summary["paper"]]
    opt = summary["optimum"]
    rows.append(["Optimum (max over the table)", "–", *[
        f"{opt[c]['value']:.2f} (index {opt[c]['index']})" if c in opt else "–"
        for c in EVAL_COLUMNS]])
    return md_table(head, rows + rows_extra).split("\n")


def per_seed_table(summary: dict) -> list[str]:
    head = ["Group", "Seed", "Architecture", "Index", *[COLUMN_TITLES[c] for c in EVAL_COLUMNS],
            "Seconds"]
    rows = [[g["name"], r["seed"], f"`{r['arch']}`", r["index"],
             *["–" if r[c] is None else f"{r[c]:.2f}" for c in EVAL_COLUMNS],
             f"{r['seconds']:.1f}"]
            for g in summary["groups"] for r in g["runs"]]
    return ["## Per-seed results", "", *md_table(head, rows).split("\n")]


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


def read_summary(out: Path) -> dict:
    """The summary.json of a ``harness.search`` folder, checked against the report.md beside
    it (summaries of format 2 on): a UserError when they come from different runs."""
    path = Path(out) / "summary.json"
    data = read_json(path)
    SearchSummary.from_json(data, str(path))  # refuses what is not a search summary
    expected = (data.get("outputs") or {}).get("report.md", {}).get("sha256")
    if expected is not None:
        try:
            found = fingerprint((Path(out) / "report.md").read_bytes())
        except OSError:
            found = None
        if found != expected:
            raise UserError(f"{out}: report.md is not the one summary.json was published with "
                            "(the folder mixes two runs or a write was interrupted); rerun "
                            "python -m harness.search into it (finished searches are reused)")
    return data
