"""Fixed scoring mini-batches: the embedded CIFAR-10 sample, Gaussian inputs, or a dataset path.

One call gives one fixed mini-batch for a NAS-Bench-201 dataset::

    x, y = load_batch("cifar10", data="real", batch_size=64, seed=0, labels="true")

``x`` is float32 NCHW, ``y`` int64. What ``data`` may be:

* ``"real"``: the real CIFAR-10 sample shipped in ``nasi/data/cifar10_sample.npz`` (500
  CIFAR-10 test images, 50 per class; see ``nasi/data/SAMPLE_SOURCE.md``). Only for cifar10:
  CIFAR-100 and ImageNet16-120 have no embedded sample, so they need a path or ``"gaussian"``.
* ``"gaussian"``: NASI's data-agnostic variant. The inputs are i.i.d. N(0, 1) of the dataset's
  input shape, and this tensor **is** the network input: it is not normalised again (it already
  has zero mean and unit variance per channel, which is what normalisation aims for). There are
  no true labels for noise, so ``labels="true"`` with Gaussian data gives uniformly random labels,
  exactly the ones ``labels="random"`` gives.
* any other string or path: a dataset on disk, format detected from the folder's content:

  - CIFAR-10 python pickles (``cifar-10-batches-py``: ``data_batch_1..5`` / ``test_batch``, each
    a dict with ``data`` (N x 3072 uint8, channel-major) and ``labels``);
  - CIFAR-100 python pickles (``cifar-100-python``: ``train`` / ``test``, ``fine_labels``);
  - ImageNet16 pickles as xautodl's ``ImageNet16`` reads them (``train_data_batch_1..10`` /
    ``val_data``, ``data`` N x 768 uint8 channel-major 3x16x16, ``labels`` 1-based in 1..1000).
    As in NB201's ImageNet16-120 only labels 1..120 are kept, shifted to 0..119;
  - an image folder ``ROOT/<class_name>/**/*.png|jpg|jpeg`` as torchvision's ``ImageFolder``:
    classes sorted by name give the label index; images are decoded with Pillow and converted to
    RGB. Unlike ImageFolder, folders whose name starts with ``.`` are skipped.

  A folder that holds ``cifar-10-batches-py``, ``cifar-100-python`` or ``ImageNet16`` (a
  torchvision / xautodl data root) is accepted too. Keys may be ``bytes`` (``b'data'``, as
  ``pickle.load(f, encoding='bytes')`` shows them) or ``str``. The readers are in
  :mod:`nasi.data_sources`; pickles are read with a restricted unpickler that only builds
  numpy arrays and plain containers.

``split`` picks the part of a pickle dataset: ``"train"`` (the default) or ``"test"`` (for
ImageNet16 ``"test"``/``"val"``/``"valid"`` all mean ``val_data``, the 6k original test images that
NB201 splits into its valid/test halves). For an image folder, ``split="x"`` reads ``ROOT/x``.
The embedded sample is CIFAR-10 *test* images, so only ``split=None`` or ``"test"`` fit it.

Images are normalised as NB201 trained its networks: ``(pixel / 255 - mean) / std`` per RGB
channel, with the dataset's constants from :mod:`nasi.datasets` (torchvision's ``ToTensor`` then
``Normalize``, in float32). No augmentation. The image size must be the dataset's (32 for CIFAR,
16 for ImageNet16-120); labels must lie in ``0..num_classes-1``.

Batch selection: a seeded random sample, without replacement, of ``batch_size`` images from the
whole pool (the split's images in file order), drawn with ``torch.randperm`` from a private
``torch.Generator`` seeded with ``seed`` (never the global RNG): the same seed gives the identical
batch in any process. Gaussian inputs come from a generator seeded with ``seed`` as well. Random
labels come from a separate generator whose seed is derived from ``seed`` by a hash
(:func:`derived_seed`, namespace ``nasi.data`` of :mod:`nasi.seeding`), so they are independent
of the image draw and identical for any data source with the same dataset, batch size and seed.

:func:`batch_fingerprint` hashes the exact batch bytes; record it with every score.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
import torch

from . import seeding
from .data_sources import (
    SAMPLE_FILE,
    DataError,
    detect_format,
    load_cifar10_sample,
    open_pool,
    read_cifar,
    read_image_folder,
    read_imagenet16,
)
from .datasets import DatasetError, DatasetSpec, get_dataset

__all__ = [
    "DataError", "DATA_KEYWORDS", "LABEL_MODES", "SAMPLE_FILE", "load_batch",
    "load_batch_with_info", "describe_data", "batch_fingerprint", "derived_seed",
    "load_cifar10_sample", "detect_format", "read_cifar", "read_imagenet16", "read_image_folder",
]

DATA_KEYWORDS = ("real", "gaussian")
LABEL_MODES = ("true", "random")  # the one definition: true labels or uniform random ones


def derived_seed(seed: int, purpose: str) -> int:
    """A 63-bit seed derived from (seed, purpose) by SHA-256: stable across processes/platforms
    (namespace ``nasi.data`` of :func:`nasi.seeding.derive_seed`)."""
    return seeding.derive_seed(seeding.DATA, seed, purpose)


def _random_labels(spec: DatasetSpec, batch_size: int, seed: int) -> torch.Tensor:
    g = seeding.torch_generator(derived_seed(seed, "labels"))
    return torch.randint(0, spec.num_classes, (batch_size,), generator=g, dtype=torch.int64)


def normalise(images: np.ndarray, spec: DatasetSpec) -> torch.Tensor:
    """uint8 N x H x W x 3 -> float32 N x 3 x H x W, ``(pixel / 255 - mean) / std`` (NB201)."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div(255)
    mean = torch.tensor(spec.mean, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(spec.std, dtype=torch.float32).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous()


def _check_args(dataset, data, batch_size, seed, labels) -> DatasetSpec:
    try:
        spec = get_dataset(dataset)
    except DatasetError as e:
        raise DataError(str(e)) from e
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise DataError(f"batch_size must be an int >= 1, got {batch_size!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise DataError(f"seed must be an int in [0, 2**63), got {seed!r}")
    if labels not in LABEL_MODES:
        raise DataError(f"labels must be one of {LABEL_MODES}, got {labels!r}")
    if not isinstance(data, (str, os.PathLike)):
        raise DataError(f"data must be 'real', 'gaussian' or a path, got {data!r}")
    return spec



def _gaussian_batch(spec: DatasetSpec, batch_size: int, seed: int
                    ) -> tuple[torch.Tensor, torch.Tensor, dict]:
    x = torch.randn((batch_size, *spec.input_shape), generator=seeding.torch_generator(seed),
                    dtype=torch.float32)
    y = _random_labels(spec, batch_size, seed)
    info = dict(source="gaussian", format="gaussian", path=None, split=None,
                n_available=None, indices=None,
                label_source="uniform random (gaussian data has no true labels)",
                label_seed=derived_seed(seed, "labels"),
                normalisation="none: i.i.d. N(0,1) inputs are the network input as drawn")
    return x, y, info


def _check_pool(pool, spec: DatasetSpec, batch_size: int) -> None:
    where = pool.path or "data='real' (embedded CIFAR-10 sample)"
    if pool.side and pool.side != spec.image_size:
        raise DataError(f"{where}: images are {pool.side}x{pool.side}, dataset {spec.name} "
                        f"expects {spec.image_size}x{spec.image_size}")
    if pool.num_classes > spec.num_classes:
        raise DataError(f"{where}: {pool.num_classes} classes (labels up to "
                        f"{pool.num_classes - 1}), dataset {spec.name} has only "
                        f"{spec.num_classes}; expected labels 0..{spec.num_classes - 1}")
    if batch_size > len(pool):
        raise DataError(f"{where}: only {len(pool)} images available, batch_size "
                        f"{batch_size} requested; expected batch_size <= {len(pool)}")


def _pool_batch(spec: DatasetSpec, data, split: str | None, batch_size: int, seed: int,
                labels: str) -> tuple[torch.Tensor, torch.Tensor, dict]:
    pool = open_pool(spec, data, split)
    _check_pool(pool, spec, batch_size)
    generator = seeding.torch_generator(seed)
    idx = torch.randperm(len(pool), generator=generator)[:batch_size].numpy()
    images = pool.get(idx)
    want = (spec.image_size, spec.image_size, 3)
    for i, im in zip(idx, images, strict=True):
        if im.shape != want:
            raise DataError(f"{pool.image_name(int(i))}: image is {im.shape[0]}x{im.shape[1]}"
                            f", dataset {spec.name} expects {want[0]}x{want[1]}")
    images = np.stack(images) if isinstance(images, list) else images
    x = normalise(images, spec)
    if labels == "true":
        y = torch.from_numpy(pool.labels[idx].astype(np.int64))
        label_source, label_seed = "dataset", None
    else:
        y = _random_labels(spec, batch_size, seed)
        label_source, label_seed = "uniform random", derived_seed(seed, "labels")
    info = dict(source="embedded-sample" if data == "real" else "path", format=pool.fmt,
                path=pool.path, split=pool.split, n_available=len(pool),
                indices=[int(i) for i in idx], label_source=label_source,
                label_seed=label_seed,
                normalisation={"formula": "(pixel/255 - mean) / std",
                               "mean": list(spec.mean), "std": list(spec.std)},
                **pool.extra)
    return x, y, info


def load_batch_with_info(dataset: str, data: str | os.PathLike = "real", batch_size: int = 64,
                         seed: int = 0, labels: str = "true", device="cpu",
                         split: str | None = None) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """:func:`load_batch` plus the dict :func:`describe_data` returns, in one read of the data."""
    spec = _check_args(dataset, data, batch_size, seed, labels)
    batch_size, seed = int(batch_size), int(seed)
    info = {"dataset": spec.name, "batch_size": batch_size, "seed": seed, "labels": labels,
            "input_shape": [batch_size, *spec.input_shape]}
    if isinstance(data, str) and data == "gaussian":
        x, y, source_info = _gaussian_batch(spec, batch_size, seed)
    else:
        x, y, source_info = _pool_batch(spec, data, split, batch_size, seed, labels)
    info.update(source_info)
    info["fingerprint"] = batch_fingerprint(x, y)
    return x.to(device), y.to(device), info


def load_batch(dataset: str, data: str | os.PathLike = "real", batch_size: int = 64,
               seed: int = 0, labels: str = "true", device="cpu",
               split: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One fixed mini-batch ``(x, y)``: x float32 N x 3 x H x W, y int64, on ``device``.

    dataset: cifar10 | cifar100 | ImageNet16-120 (or an alias, see nasi.datasets).
    data: 'real' (embedded CIFAR-10 sample), 'gaussian' (N(0,1) inputs, used as-is, random
    labels), or a path to CIFAR / ImageNet16 pickles or an image folder (module docstring).
    labels: 'true' (the images' labels) or 'random' (uniform over the dataset's classes).
    split: for pickle datasets 'train' (default) or 'test'; for an image folder a sub-folder.
    Raises DataError for bad input.
    """
    x, y, _ = load_batch_with_info(dataset, data, batch_size, seed, labels, device, split)
    return x, y


def describe_data(dataset: str, data: str | os.PathLike = "real", batch_size: int = 64,
                  seed: int = 0, labels: str = "true", split: str | None = None) -> dict:
    """What :func:`load_batch` with these arguments gives, for reports: dataset, source, format,
    path, split, n_available, batch_size, seed, labels, label_source, label_seed, normalisation,
    indices (into the pool), input_shape and the batch fingerprint. Reads the data once; use
    :func:`load_batch_with_info` to get the batch and this dict together."""
    return load_batch_with_info(dataset, data, batch_size, seed, labels, "cpu", split)[2]


def batch_fingerprint(x: torch.Tensor, y: torch.Tensor) -> str:
    """sha1 (first 16 hex digits) of the batch's dtypes, shapes and exact bytes."""
    h = hashlib.sha1()
    for t in (x, y):
        t = t.detach().to("cpu").contiguous()
        h.update(f"{t.dtype}{tuple(t.shape)};".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else
                 t.view(torch.int16).numpy().tobytes())
    return h.hexdigest()[:16]
