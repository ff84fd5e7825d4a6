"""The three NAS-Bench-201 datasets: shapes, classes and the normalisation NB201 trained with."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DatasetSpec:
    name: str  # the benchmark's dataset name
    key: str  # short name used in column names (cifar10_test, imagenet16_test, ...)
    num_classes: int
    image_size: int
    mean: tuple[float, float, float]  # per RGB channel, on [0, 1] pixels
    std: tuple[float, float, float]
    display_name: str  # as reports and figures write it (CIFAR-10, CIFAR-100, ImageNet16-120)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (3, self.image_size, self.image_size)


# Normalisation constants of xautodl's get_dataset_with_transform (values / 255).
DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec("cifar10", "cifar10", 10, 32,
                    (125.3 / 255, 123.0 / 255, 113.9 / 255), (63.0 / 255, 62.1 / 255, 66.7 / 255),
                    "CIFAR-10"),
        DatasetSpec("cifar100", "cifar100", 100, 32,
                    (129.3 / 255, 124.1 / 255, 112.4 / 255), (68.2 / 255, 65.4 / 255, 70.4 / 255),
                    "CIFAR-100"),
        DatasetSpec("ImageNet16-120", "imagenet16", 120, 16,
                    (122.68 / 255, 116.66 / 255, 104.01 / 255),
                    (63.22 / 255, 61.26 / 255, 65.09 / 255), "ImageNet16-120"),
    )
}
DATASET_ORDER: tuple[str, ...] = tuple(DATASETS)  # the order of every table and figure
_ALIASES = {
    "cifar10": "cifar10", "cifar-10": "cifar10", "cifar10-valid": "cifar10",
    "cifar100": "cifar100", "cifar-100": "cifar100",
    "imagenet16-120": "ImageNet16-120", "imagenet16": "ImageNet16-120",
    "imagenet16_120": "ImageNet16-120",
}


class DatasetError(ValueError):
    """An unknown dataset name."""


def get_dataset(name: str) -> DatasetSpec:
    """Look a dataset up by its benchmark name or a common alias (case-insensitive)."""
    canonical = _ALIASES.get(str(name).strip().lower())
    if canonical is None:
        raise DatasetError(
            f"unknown dataset {name!r}; expected one of cifar10, cifar100, ImageNet16-120"
        )
    return DATASETS[canonical]


def display_name(name: str) -> str:
    """How reports write a benchmark dataset name ('cifar10' -> 'CIFAR-10'); any other text
    (an alias included) is returned as is."""
    spec = DATASETS.get(name)
    return spec.display_name if spec else name
