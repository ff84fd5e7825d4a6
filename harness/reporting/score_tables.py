"""Scores computed elsewhere, as report inputs: a CSV score table or NASLib's zero-cost
benchmark JSON (NAS-Bench-Suite-Zero, ``zc_nasbench201.json``).

- CSV: an ``index`` (benchmark index) or ``arch`` (NB201 string) column and one numeric
  column per score; ground-truth and structure columns (accuracies, params/flops, iso_key,
  connected) are not scores. ``scores`` picks columns by name.
- NASLib JSON: ``{dataset: {"(o0, o1, o2, o3, o4, o5)": {proxy: {"score": s, "time": t},
  "val_accuracy": a, "id": i}}}``, keys in NASLib's op-index encoding
  (:meth:`nasi.space.Arch.from_naslib`); every ``{"score": ...}`` entry is a score. Their
  accuracies are not used: the ground truth is the embedded table's.

Neither format says how its scores were computed, so the run's configuration (batch, seed,
labels, data, loss, BN, init, device) is left unknown (None) and reported as such; the
score names are kept as given (NASLib's ``jacov`` is its implementation, not ours).
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pandas as pd

from benchmarks.columns import ACCURACY_COLUMNS
from harness.errors import UserError
from harness.reporting.runs import Run, load_table_run
from harness.summary import RunConfig, RunSummary, ScoreInfo
from nasi.datasets import DATASETS, get_dataset
from nasi.space import Arch, ArchError, parse_arch

NOT_SCORES = {"index", "arch", "iso_key", "connected", "id", "val_accuracy", *ACCURACY_COLUMNS,
              *(f"{kind}_{s.key}" for s in DATASETS.values() for kind in ("params", "flops"))}


def read_score_table(path, dataset: str, scores=None) -> Run:
    """A report input from a score table (``.csv``, or NASLib ``.json``) whose scores were
    computed for ``dataset``; a one-line UserError for a file it cannot read."""
    path = Path(path)
    try:
        ds = get_dataset(dataset).name
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if not path.is_file():
        raise UserError(f"score table {path} does not exist")
    if path.suffix.lower() == ".json":
        df, fmt = _naslib_frame(path, ds), "naslib-zero-cost-json"
    else:
        df, fmt = _csv_frame(path), "csv"
    names = _score_columns(df, path, scores)
    df = df[["index", *names]]
    if df["index"].duplicated().any():
        dup = int(df.loc[df["index"].duplicated(), "index"].iloc[0])
        raise UserError(f"{path}: architecture {dup} appears twice")
    config = RunConfig(dataset=ds, scores=names, benchmark="embedded",
                       selection={"mode": "score table", "source": str(path), "format": fmt,
                                  "n": len(df)})
    summary = RunSummary(config=config, scores={n: ScoreInfo() for n in names},
                         n_archs=len(df), created=None)
    return load_table_run(str(path), summary, df)


def _csv_frame(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, dtype={"arch": str})
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise UserError(f"cannot read {path}: {(str(exc).splitlines() or [''])[0]}") from None
    if "index" in df.columns:
        idx = pd.to_numeric(df["index"], errors="coerce")
        if idx.isna().any() or (idx % 1 != 0).any():
            raise UserError(f"{path}: column 'index' holds a value that is not an integer")
        indices = [int(i) for i in idx]
        for i in indices:
            _checked(path, i)
    elif "arch" in df.columns:
        indices = [_checked(path, s).index for s in df["arch"]]
    else:
        raise UserError(f"{path} has neither an 'index' nor an 'arch' column")
    df = df.drop(columns=[c for c in ("index",) if c in df.columns])
    df.insert(0, "index", indices)
    return df


def _checked(path: Path, spec) -> Arch:
    try:
        return parse_arch(spec)
    except ArchError as exc:
        raise UserError(f"{path}: {exc}") from None


def _naslib_frame(path: Path, dataset: str) -> pd.DataFrame:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"cannot read {path} as JSON: {exc}") from None
    if not isinstance(data, dict) or not data:
        raise UserError(f"{path} is not a NASLib zero-cost benchmark (a JSON object keyed by "
                        "dataset)")
    if dataset not in data:
        raise UserError(f"{path} has no entry for {dataset}; it has {', '.join(map(str, data))}")
    rows = []
    for key, entry in data[dataset].items() if isinstance(data[dataset], dict) else ():
        row = {"index": _naslib_arch(path, key).index}
        if isinstance(entry, dict):
            row.update({name: v["score"] for name, v in entry.items()
                        if isinstance(v, dict) and "score" in v})
        rows.append(row)
    if not rows:
        raise UserError(f"{path}: no architecture under {dataset!r}")
    return pd.DataFrame(rows)


def _naslib_arch(path: Path, key: str) -> Arch:
    try:
        ops = ast.literal_eval(str(key))
        return Arch.from_naslib(tuple(int(o) for o in ops))
    except (ValueError, SyntaxError, TypeError, ArchError):
        raise UserError(f"{path}: key {key!r} is not a NASLib op-index tuple "
                        "'(o0, o1, o2, o3, o4, o5)'") from None


def _score_columns(df: pd.DataFrame, path: Path, wanted) -> list[str]:
    if wanted:
        missing = [s for s in wanted if s not in df.columns]
        if missing:
            raise UserError(f"{path} has no score column {', '.join(missing)}")
        names = list(dict.fromkeys(wanted))
    else:
        names = [c for c in df.columns if c not in NOT_SCORES]
    bad = [c for c in names if not pd.api.types.is_numeric_dtype(df[c])]
    if bad:
        raise UserError(f"{path}: column(s) {', '.join(map(str, bad))} are not numeric scores")
    if not names:
        raise UserError(f"{path} has no score column (numeric columns other than index, arch "
                        "and ground truth)")
    return [str(c) for c in names]
