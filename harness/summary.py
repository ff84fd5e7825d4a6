"""Run summaries, typed and versioned: what ``harness.rank`` computed (:class:`RunSummary`)
and what ``harness.search`` found (:class:`SearchSummary`).

``harness.rank`` builds a :class:`RunSummary` and writes it as ``summary.json`` beside
``ranking.csv``; ``harness.report`` reads it back with :meth:`RunSummary.from_json` (or gets it
in memory from the rank command). Unknown keys are refused, missing optional ones read as
"not recorded" (None) and are not written back, so a hand-written summary stays honest.

Format versions: 0 = written before the field ``format_version`` existed (same layout as 1);
1 = before ``config.precision`` / ``config.tf32`` (every such run scored in float32, so it
reads as precision "fp32"); 2 = without ``outputs``; 3 = current: ``outputs`` fingerprints the
ranking.csv written with the summary (rows and sha256), which ``harness.report`` checks
(docs/outputs.md).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.errors import UserError

RANK_KIND = "nasi-harness.rank"
FORMAT_VERSION = 3
PRECISION_SINCE = 2  # format version that records config.precision


class SummaryError(UserError):
    """A summary.json that is not a readable rank summary."""


@dataclass(frozen=True)
class RunConfig:
    """What the scores were computed from: the score configuration (:class:`nasi.scoring.
    ScoreConfig` fields), the scores, the benchmark, the architectures and the exact batch."""

    dataset: str
    batch_size: int | None = None
    labels: str | None = None
    data: str | None = None
    loss: str | None = None
    bn: str | None = None
    init: str | None = None
    seed: int | None = None
    C: int | None = None
    N: int | None = None
    precision: str | None = None  # fp32 | bf16 (nasi.precision)
    tf32: bool | None = None
    scores: list[str] = field(default_factory=list)
    benchmark: str | None = None
    selection: dict | None = None
    batch_fingerprint: str | None = None
    data_description: dict | None = None


@dataclass(frozen=True)
class ScoreInfo:
    higher_is_better: bool | None = None
    description: str | None = None
    disconnected_value: float | None = None


@dataclass(frozen=True)
class EngineInfo:
    """Where the time went: isomorphism classes wanted, read from the cache, computed."""

    classes: int
    classes_cached: int
    classes_computed: int
    compute_seconds: float
    executor: dict


@dataclass(frozen=True)
class RunSummary:
    config: RunConfig
    scores: dict[str, ScoreInfo] = field(default_factory=dict)
    environment: dict = field(default_factory=dict)
    targets: list[str] = field(default_factory=list)
    n_archs: int | None = None
    n_disconnected: int | None = None
    engine: EngineInfo | None = None
    wall_time_s: float | None = None
    correlations: list[dict] = field(default_factory=list)
    outputs: dict | None = None  # {"ranking.csv": {"rows": n, "sha256": hex}}
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(
        timespec="seconds"))
    kind: str = RANK_KIND
    format_version: int = FORMAT_VERSION

    @property
    def dataset(self) -> str:
        return self.config.dataset

    def to_json(self) -> dict:
        """A JSON-ready dict (None = not recorded, left out)."""
        out = {"kind": self.kind, "format_version": self.format_version,
               "created": self.created, "config": _drop_none(asdict(self.config)),
               "environment": self.environment,
               "scores": {n: _drop_none(asdict(s)) for n, s in self.scores.items()},
               "targets": self.targets, "n_archs": self.n_archs,
               "n_disconnected": self.n_disconnected,
               "engine": None if self.engine is None else asdict(self.engine),
               "wall_time_s": self.wall_time_s, "correlations": self.correlations,
               "outputs": self.outputs}
        return _drop_none(out)

    def dumps(self) -> str:
        return json.dumps(self.to_json(), indent=2, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, data: Any, source: str = "summary") -> RunSummary:
        """Check and type a parsed summary.json; a SummaryError names what is wrong."""
        if not isinstance(data, dict):
            raise SummaryError(f"{source} does not hold a JSON object")
        kind = data.get("kind", RANK_KIND)
        if kind != RANK_KIND:
            raise SummaryError(f"{source} is a {kind!r} summary, not a harness.rank run")
        version = data.get("format_version", 0)
        if not isinstance(version, int) or not 0 <= version <= FORMAT_VERSION:
            raise SummaryError(f"{source} has format_version {version!r}; this harness reads "
                               f"0..{FORMAT_VERSION} (a newer nasi-harness wrote it?)")
        _refuse_unknown(data, cls, source)
        config = data.get("config")
        if not isinstance(config, dict) or "dataset" not in config:
            raise SummaryError(f"{source} has no config.dataset")
        raw_scores = data.get("scores") if isinstance(data.get("scores"), dict) else {}
        config = {"scores": list(raw_scores), **config}
        if version < PRECISION_SINCE:
            config.setdefault("precision", "fp32")
        _refuse_unknown(config, RunConfig, f"{source} config")
        if not config["scores"]:
            raise SummaryError(f"{source} names no score (config.scores)")
        scores = {}
        for name, info in raw_scores.items():
            info = info if isinstance(info, dict) else {}
            _refuse_unknown(info, ScoreInfo, f"{source} scores.{name}")
            scores[name] = ScoreInfo(**info)
        engine = data.get("engine")
        try:
            return cls(config=RunConfig(**config), scores=scores,
                       environment=data.get("environment") or {},
                       targets=list(data.get("targets") or []), n_archs=data.get("n_archs"),
                       n_disconnected=data.get("n_disconnected"),
                       engine=EngineInfo(**engine) if isinstance(engine, dict) else None,
                       wall_time_s=data.get("wall_time_s"),
                       correlations=list(data.get("correlations") or []),
                       outputs=data.get("outputs"), created=data.get("created"),
                       format_version=version)
        except TypeError as exc:
            raise SummaryError(f"{source}: {exc}") from None

    @classmethod
    def read(cls, path: Path) -> RunSummary:
        return cls.from_json(read_json(path), str(path))


def read_json(path: Path) -> Any:
    """A summary file's JSON, or a one-line SummaryError saying why it cannot be read."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise SummaryError(f"cannot read {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise SummaryError(f"{path} is not valid JSON ({exc.msg}, line {exc.lineno})") \
            from None


def _drop_none(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


def _refuse_unknown(data: dict, cls, source: str) -> None:
    unknown = sorted(set(data) - {f.name for f in fields(cls)})
    if unknown:
        raise SummaryError(f"{source} has unknown field(s) {', '.join(unknown)}")


SEARCH_KIND = "nasi-harness.search"
SEARCH_FORMAT_VERSION = 2  # 2: outputs (the sha256 of the report.md published with it)


@dataclass(frozen=True)
class SearchSummary:
    """What ``harness.search`` found: per group (dataset searched on, data, labels) the
    record of every seed and mean ± std of each evaluation column, beside the published rows
    and the benchmark's optimum."""

    config: dict  # the method's config, seeds, groups, device, executor, benchmark
    environment: dict
    columns: dict[str, str]  # evaluation column -> what it is
    std: str  # which standard deviation
    groups: list[dict]  # name, dataset, data, labels, title, runs, stats[, random_baseline_*]
    paper: list[dict]  # the published rows (benchmarks.published)
    paper_source: str
    optimum: dict
    wall_time_s: float
    exact: dict | None = None  # NASI: the exact-gradient check
    outputs: dict | None = None  # {"report.md": {"sha256": ...}}: the set it was published with
    created: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(
        timespec="seconds"))
    kind: str = SEARCH_KIND
    format_version: int = SEARCH_FORMAT_VERSION

    def to_json(self) -> dict:
        """A JSON-ready dict; ``runs`` / ``stats`` repeat the first group's for readers of
        one-group searches."""
        out = {"kind": self.kind, "format_version": self.format_version,
               "created": self.created, "config": self.config,
               "environment": self.environment, "columns": self.columns, "std": self.std,
               "runs": self.groups[0]["runs"], "stats": self.groups[0]["stats"],
               "groups": self.groups, "paper": self.paper, "paper_source": self.paper_source,
               "optimum": self.optimum, "wall_time_s": self.wall_time_s, "exact": self.exact,
               "outputs": self.outputs}
        return _drop_none(out)

    @classmethod
    def from_json(cls, data: Any, source: str = "summary") -> SearchSummary:
        if not isinstance(data, dict) or data.get("kind") != SEARCH_KIND:
            raise SummaryError(f"{source} is not a harness.search summary")
        version = data.get("format_version", 0)
        if not isinstance(version, int) or not 0 <= version <= SEARCH_FORMAT_VERSION:
            raise SummaryError(f"{source} has format_version {version!r}; this harness reads "
                               f"0..{SEARCH_FORMAT_VERSION}")
        known = {f.name for f in fields(cls)} | {"runs", "stats"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SummaryError(f"{source} has unknown field(s) {', '.join(unknown)}")
        try:
            body = {k: v for k, v in data.items() if k not in ("runs", "stats")}
            return cls(**{**body, "format_version": version})
        except TypeError as exc:
            raise SummaryError(f"{source}: {exc}") from None
