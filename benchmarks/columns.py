"""What every ground-truth column means: benchmark dataset, split, epochs, release, seeds.

Reports print these descriptions next to every correlation, because published numbers mix
splits (``cifar10`` vs ``cifar10-valid``, ``x-valid`` vs ``ori-test``) and epoch counts.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    name: str
    dataset: str  # our dataset name the column is about (cifar10, cifar100, ImageNet16-120)
    api_dataset: str  # the benchmark's dataset key the network was trained under
    eval_set: str  # the benchmark's eval-set name
    epochs: int
    release: str
    description: str

    @property
    def label(self) -> str:
        """Compact provenance label, e.g. 'cifar10-valid:x-valid@200:mean [NB201 v1.1]'."""
        return f"{self.api_dataset}:{self.eval_set}@{self.epochs}:mean [{self.release}]"


_NATS = "NATS-Bench 1.8 tss"
_NB201 = "NB201 v1.1"


def _col(name, dataset, api_dataset, eval_set, epochs, release, what):
    return Column(name, dataset, api_dataset, eval_set, epochs, release,
                  f"{what}; trained {epochs} epochs under '{api_dataset}', evaluated on "
                  f"'{eval_set}', final epoch, mean over seeds ({release})")


ACCURACY_COLUMNS: dict[str, Column] = {c.name: c for c in (
    _col("cifar10_test", "cifar10", "cifar10", "ori-test", 200, _NATS,
         "CIFAR-10 test accuracy % (trained on train+valid, 50k)"),
    _col("cifar10_valid", "cifar10", "cifar10-valid", "x-valid", 200, _NB201,
         "CIFAR-10 validation accuracy % (trained on the 25k train split)"),
    _col("cifar10_valid_oritest", "cifar10", "cifar10-valid", "ori-test", 200, _NB201,
         "CIFAR-10 test accuracy % of the 25k-trained run (zero-cost-nas / NASWOT label)"),
    _col("cifar100_test", "cifar100", "cifar100", "x-test", 200, _NATS,
         "CIFAR-100 test accuracy % (5k test half)"),
    _col("cifar100_valid", "cifar100", "cifar100", "x-valid", 200, _NATS,
         "CIFAR-100 validation accuracy % (5k valid half)"),
    _col("imagenet16_test", "ImageNet16-120", "ImageNet16-120", "x-test", 200, _NATS,
         "ImageNet16-120 test accuracy % (3k test half)"),
    _col("imagenet16_valid", "ImageNet16-120", "ImageNet16-120", "x-valid", 200, _NATS,
         "ImageNet16-120 validation accuracy % (3k valid half)"),
)}

# The main test-accuracy column of each dataset (used by search reports and "best" lookups).
TEST_COLUMN = {"cifar10": "cifar10_test", "cifar100": "cifar100_test",
               "ImageNet16-120": "imagenet16_test"}


def describe(name: str) -> str:
    """Human-readable provenance of a column (accuracy, params or flops)."""
    if name in ACCURACY_COLUMNS:
        return ACCURACY_COLUMNS[name].description
    if name.startswith("params_"):
        return f"parameters of the {name[7:]} network (count; benchmark convention)"
    if name.startswith("flops_"):
        return (f"FLOPs of the {name[6:]} network, millions of conv/linear multiply-accumulates "
                "for one image (benchmark convention)")
    return name
