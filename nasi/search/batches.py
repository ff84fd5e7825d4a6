"""Fresh mini-batches for every search step, drawn from a seeded generator."""

from __future__ import annotations

import torch

from .. import seeding
from ..data import DataError, load_batch
from ..datasets import get_dataset


class BatchStream:
    """A fresh mini-batch per step from a seeded generator (:mod:`nasi.search`, "Fresh
    batches"): real data and paths are read once into a pool, Gaussian data drawn per step."""

    POOL_SIZES = (4096, 2048, 1024, 500, 256, 128)

    def __init__(self, dataset: str, data: str = "real", batch_size: int = 64,
                 labels: str = "true", seed: int = 0, device="cpu"):
        self.spec = get_dataset(dataset)
        self.data, self.b, self.labels, self.device = data, batch_size, labels, device
        self.gen = seeding.torch_generator(seeding.derive_seed(seeding.SEARCH, seed,
                                                                "batches"))
        self.pool_x = self.pool_y = None
        pool_seed = seeding.derive_seed(seeding.SEARCH, seed, "pool") % 2**31
        if data != "gaussian":
            last: Exception | None = None
            for n in (*self.POOL_SIZES, batch_size):
                if n < batch_size:
                    continue
                try:
                    self.pool_x, self.pool_y = load_batch(self.spec.name, data, n,
                                                          seed=pool_seed, labels="true")
                    break
                except DataError as exc:  # pool smaller than n: try the next size
                    last = exc
                    if "images available" not in str(exc):
                        raise
            if self.pool_x is None:
                raise last  # type: ignore[misc]

    @property
    def pool_size(self) -> int | None:
        return None if self.pool_x is None else int(self.pool_x.shape[0])

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.pool_x is None:
            x = torch.randn((self.b, *self.spec.input_shape), generator=self.gen)
            y = torch.randint(0, self.spec.num_classes, (self.b,), generator=self.gen)
        else:
            idx = torch.randperm(self.pool_x.shape[0], generator=self.gen)[: self.b]
            x = self.pool_x[idx]
            if self.labels == "true":
                y = self.pool_y[idx]
            else:
                y = torch.randint(0, self.spec.num_classes, (self.b,), generator=self.gen)
        return x.to(self.device), y.to(self.device)

