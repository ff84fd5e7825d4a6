"""Which published anchors (:mod:`benchmarks.published`) apply to one of our scores on a
dataset, which of our columns to compare with, and what differs between the two."""

from __future__ import annotations

from benchmarks.columns import ACCURACY_COLUMNS, TEST_COLUMN
from benchmarks.published import ANCHORS, KENDALL, PEARSON, SPEARMAN, Anchor

METRIC_LABELS = {KENDALL: "Kendall tau", SPEARMAN: "Spearman rho", PEARSON: "Pearson r"}


def canonical_score(name: str) -> str:
    """Our score name as anchors know it: 'params_cifar10' -> 'params', 'FLOPs' -> 'flops'."""
    n = str(name).strip().lower()
    for prefix in ("params", "flops"):
        if n == prefix or n.startswith(prefix + "_"):
            return prefix
    return {"gradnorm": "grad_norm", "jacov": "jacob_cov", "nwot": "naswot",
            "zen_score": "zen", "aznas": "az_nas"}.get(n, n)


def anchors_for(score: str, dataset: str, kind: str = "accuracy") -> list[Anchor]:
    """Anchors that apply to our ``score`` on ``dataset`` (accuracy correlations by default;
    ``kind='labels'`` / ``'data'`` for the agnostic Pearson anchors)."""
    name = canonical_score(score)
    return [a for a in ANCHORS
            if a.kind == kind and a.dataset == dataset and name in a.scores]


def comparison_column(anchor: Anchor, available) -> str | None:
    """Which of our columns to compare an anchor with: the one with the anchor's split when we
    have it, else our test column of the anchor's dataset (then a note says so)."""
    available = set(available)
    if anchor.column and anchor.column in available:
        return anchor.column
    col = TEST_COLUMN.get(anchor.dataset)
    return col if col in available else None


def _family(release: str) -> str:
    return "NATS" if "NATS" in release else "NB201"


def comparison_notes(anchor: Anchor, our_column: str | None, *, our_n: int | None = None,
                     our_batch=None) -> list[str]:
    """Differences between an anchor's protocol and the number we print beside it."""
    notes = []
    if our_column is None:
        return ["we have no accuracy column for this dataset"]
    ours = ACCURACY_COLUMNS[our_column]
    if (ours.api_dataset, ours.eval_set, ours.epochs) != (anchor.api_dataset, anchor.eval_set,
                                                          anchor.epochs):
        notes.append(f"split differs: anchor used {anchor.api_dataset}:{anchor.eval_set}"
                     f"@{anchor.epochs}, ours is {ours.api_dataset}:{ours.eval_set}"
                     f"@{ours.epochs}")
    elif _family(ours.release) != _family(anchor.release):
        notes.append(f"same split, benchmark release differs ({anchor.release} vs ours "
                     f"{ours.release})")
    if our_n is not None and anchor.n_archs != str(our_n):
        notes.append(f"anchor used {anchor.n_archs} archs, ours {our_n}")
    if our_batch is not None and anchor.batch != str(our_batch):
        notes.append(f"anchor batch {anchor.batch}, ours {our_batch}")
    if anchor.absolute:
        notes.append("anchor is |value|: compare magnitudes")
    return notes
