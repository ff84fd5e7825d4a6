"""The runs a report reads: a ``harness.rank`` folder (ranking.csv + summary.json), its
ground truth completed from the embedded table, labelled and described."""

from __future__ import annotations

import io
import re
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import pandas as pd

from benchmarks.columns import ACCURACY_COLUMNS, TEST_COLUMN
from harness.analysis import correlation as C
from harness.errors import UserError
from harness.provenance import fingerprint, write_set
from harness.summary import RunConfig, RunSummary
from nasi.datasets import DATASETS, display_name, get_dataset
from nasi.space import all_archs

UNKNOWN = "unknown"  # a setting the input does not record (scores from elsewhere)


# accuracy columns of the embedded table (filled in when a ranking.csv lacks them)
READ_ATTEMPTS = 4  # reads of a run folder while a writer may be publishing it
_EMBEDDED_ACCURACY = ("cifar10_test", "cifar10_valid", "cifar10_valid_oritest", "cifar100_test",
                      "imagenet16_test")


@dataclass
class Run:
    given: str  # the path as given on the command line
    summary: RunSummary
    df: pd.DataFrame
    scores: list[str]
    directions: dict[str, bool]
    dataset: str
    filled_columns: list[str] = field(default_factory=list)
    label: str = ""

    @property
    def config(self) -> RunConfig:
        return self.summary.config

    @property
    def labels(self) -> str:
        return UNKNOWN if self.config.labels is None else str(self.config.labels)

    @property
    def data(self) -> str:
        return UNKNOWN if self.config.data is None else str(self.config.data)

    @property
    def data_mode(self) -> str:
        return self.data if self.data in ("gaussian", UNKNOWN) else "real"

    @property
    def mode_known(self) -> bool:
        """False for scores from elsewhere that do not say their labels and data."""
        return UNKNOWN not in (self.labels, self.data)

    @property
    def standard(self) -> bool:
        return self.labels == "true" and self.data_mode == "real"

    @property
    def input_text(self) -> str:
        """Labels and data of the scoring batch, e.g. 'true labels, real data'."""
        data = {"gaussian": "Gaussian data", UNKNOWN: "unknown data"}.get(self.data_mode,
                                                                          "real data")
        if self.data_mode == "real" and self.data not in ("real", ""):
            data = f"real data from {self.data}"
        # Gaussian batches have no true labels: theirs are drawn uniformly, whatever --labels
        # said (nasi.data; the summary's data_description.label_source says so too)
        labels = "random" if self.data_mode == "gaussian" else self.labels
        return f"{labels} labels, {data}"

    @property
    def mode_text(self) -> str:
        """input_text, plus the precision where it is not the float32 reference."""
        return self.input_text + ("" if self.precision == "fp32" else f", {self.precision_text}")

    @property
    def precision(self) -> str:
        return str(self.config.precision or "fp32")

    @property
    def device(self) -> str:
        env = self.summary.environment
        dev, name = env.get("device"), env.get("device_name")
        if dev and name and str(name) != str(dev):
            return f"{dev} ({name})"
        return str(dev or name or UNKNOWN)

    @property
    def from_table(self) -> bool:
        """True for scores computed elsewhere (harness.reporting.score_tables)."""
        return (self.config.selection or {}).get("mode") == "score table"

    @property
    def source_kind(self) -> str:
        return "score table" if self.from_table else "run directory"

    @property
    def table_name(self) -> str:
        return Path(self.given).name if self.from_table else "ranking.csv"

    @property
    def n(self) -> int:
        return len(self.df)

    @property
    def n_connected(self) -> int | None:
        if "connected" not in self.df.columns:
            return None
        return int(C.subset_mask(self.df, "connected").sum())

    def context(self) -> str:
        """One line saying what every number of this run was computed from."""
        c = {k: UNKNOWN if v is None else v for k, v in asdict(self.config).items()}
        return (f"scores computed on {display_name(self.dataset)} ({self.input_text}), "
                f"batch {c['batch_size']}, seed {c['seed']}, "
                f"loss {c['loss']}, BN {c['bn']}, init {c['init']}, "
                f"device {self.device}, {self.precision_text}; {self.n:,} archs")

    @property
    def precision_text(self) -> str:
        return "float32" if self.precision == "fp32" else f"{self.precision} autocast"


def _fill_ground_truth(df: pd.DataFrame, benchmark) -> list[str]:
    """Add ground-truth columns missing from ranking.csv from the embedded benchmark table."""
    if str(benchmark or "embedded") != "embedded":
        return []
    keys = [spec.key for spec in DATASETS.values()]
    wanted = list(_EMBEDDED_ACCURACY) + [f"{p}_{k}" for k in keys for p in ("params", "flops")]
    missing = [c for c in wanted if c not in df.columns]
    if not missing:
        return []
    from benchmarks import load_benchmark

    table = load_benchmark()
    missing = [c for c in missing if c in table.columns]
    if not missing:
        return []
    idx = pd.to_numeric(df["index"], errors="coerce")
    if idx.isna().any() or not idx.between(0, len(table) - 1).all():
        raise UserError("ranking.csv has an index outside 0..15624")
    for c in missing:
        df[c] = table[c].to_numpy()[idx.astype(int).to_numpy()]
    return missing


def load_run(run_dir, summary: RunSummary | None = None) -> Run:
    """Read a ``harness.rank`` run directory: its ranking.csv, and its summary.json unless the
    ``summary`` is handed over in memory (by the rank command that just wrote it)."""
    path = Path(run_dir)
    if not path.exists():
        raise UserError(f"run directory {path} does not exist")
    if not path.is_dir():
        raise UserError(f"{path} is not a directory (expected a harness.rank run directory)")
    ranking = path / "ranking.csv"
    if not ranking.is_file():
        raise UserError(f"{path} has no ranking.csv (expected the output of "
                        "python -m harness.rank)")
    summary, df = _read_consistent(path, summary)
    if "index" not in df.columns:
        raise UserError(f"{ranking} has no 'index' column")
    if "connected" in df.columns and df["connected"].dtype != bool:
        df["connected"] = C.subset_mask(df, "connected")
    missing = [s for s in summary.config.scores if s not in df.columns]
    if missing:
        raise UserError(f"{ranking} lacks the score column(s) {', '.join(missing)}")
    return load_table_run(str(run_dir), summary, df)


def load_table_run(given: str, summary: RunSummary, df: pd.DataFrame) -> Run:
    """A Run from a table holding ``index`` and the summary's score columns (the structure
    columns and the ground truth are added when missing)."""
    if "arch" not in df.columns or "connected" not in df.columns:
        archs = [all_archs()[int(i)] for i in df["index"]]
        df = df.copy()
        for pos, (col, values) in enumerate((("arch", [a.string for a in archs]),
                                             ("iso_key", [a.iso_key for a in archs]),
                                             ("connected", [a.is_connected for a in archs]))):
            if col not in df.columns:
                df.insert(1 + pos, col, values)
    scores = summary.config.scores
    directions = {}
    for s in scores:
        info = summary.scores.get(s)
        hib = None if info is None else info.higher_is_better
        directions[s] = bool(_registry_direction(s) if hib is None else hib)
    filled = _fill_ground_truth(df, summary.config.benchmark)
    return Run(given=given, summary=summary, df=df, scores=list(scores),
               directions=directions, dataset=get_dataset(summary.dataset).name,
               filled_columns=filled)


def write_run(out: Path, table: pd.DataFrame, summary: RunSummary) -> RunSummary:
    """Publish a run folder as one set: ranking.csv, then the summary.json that fingerprints
    it (rows, sha256), both staged first (docs/outputs.md). Returns the summary written."""
    ranking = table.to_csv(index=False)
    summary = replace(summary, outputs={
        "ranking.csv": {"rows": len(table), "sha256": fingerprint(ranking)}})
    Path(out).mkdir(parents=True, exist_ok=True)
    write_set(Path(out), {"ranking.csv": ranking, "summary.json": summary.dumps()})
    return summary


def _read_consistent(path: Path, summary: RunSummary | None) -> tuple[RunSummary, pd.DataFrame]:
    """summary.json and ranking.csv of one generation. A writer publishes ranking.csv, then
    the summary that fingerprints it, so a mismatch seen while one runs is retried briefly;
    one that stays means a mix of two runs or an interrupted write (docs/outputs.md)."""
    problem = ""
    for attempt in range(READ_ATTEMPTS):
        if attempt:
            time.sleep(0.2 * attempt)
        current = summary if summary is not None else _read_summary(path)
        ranking = path / "ranking.csv"
        try:
            raw = ranking.read_bytes()
        except OSError as exc:
            raise UserError(f"cannot read {ranking}: {exc.strerror or exc}") from None
        try:
            df = pd.read_csv(io.BytesIO(raw), dtype={"arch": str, "iso_key": str})
        except (ValueError, pd.errors.ParserError) as exc:
            problem = f"cannot be parsed ({str(exc).splitlines()[0]})"
            continue
        problem = _mismatch(current, raw, len(df))
        if not problem:
            return current, df
    raise UserError(f"{path}: ranking.csv {problem}: the folder mixes two runs or a write was "
                    "interrupted; rerun python -m harness.rank into it (cached scores are "
                    "reused)")


def _read_summary(path: Path) -> RunSummary:
    summary_path = path / "summary.json"
    if not summary_path.is_file():
        raise UserError(f"{path} has no summary.json (expected the output of "
                        "python -m harness.rank)")
    return RunSummary.read(summary_path)


def _mismatch(summary: RunSummary, raw: bytes, rows: int) -> str:
    """Why ranking.csv (its bytes, its row count) does not belong to ``summary``; '' if it
    does. A summary without a fingerprint (format < 2) is checked on row count only."""
    recorded = (summary.outputs or {}).get("ranking.csv")
    if isinstance(recorded, dict) and recorded.get("sha256"):
        if fingerprint(raw) != recorded["sha256"]:
            return (f"({rows} rows) is not the file summary.json was written with "
                    f"({recorded.get('rows')} rows, sha256 differs)")
        return ""
    if summary.n_archs is not None and rows != summary.n_archs:
        return f"has {rows} rows but summary.json records {summary.n_archs} architectures"
    if raw and not raw.endswith(b"\n"):
        return "ends in the middle of a line (truncated)"
    return ""


def _registry_direction(score: str) -> bool:
    try:
        from nasi.scores import get_score

        return get_score(score).higher_is_better
    except Exception:  # noqa: BLE001 - unknown score: assume higher is better
        return True


def label_runs(runs: list[Run]) -> None:
    bases = []
    for r in runs:
        base = r.dataset
        if r.labels not in ("true", UNKNOWN):
            base += f"-{r.labels}labels"
        if r.data_mode == "gaussian":
            base += "-gaussian"
        if r.precision != "fp32":
            base += f"-{r.precision}"
        bases.append(base)
    for i, (r, base) in enumerate(zip(runs, bases, strict=True)):
        r.label = base if bases.count(base) == 1 else f"{base}-run{i + 1}"


def targets_of(run: Run) -> list[str]:
    """Accuracy columns of the run's own dataset, test column first."""
    cols = [c for c, spec in ACCURACY_COLUMNS.items()
            if spec.dataset == run.dataset and c in run.df.columns]
    test = TEST_COLUMN.get(run.dataset)
    return sorted(cols, key=lambda c: (c != test, list(ACCURACY_COLUMNS).index(c)))


def baselines_of(run: Run) -> list[str]:
    key = DATASETS[run.dataset].key
    return [c for c in (f"params_{key}", f"flops_{key}")
            if c in run.df.columns and c not in run.scores]


def run_prefix(run: Run) -> dict:
    return {"run": run.label, "dataset": run.dataset, "labels": run.labels,
            "data": run.data, "batch_size": run.config.batch_size, "run_seed": run.config.seed}


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
