"""Reproducible analysis reports over one or more ``harness.rank`` runs: the library behind
``python -m harness.report``.

Writes into DIR (default ``reports/NAME``):

- ``report.md``: inputs, correlation tables with bootstrap CIs, published anchors beside our
  numbers, top-k tables, figures, and (when the runs allow) cross-dataset transfer and
  label/data-agnostic sections. Every number names its score, target column (with the
  benchmark provenance label: dataset key, split, epochs, release), run (dataset, batch, seed,
  label/data mode, device) and number of architectures.
- ``correlations.csv``, ``topk.csv``, ``transfer.csv``, ``agnostic.csv``, ``anchors.csv``
  (those that apply) and ``plots/*.png`` (``formats``: PNG, PDF and/or SVG).
- ``summary.json``: every input run's config/environment/wall time, software versions, git
  commit, analysis settings (bootstrap resamples and seed), all results and the sha256 of
  every other file; written last, so the set is published whole (``reporting.publish``).

Several runs are combined: every run gets its own correlation/top-k section; all runs feed the
transfer section (score on dataset A vs test accuracy on dataset B); a run with random labels
and/or Gaussian data is paired with the first true-label, real-data run of the same dataset for
the agnostic section (joined on benchmark index).

Reproducibility: regenerating from the same inputs gives byte-identical CSV, JSON and PNG
files, except the single ``generated_at`` field of summary.json (repeated once in report.md,
hence also report.md's sha256 in summary.json); the PDF and SVG figures are byte-identical too.
Cost: ``docs/notes/report-cost.md``.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from harness.analysis import correlation as C
from harness.analysis import tables as T
from harness.errors import UserError
from harness.limits import MAX_BOOTSTRAP, check_count
from harness.provenance import json_clean, prepare_out_dir, software, write_atomic
from harness.reporting.analyse import analyse
from harness.reporting.figures import DEFAULT_FORMATS, check_formats, make_figures
from harness.reporting.publish import (
    MANIFEST,
    file_hash,
    new_staging,
    previous_files,
    publish,
    refuse_links,
)
from harness.reporting.runs import Run, label_runs, load_run
from harness.reporting.sections import report_markdown
from harness.summary import RunSummary

REPORT_KIND = "nasi-harness.report"
FORMAT_VERSION = 2  # 2: summary.json holds the sha256 of every other file
_CSV_FLOAT = "%.6g"


def _records(df: pd.DataFrame) -> list[dict]:
    return json_clean(df.to_dict(orient="records"), 6)


def _prepare_out(out: Path) -> list[str]:
    """Check the folder; the files of the report it holds now (replaced or removed later)."""
    prepare_out_dir(out, "report folder")
    refuse_links(out)
    return previous_files(out)


def _csv(df: pd.DataFrame) -> str:
    return df.to_csv(index=False, float_format=_CSV_FLOAT, lineterminator="\n")


def write_report(run_dirs, out_dir=None, name: str | None = None, *,
                 bootstrap: int = C.DEFAULT_BOOTSTRAP, seed: int = 0, plots: bool = True,
                 baselines: bool = True, workers: int | None = None,
                 generated_at: str | None = None,
                 summaries: list[RunSummary | None] | None = None,
                 formats=DEFAULT_FORMATS) -> Path:
    """Analyse ``run_dirs`` (one path or a list; an entry may also be a loaded
    :class:`harness.reporting.runs.Run`, e.g. a score table from
    :func:`harness.reporting.score_tables.read_score_table`) and write the report into
    ``out_dir``.

    ``out_dir`` defaults to ``reports/<name>``; ``name`` defaults to the first run directory's
    name. ``bootstrap``: resamples for the confidence intervals (0 = none); ``seed``: their
    numpy Generator seed; ``baselines``: add the benchmark's params/flops columns of the run's
    dataset as reference scores; ``generated_at``: the one timestamp written (default now,
    UTC); ``summaries``: the runs' summaries when the caller holds them (else each run's
    summary.json is read); ``formats``: figure formats, any of png, pdf, svg (a sequence or
    'png,pdf'). Returns the report directory. Bad input raises
    :class:`harness.errors.UserError`.
    """
    run_dirs = [run_dirs] if isinstance(run_dirs, (str, Path, Run)) else list(run_dirs)
    name = _check_inputs(run_dirs, name, bootstrap)
    formats = check_formats(formats)
    runs = [d if isinstance(d, Run) else load_run(d, s)
            for d, s in zip(run_dirs, summaries or [None] * len(run_dirs), strict=True)]
    label_runs(runs)
    out = Path(out_dir) if out_dir is not None else Path("reports") / name
    stale = _prepare_out(out)

    an = analyse(runs, bootstrap=bootstrap, seed=seed, baselines=baselines, workers=workers)
    settings = _settings(bootstrap, seed, baselines)
    versions = software()
    generated_at = generated_at or datetime.now(timezone.utc).isoformat(timespec="seconds")
    stage = new_staging(out)
    try:  # the whole set is written aside, then published, summary.json last
        figs = make_figures(an, stage, formats) if plots else {}
        tables = {"correlations.csv": an.correlations, "topk.csv": an.topk,
                  "transfer.csv": an.transfer, "agnostic.csv": an.agnostic,
                  "anchors.csv": an.anchors}
        files = _write_tables(stage, tables)
        files += [rel for entries in figs.values() for _, rels in entries for rel in rels]
        write_atomic(stage / "report.md", report_markdown(name, an, figs, settings, versions,
                                                           generated_at))
        files.append("report.md")
        summary = {
            "kind": REPORT_KIND, "format_version": FORMAT_VERSION, "name": name,
            "generated_at": generated_at, "software": versions, "analysis": settings,
            "runs": [_run_record(r) for r in runs],
            "results": {key.removesuffix(".csv"): _records(df) for key, df in tables.items()},
            "notes": an.notes, "files": sorted([*files, MANIFEST]),
            "sha256": {rel: file_hash(stage / rel) for rel in sorted(files)},
        }
        write_atomic(stage / MANIFEST,
                     json.dumps(json_clean(summary, 6), indent=2, allow_nan=False) + "\n")
        publish(stage, out, [*files, MANIFEST], stale + list(tables))
    except OSError as exc:
        raise UserError(f"cannot write the report to {out}: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return out


def _check_inputs(run_dirs: list, name: str | None, bootstrap: int) -> str:
    """The report name; a UserError for no run, a run given twice or a bad name."""
    if not run_dirs:
        raise UserError("no run directory given")
    paths = [Path(d.given if isinstance(d, Run) else d) for d in run_dirs]
    name = name or paths[0].resolve().name
    if not name or "/" in name or "\\" in name or name in (".", ".."):
        raise UserError(f"report name {name!r} must be a plain folder name")
    check_count(bootstrap, "--bootstrap", 0, MAX_BOOTSTRAP)
    seen = set()
    for d in paths:
        key = d.resolve()
        if key in seen:
            raise UserError(f"run directory {d} given twice")
        seen.add(key)
    return name


def _settings(bootstrap: int, seed: int, baselines: bool) -> dict:
    return {
        "bootstrap": {"resamples": bootstrap, "seed": seed, "confidence": C.CONFIDENCE,
                      "method": "percentile bootstrap over architectures (usable rows "
                                "resampled with replacement, n per resample); every (score, "
                                "target, subset) draws from a fresh numpy default_rng(seed); "
                                "Kendall, Spearman and Pearson share the resamples"},
        "subsets": list(C.SUBSETS),
        "topk": [str(k) for k in T.TOPK_DEFAULT],
        "ties": "correlations: tau-b and average ranks; top-k: ties broken by ascending "
                "benchmark index (score_ties_at_cutoff counts the tied rows left out)",
        "invalid": "NaN/inf scores counted as n_invalid and excluded; rows with a missing "
                   "target excluded",
        "signs": "correlations are signed, on the raw score; top-k negates scores with "
                 "higher_is_better = false",
        "baselines": baselines,
    }


def _write_tables(out: Path, tables: dict[str, pd.DataFrame]) -> list[str]:
    """Write the non-empty tables (a stale file of an empty one is removed on publishing).
    Returns the names written."""
    files = []
    for fname, df in tables.items():
        if len(df):
            write_atomic(out / fname, _csv(df))
            files.append(fname)
    return files


def _run_record(r: Run) -> dict:
    s = r.summary.to_json()
    return {"label": r.label, "path": r.given, "kind": s.get("kind"), "created": s.get("created"),
            "dataset": r.dataset, "labels": r.labels, "data": r.data, "standard": r.standard,
            "config": s.get("config"), "environment": s.get("environment"),
            "scores": s.get("scores"), "higher_is_better": r.directions,
            "targets": s.get("targets"), "wall_time_s": s.get("wall_time_s"),
            "n_archs": r.n, "n_connected": r.n_connected,
            "columns_filled_from_embedded_benchmark": r.filled_columns}
