"""Score one architecture under one fully specified, recorded configuration.

Reproducibility: the network of an architecture is initialised from a seed derived from
(global seed, isomorphism key) (:func:`nasi.seeding.arch_seed`), so a score depends neither
on the order in which architectures are scored nor on sharding or resuming, and isomorphic
architectures (which build the same network) share one score. The mini-batch is fixed per
run (see nasi.data) and identified by its fingerprint.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields

import torch
from torch import nn

from .data import LABEL_MODES
from .datasets import get_dataset
from .init import INITS, apply_init
from .network import NB201Network
from .scores import ScoreError, ScoringContext, get_score
from .scores.context import LOSSES
from .seeding import arch_seed
from .space import Arch

# Which BatchNorm statistics a scored network uses: "train" = the batch's (as NB201 networks
# at initialisation), "eval" = the running statistics.
BN_STATISTICS_MODES = ("train", "eval")


@dataclass(frozen=True)
class ScoreConfig:
    """Everything that changes a score value, besides the architecture and the score name."""

    dataset: str = "cifar10"
    batch_size: int = 64
    labels: str = "true"  # true | random (uniform over the dataset's classes)
    data: str = "real"  # real (embedded sample) | gaussian | a dataset path
    loss: str = "ce"  # ce | mse (on one-hot targets)
    bn: str = "train"  # train: batch statistics, as NB201 nets at init; eval: running stats
    init: str = "pytorch"  # see nasi.init
    seed: int = 0
    C: int = 16
    N: int = 5

    def __post_init__(self):
        object.__setattr__(self, "dataset", get_dataset(self.dataset).name)
        checks = [
            (self.batch_size >= 1, f"batch size must be >= 1, got {self.batch_size}"),
            (self.labels in LABEL_MODES, f"labels must be one of {LABEL_MODES}"),
            (self.loss in LOSSES, f"loss must be one of {LOSSES}"),
            (self.bn in BN_STATISTICS_MODES, f"bn mode must be one of {BN_STATISTICS_MODES}"),
            (self.init in INITS, f"init must be one of {INITS}"),
            (self.C >= 1 and self.N >= 1, "C and N must be >= 1"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ScoreError(msg)

    def as_dict(self) -> dict:
        return asdict(self)

    def key(self, batch_fingerprint: str) -> str:
        """Stable id of (config, exact batch) for caches: 16 hex chars."""
        blob = json.dumps({**self.as_dict(), "batch": batch_fingerprint}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


def build_scoring_model(arch: Arch, cfg: ScoreConfig, device: torch.device | str = "cpu",
                        prune: bool = True, channels_last: bool = False,
                        checkpoint: bool = False) -> nn.Module:
    """The initialised network of ``arch`` as it is scored under ``cfg``.

    ``prune`` only skips work (see nasi.network.edge_plan): weights and the function are the
    same, since every module is still created in the benchmark's order from the same seed.
    ``checkpoint`` trades compute for activation memory, same function (NB201Network).
    """
    torch.manual_seed(arch_seed(cfg.seed, arch))
    model = NB201Network(arch, num_classes=get_dataset(cfg.dataset).num_classes, C=cfg.C,
                         N=cfg.N, prune=prune)
    apply_init(model, cfg.init)
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    model.train(cfg.bn == "train")
    model.checkpoint_cells = checkpoint
    return model


def score_architecture(arch: Arch, names: list[str], cfg: ScoreConfig, x: torch.Tensor,
                       y: torch.Tensor, device: torch.device | str = "cpu", prune: bool = True,
                       channels_last: bool = False, checkpoint: bool = False) -> dict[str, float]:
    """Score values of ``arch`` for each name; one shared network and batch."""
    scores = [get_score(n) for n in names]

    def make_model():
        return build_scoring_model(arch, cfg, device, prune, channels_last, checkpoint)

    run_network = arch.is_connected and any(s.needs_network for s in scores)
    ctx = ScoringContext(make_model() if run_network else None, x, y,
                         get_dataset(cfg.dataset).num_classes, cfg.loss, make_model,
                         arch=arch, config=cfg)
    out: dict[str, float] = {}
    for s in scores:
        if s.needs_network and not arch.is_connected:
            out[s.name] = s.disconnected_value  # the network ignores its input; not run
        else:
            out[s.name] = float(s.fn(ctx))
    return out
