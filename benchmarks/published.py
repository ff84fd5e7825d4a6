"""Published numbers the harness compares with, in one place: correlation anchors (a proxy's
score vs benchmark accuracy, or its agreement under random labels / data) and search results
on NAS-Bench-201 / NATS-Bench.

Every entry says its source (paper / table / repository file), the accuracy it refers to
(benchmark key, eval split, epochs, release), the number of architectures or seeds, and a
confidence tag (``docs/nasi-method.md``): **P** = primary (the paper or repository output
itself), **S** = secondary (quoted by another source). Values are as printed (rounded as
printed); where a source removed the sign (``absolute=True``) compare with the magnitude.
Transcribed from the reference notes summarised in ``docs/nasi-method.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.columns import ACCURACY_COLUMNS
from nasi.datasets import DATASET_ORDER

KENDALL, SPEARMAN, PEARSON = "kendall_tau", "spearman_rho", "pearson"
DATASETS = DATASET_ORDER  # our dataset names, in report order


@dataclass(frozen=True)
class Anchor:
    """A published correlation (or agreement) of one proxy on one dataset."""

    proxy: str  # the proxy's name as published
    scores: tuple[str, ...]  # our score names it applies to (see canonical_score)
    dataset: str  # our dataset name (cifar10, cifar100, ImageNet16-120)
    metric: str  # kendall_tau | spearman_rho | pearson
    value: float
    source: str
    api_dataset: str  # benchmark dataset key of the accuracy the anchor used
    eval_set: str  # its eval split (ori-test, x-test, x-valid)
    epochs: int
    release: str
    n_archs: str  # "15625", "~1000 (random sample)", ...
    batch: str  # the proxy's mini-batch, as published
    confidence: str  # P | S
    note: str = ""
    absolute: bool = False  # the source printed |value|
    relation: str = "="  # "=", "~" (approximately), ">" (lower bound)
    kind: str = "accuracy"  # accuracy: score vs accuracy; labels / data: agnostic Pearson
    space: str = "NB201"

    @property
    def target_label(self) -> str:
        """The accuracy the anchor used, in the format of benchmarks.columns labels."""
        return f"{self.api_dataset}:{self.eval_set}@{self.epochs} [{self.release}]"

    @property
    def column(self) -> str | None:
        """Our ground-truth column with the same benchmark key, split and epochs, if any."""
        for name, col in ACCURACY_COLUMNS.items():
            if (col.api_dataset, col.eval_set, col.epochs) == (self.api_dataset, self.eval_set,
                                                                self.epochs):
                return name
        return None

    def shown(self) -> str:
        prefix = {"=": "", "~": "~", ">": ">"}[self.relation]
        body = f"{self.value:.3f}".rstrip("0").rstrip(".")
        return f"{prefix}{'|' + body + '|' if self.absolute else body}"


# -- helpers building the tables ------------------------------------------------------------

_NATS = "NATS-Bench tss, version not stated"
_NB201_V10 = "NB201 v1.0"
_NATS_TEST = {"cifar10": ("cifar10", "ori-test"), "cifar100": ("cifar100", "x-test"),
              "ImageNet16-120": ("ImageNet16-120", "x-test")}
_NB201_TEST = {"cifar10": ("cifar10-valid", "ori-test"), "cifar100": ("cifar100", "x-test"),
               "ImageNet16-120": ("ImageNet16-120", "x-test")}
_VALID = {"cifar10": ("cifar10-valid", "x-valid"), "cifar100": ("cifar100", "x-valid"),
          "ImageNet16-120": ("ImageNet16-120", "x-valid")}


def _rows(proxy, scores, metric, values, *, splits, **kw):
    return [Anchor(proxy, tuple(scores), ds, metric, v, api_dataset=splits[ds][0],
                   eval_set=splits[ds][1], **kw)
            for ds, v in zip(DATASETS, values, strict=True)]


_ZICO_SRC = "ZiCo (Li et al., ICLR 2023), Tables 1/3, NATS-Bench-TSS"
_ZICO_KW = dict(splits=_NATS_TEST, source=_ZICO_SRC, epochs=200, release=_NATS,
                n_archs="15625", batch="2x128", confidence="P")
# (proxy, our score names, (KT c10, c100, in16), (SPR c10, c100, in16))
_ZICO_TABLE = [
    ("grad_norm", ("grad_norm",), (0.46, 0.47, 0.43), (0.63, 0.63, 0.58)),
    ("SNIP", ("snip",), (0.46, 0.46, 0.43), (0.63, 0.63, 0.58)),
    ("GraSP", ("grasp",), (0.37, 0.36, 0.40), (0.54, 0.51, 0.56)),
    ("Fisher", ("fisher",), (0.40, 0.41, 0.37), (0.55, 0.55, 0.50)),
    ("Synflow", ("synflow",), (0.54, 0.57, 0.56), (0.73, 0.76, 0.75)),
    ("KNAS", ("knas",), (0.14, 0.24, 0.30), (0.20, 0.35, 0.42)),
    ("NASWOT", ("naswot",), (0.58, 0.62, 0.60), (0.77, 0.80, 0.78)),
    ("GradSign", ("gradsign",), (0.58, 0.59, 0.59), (0.77, 0.79, 0.78)),
    ("Zen-score", ("zen",), (0.29, 0.28, 0.29), (0.38, 0.36, 0.40)),
    ("FLOPs", ("flops",), (0.54, 0.51, 0.49), (0.73, 0.71, 0.67)),
    ("#Params", ("params",), (0.57, 0.55, 0.52), (0.75, 0.73, 0.69)),
    ("ZiCo", ("zico",), (0.61, 0.61, 0.60), (0.80, 0.81, 0.79)),
]

# The NTK-trace scores of the registry: NASI's three (Eq. 12, 11, 9) and HNAS's trace. TE-NAS's
# condition number (ntk_cond) is lower-is-better, so a positive correlation does not apply to it.
_NTK_SCORES = ("nasi", "ntk_persample", "ntk_exact", "ntk_trace_hnas")
_NTK_KW = dict(_ZICO_KW, source="ZiCo (Li et al., ICLR 2023), App. E.1 Table 3, row "
                                 "'NTK [TE-NAS, NASI]' (computed with the official code)",
               note="ZiCo does not say which NTK statistic (trace or condition number); NASI's "
                    "own paper reports no score-accuracy correlation")

_ZC_KW = dict(splits=_NB201_TEST, epochs=200, release=_NB201_V10, n_archs="15625", batch="64",
              confidence="P", absolute=True,
              source="Abdelfattah et al. (ICLR 2021), SamsungLabs/zero-cost-nas "
                     "notebooks/nasbench201_correlations.ipynb (saved outputs)",
              note="the notebook prints |rho|; one random batch, seed 42, BN batch statistics")
_ZC_TABLE = [  # Spearman |rho|: C10 (cifar10-valid ori-test), C100, IN16
    ("grad_norm", ("grad_norm",), (0.594, 0.637, 0.578)),
    ("snip", ("snip",), (0.596, 0.637, 0.578)),
    ("grasp", ("grasp",), (0.514, 0.547, 0.549)),
    ("fisher", ("fisher",), (0.360, 0.385, 0.327)),
    ("synflow", ("synflow",), (0.737, 0.763, 0.751)),
    ("jacob_cov", ("jacob_cov",), (0.731, 0.704, 0.701)),
]

ANCHORS: tuple[Anchor, ...] = tuple(
    [a for proxy, names, kt, spr in _ZICO_TABLE
     for a in _rows(proxy, names, KENDALL, kt, **_ZICO_KW)
     + _rows(proxy, names, SPEARMAN, spr, **_ZICO_KW)]
    + _rows("NTK [TE-NAS, NASI]", _NTK_SCORES, KENDALL, (0.33, 0.33, 0.46), **_NTK_KW)
    + _rows("NTK [TE-NAS, NASI]", _NTK_SCORES, SPEARMAN, (0.44, 0.43, 0.63), **_NTK_KW)
    + [a for proxy, names, spr in _ZC_TABLE for a in _rows(proxy, names, SPEARMAN, spr, **_ZC_KW)]
    + _rows("NASWOT (own paper)", ("naswot",), KENDALL, (0.574, 0.611, 0.549), splits=_VALID,
            source="NASWOT (Mellor et al., ICML 2021), Fig. 3", epochs=200, release=_NB201_V10,
            n_archs="~1000 (random sample)", batch="128", confidence="P",
            note="validation accuracy of about 1,000 randomly sampled architectures")
    + [Anchor("AZ-NAS", ("az_nas",), "cifar10", m, v, api_dataset="cifar10",
              eval_set="ori-test", epochs=200, release=_NATS, n_archs="15625", batch="64",
              confidence="P",
              source="AZ-NAS (CVPR 2024), cvlab-yonsei/AZ-NAS NB201/tss_general.ipynb "
                     "(saved outputs)",
              note="a user reproduced only Spearman 0.75 (cvlab-yonsei/AZ-NAS issue #8)")
       for m, v in ((KENDALL, 0.741), (SPEARMAN, 0.913))]
    + [Anchor("TE-NAS (own paper)", ("ntk_cond",), "cifar100", KENDALL, -0.42,
              api_dataset="cifar100", eval_set="x-test", epochs=200, release=_NB201_V10,
              n_archs="not stated", batch="32", confidence="P",
              source="TE-NAS (Chen et al., ICLR 2021), NTK condition number",
              note="the excerpt does not name the dataset; the figure's accuracy axis "
                   "suggests CIFAR-100")]
    # NASI Fig. 1: Pearson between the score with true vs random labels / data (agnostic).
    + [Anchor("NASI (own paper)", ("nasi",), "cifar10", PEARSON, v, api_dataset="-",
              eval_set="-", epochs=0, release="-", n_archs="NB-1Shot1 sample", batch="-",
              confidence="P", relation=rel, kind=kind, space="NAS-Bench-1Shot1",
              source="NASI (Shu et al., ICLR 2022), Fig. 1",
              note=f"Pearson between NASI scores with true and random {what}, on "
                   "NAS-Bench-1Shot1 (a different search space); read off a figure")
       for kind, what, rel, v in (("labels", "labels", "~", 1.0), ("data", "data", ">", 0.9))]
)


SEARCH_COLUMNS = ("cifar10_test", "cifar100_test", "imagenet16_test")
SEARCH_ACCURACY = ("200-epoch test accuracy (%) of the architecture found, mean +- std over "
                   "search runs (NB201 test columns)")


@dataclass(frozen=True)
class SearchResult:
    """A published search result on NB201: accuracy of what it found, per dataset."""

    method: str  # as shown in tables, with the confidence tag
    cost: str  # search cost as published
    accuracy: dict[str, tuple[float, float]]  # SEARCH_COLUMNS -> (mean, std)
    source: str
    confidence: str  # P | S
    role: str  # "nasi": the method we replicate; "anchor": another training-free search


SEARCH_RESULTS: tuple[SearchResult, ...] = (
    SearchResult("NASI (T) [S]", "30 GPU-s (1080Ti)",
                 {"cifar10_test": (93.08, 0.24), "cifar100_test": (69.51, 0.59),
                  "imagenet16_test": (40.87, 0.85)},
                 source="Causal-Znas Table 2 quoting NASI", confidence="S", role="nasi"),
    SearchResult("NASI (4T) [S]", "120 GPU-s (1080Ti)",
                 {"cifar10_test": (93.55, 0.10), "cifar100_test": (71.20, 0.14),
                  "imagenet16_test": (44.84, 1.41)},
                 source="Causal-Znas Table 2 quoting NASI (also on the PapersWithCode "
                        "NATS-Bench-Topology leaderboard)", confidence="S", role="nasi"),
    SearchResult("TE-NAS [S]", "1558 GPU-s",
                 {"cifar10_test": (93.9, 0.47), "cifar100_test": (71.24, 0.56),
                  "imagenet16_test": (42.38, 0.46)},
                 source="third-party notes on the TE-NAS paper", confidence="S",
                 role="anchor"),
    SearchResult("NASWOT (N=1000) [P]", "306 GPU-s (1080Ti)",
                 {"cifar10_test": (92.96, 0.81), "cifar100_test": (69.98, 1.22),
                  "imagenet16_test": (44.44, 2.10)},
                 source="NASWOT (Mellor et al., ICML 2021) Table 2(a)", confidence="P",
                 role="anchor"),
)
NASI_SEARCH_NOTE = ("[S]: secondary source, Causal-Znas Table 2 quoting NASI (also on the "
                    "PapersWithCode NATS-Bench-Topology leaderboard); whether NASI searched on "
                    "CIFAR-10 and transferred is not confirmed; search cost on one 1080Ti GPU.")
