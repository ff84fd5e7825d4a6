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
from .precision import PRECISIONS, autocast_dtype, cuda_tf32
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
    precision: str = "fp32"  # fp32 (reference) | bf16 autocast forward (nasi.precision)
    tf32: bool = False  # CUDA TensorFloat-32 convolutions / matmuls

    def __post_init__(self):
        object.__setattr__(self, "dataset", get_dataset(self.dataset).name)
        checks = [
            (self.batch_size >= 1, f"batch size must be >= 1, got {self.batch_size}"),
            (self.labels in LABEL_MODES, f"labels must be one of {LABEL_MODES}"),
            (self.loss in LOSSES, f"loss must be one of {LOSSES}"),
            (self.bn in BN_STATISTICS_MODES, f"bn mode must be one of {BN_STATISTICS_MODES}"),
            (self.init in INITS, f"init must be one of {INITS}"),
            (self.C >= 1 and self.N >= 1, "C and N must be >= 1"),
            (self.precision in PRECISIONS, f"precision must be one of {PRECISIONS}"),
            (isinstance(self.tf32, bool), "tf32 must be True or False"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ScoreError(msg)

    def as_dict(self) -> dict:
        return asdict(self)

    def key(self, batch_fingerprint: str) -> str:
        """Stable id of (config, exact batch) for caches: 16 hex chars. The precision options
        enter only when not the default, so float32 keys are those of earlier versions."""
        blob = json.dumps({**self.key_dict(), "batch": batch_fingerprint}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def key_dict(self) -> dict:
        """:meth:`as_dict` without precision options at their float32 defaults."""
        out = self.as_dict()
        if out["precision"] == "fp32":
            del out["precision"]
        if not out["tf32"]:
            del out["tf32"]
        return out

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
    model.autocast_dtype = autocast_dtype(cfg.precision)
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
    with cuda_tf32(device, cfg.tf32):
        for s in scores:
            if s.needs_network and not arch.is_connected:
                out[s.name] = s.disconnected_value  # the network ignores its input; not run
            else:
                out[s.name] = float(s.fn(ctx))
    return out


@dataclass(frozen=True)
class Batch:
    """The mini-batch a run scores on, with its identity: ``fingerprint`` (nasi.data) is what
    caches and summaries record, ``info`` says where it came from (:func:`make_batch`)."""

    x: torch.Tensor
    y: torch.Tensor
    fingerprint: str
    info: dict


def make_batch(cfg: ScoreConfig, device: torch.device | str = "cpu") -> Batch:
    """The batch ``cfg`` describes (dataset, data, batch size, labels, seed)."""
    from .data import load_batch_with_info

    x, y, info = load_batch_with_info(cfg.dataset, cfg.data, cfg.batch_size, cfg.seed,
                                      cfg.labels, device)
    return Batch(x, y, info["fingerprint"], info)


def check_batch(cfg: ScoreConfig, x: torch.Tensor, y: torch.Tensor) -> Batch:
    """``(x, y)`` as a :class:`Batch` if it is exactly the batch ``cfg`` describes, else a
    ScoreError naming the difference (size, input shape, label range, labels, inputs).

    A configuration is recorded beside every score, so a batch that differs from it would
    record data that was never used; to score a batch of your own, describe it in the config
    (``data=<dataset path>``) or score the network directly (``harness.score_model``).
    """
    spec = get_dataset(cfg.dataset)
    shape = (cfg.batch_size, *spec.input_shape)
    if tuple(x.shape) != shape:
        raise ScoreError(f"batch inputs have shape {tuple(x.shape)}, the config describes "
                         f"{shape} (batch_size={cfg.batch_size}, dataset {spec.name})")
    if tuple(y.shape) != (cfg.batch_size,):
        raise ScoreError(f"batch labels have shape {tuple(y.shape)}, expected "
                         f"({cfg.batch_size},)")
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= spec.num_classes):
        raise ScoreError(f"batch labels lie in {int(y.min())}..{int(y.max())}, dataset "
                         f"{spec.name} has classes 0..{spec.num_classes - 1}")
    want = make_batch(cfg)
    if not torch.equal(y.detach().cpu().long(), want.y):
        raise ScoreError(f"batch labels are not the labels={cfg.labels!r} labels of the config "
                         f"(data={cfg.data!r}, seed={cfg.seed}); pass batch=None to build the "
                         "config's batch")
    if not torch.equal(x.detach().cpu().float(), want.x):
        raise ScoreError(f"batch inputs are not the data={cfg.data!r} inputs of the config "
                         f"(seed={cfg.seed}); pass batch=None to build the config's batch")
    return want
