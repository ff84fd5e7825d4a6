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
  ``pickle.load(f, encoding='bytes')`` shows them) or ``str``. Pickles are read with a
  restricted unpickler that only builds numpy arrays and plain containers.

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
(:func:`derived_seed`), so they are independent of the image draw and identical for any data
source with the same dataset, batch size and seed.

:func:`batch_fingerprint` hashes the exact batch bytes; record it with every score.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import pickle
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from .datasets import DatasetError, DatasetSpec, get_dataset

__all__ = [
    "DataError", "DATA_KEYWORDS", "LABEL_MODES", "SAMPLE_FILE", "load_batch",
    "load_batch_with_info", "describe_data", "batch_fingerprint", "derived_seed",
    "load_cifar10_sample", "detect_format", "read_cifar", "read_imagenet16", "read_image_folder",
]

DATA_KEYWORDS = ("real", "gaussian")
LABEL_MODES = ("true", "random")
SAMPLE_FILE = "data/cifar10_sample.npz"  # inside the nasi package
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
CIFAR10_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_TEST = ("test_batch",)
IMAGENET16_TRAIN = tuple(f"train_data_batch_{i}" for i in range(1, 11))
IMAGENET16_VAL = ("val_data",)
IMAGENET16_CLASSES = 120  # NB201's ImageNet16-120 keeps ImageNet labels 1..120


class DataError(ValueError):
    """Bad data input: missing path, unknown layout, size or class mismatch, too few images."""


# ---------------------------------------------------------------------------------------------
# Pickle reading


_PICKLE_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
}


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickler that builds numpy arrays and plain containers only (no arbitrary code)."""

    def find_class(self, module, name):
        if (module, name) in _PICKLE_ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")


def _load_pickle_dict(path: Path, what: str) -> dict:
    try:
        with open(path, "rb") as f:
            obj = _ArrayUnpickler(f, encoding="latin1").load()
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e}); expected a {what}") from e
    except Exception as e:  # any unpickling failure: truncated, wrong format, refused global
        raise DataError(f"{path}: not a readable pickle ({type(e).__name__}: {e}); "
                        f"expected a {what}") from e
    if not isinstance(obj, dict):
        raise DataError(f"{path}: pickle holds a {type(obj).__name__}, expected a dict ({what})")
    # Python-2 pickles give str keys under latin1, Python-3 ones written with bytes keys bytes.
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _read_pickle_batch(path: Path, label_key: str, side: int, what: str):
    entry = _load_pickle_dict(path, what)
    missing = [k for k in ("data", label_key) if k not in entry]
    if missing:
        raise DataError(f"{path}: missing key(s) {missing}; expected a {what} with keys "
                        f"'data' and {label_key!r}")
    data = np.asarray(entry["data"])
    labels = np.asarray(entry[label_key]).astype(np.int64).reshape(-1)
    width = 3 * side * side
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != width:
        raise DataError(f"{path}: 'data' is {data.dtype} {data.shape}, expected uint8 N x {width} "
                        f"(channel-major 3x{side}x{side} images; {what})")
    if len(labels) != len(data):
        raise DataError(f"{path}: {len(data)} images but {len(labels)} labels in {label_key!r}")
    return data, labels


def _rows_to_hwc(rows: np.ndarray, side: int) -> np.ndarray:
    return np.ascontiguousarray(rows.reshape(-1, 3, side, side).transpose(0, 2, 3, 1))


# ---------------------------------------------------------------------------------------------
# Image pools: every source is a pool of N images with known labels, decoded on demand.


@dataclass
class _Pool:
    fmt: str
    path: str | None
    split: str | None
    side: int  # image side if known for the whole pool, else 0 (image folder: checked per image)
    labels: np.ndarray  # int64, 0-based, one per image
    num_classes: int  # classes the source defines (used for the range check)
    get: object  # callable(indices) -> sequence of uint8 H x W x 3 images (array or list)
    extra: dict = field(default_factory=dict)
    name: object = None  # callable(index) -> how to name one image in a message

    def image_name(self, i: int) -> str:
        return self.name(i) if self.name else f"{self.path or 'sample'}: image {i}"

    def __len__(self) -> int:
        return len(self.labels)


def _pickle_pool(fmt: str, root: Path, files: tuple[str, ...], label_key: str, side: int,
                 what: str, keep_max: int | None, split: str) -> _Pool:
    missing = [f for f in files if not (root / f).is_file()]
    if missing:
        raise DataError(f"{root}: missing {', '.join(missing)}; expected the {split} files "
                        f"{', '.join(files)} of a {what}")
    chunks, labels = [], []
    for name in files:
        data, lab = _read_pickle_batch(root / name, label_key, side, what)
        if keep_max is not None:  # ImageNet16-120: keep labels 1..keep_max, shift to 0-based
            keep = (lab >= 1) & (lab <= keep_max)
            data, lab = data[keep], lab[keep] - 1
        chunks.append(data)
        labels.append(lab)
    offsets = np.cumsum([0] + [len(c) for c in chunks])
    all_labels = np.concatenate(labels) if labels else np.zeros(0, np.int64)

    def get(indices: np.ndarray) -> np.ndarray:
        which = np.searchsorted(offsets, indices, side="right") - 1
        rows = np.stack([chunks[w][i - offsets[w]] for w, i in zip(which, indices, strict=True)])
        return _rows_to_hwc(rows, side)

    n_classes = int(all_labels.max()) + 1 if len(all_labels) else 0
    if len(all_labels) and all_labels.min() < 0:
        raise DataError(f"{root}: negative labels in {label_key!r}; expected 0-based class ids")
    return _Pool(fmt, str(root), split, side, all_labels, n_classes, get,
                 {"files": list(files)})


def _cifar_pool(fmt: str, root: Path, split: str) -> _Pool:
    if fmt == "cifar10-pickle":
        files = {"train": CIFAR10_TRAIN, "test": CIFAR10_TEST}.get(split)
        key, what = "labels", "CIFAR-10 python batch (cifar-10-batches-py)"
    else:
        files = {"train": ("train",), "test": ("test",)}.get(split)
        key, what = "fine_labels", "CIFAR-100 python file (cifar-100-python)"
    if files is None:
        raise DataError(f"{root}: split {split!r} unknown for {what}; expected 'train' or 'test'")
    return _pickle_pool(fmt, root, files, key, 32, what, None, split)


def _imagenet16_pool(root: Path, split: str) -> _Pool:
    if split == "train":
        files = IMAGENET16_TRAIN
    elif split in ("test", "val", "valid"):
        files, split = IMAGENET16_VAL, "val"
    else:
        raise DataError(f"{root}: split {split!r} unknown for ImageNet16; expected 'train' or "
                        "'val' (alias 'test'/'valid': val_data)")
    return _pickle_pool("imagenet16-pickle", root, files, "labels", 16,
                        "ImageNet16 pickle batch (xautodl ImageNet16 layout)",
                        IMAGENET16_CLASSES, split)


def _scan_image_folder(root: Path) -> tuple[list[str], list[Path], np.ndarray]:
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    if not classes:
        raise DataError(f"{root}: no class folders; expected ROOT/<class_name>/*.png|jpg, "
                        "CIFAR / ImageNet16 pickle batches, or 'real' / 'gaussian'")
    files: list[Path] = []
    labels: list[int] = []
    empty = []
    for label, name in enumerate(classes):
        found = []
        for dirpath, dirnames, filenames in os.walk(root / name, followlinks=True):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            found += [Path(dirpath) / f for f in sorted(filenames)
                      if f.lower().endswith(IMAGE_EXTENSIONS) and not f.startswith(".")]
        if not found:
            empty.append(name)
        files += found
        labels += [label] * len(found)
    if empty:
        raise DataError(f"{root}: no .png/.jpg/.jpeg images in class folder(s) {empty[:5]}; "
                        "expected ROOT/<class_name>/*.png|jpg")
    return classes, files, np.asarray(labels, dtype=np.int64)


def _decode_image(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except (OSError, UnidentifiedImageError) as e:
        raise DataError(f"{path}: cannot decode image ({e}); expected a PNG or JPEG") from e


def _image_folder_pool(root: Path, split: str | None) -> _Pool:
    classes, files, labels = _scan_image_folder(root)

    def get(indices: np.ndarray) -> list[np.ndarray]:
        return [_decode_image(files[i]) for i in indices]

    return _Pool("image-folder", str(root), split, 0, labels, len(classes), get,
                 {"classes": classes}, lambda i: str(files[i]))


def read_image_folder(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Decode a whole ``ROOT/<class>/*.png|jpg`` folder: (uint8 N x H x W x 3, int64 labels,
    class names). All images must have the same size."""
    root = Path(path)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; expected ROOT/<class_name>/*.png|jpg")
    classes, files, labels = _scan_image_folder(root)
    images = [_decode_image(f) for f in files]
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise DataError(f"{root}: images of different sizes {sorted(shapes)[:3]}; "
                        "expected one size")
    return np.stack(images), labels, classes


def read_cifar(path: str | os.PathLike, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Read a CIFAR-10 (``cifar-10-batches-py``) or CIFAR-100 (``cifar-100-python``) pickle folder:
    (uint8 N x 32 x 32 x 3, int64 labels) of ``split`` ('train' or 'test')."""
    fmt, root = detect_format(path)
    if fmt not in ("cifar10-pickle", "cifar100-pickle"):
        raise DataError(f"{root}: looks like {fmt}, expected a CIFAR-10/100 python pickle folder")
    pool = _cifar_pool(fmt, root, split)
    return pool.get(np.arange(len(pool))), pool.labels


def read_imagenet16(path: str | os.PathLike, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Read ImageNet16 pickle batches as NB201's ImageNet16-120: (uint8 N x 16 x 16 x 3, int64
    labels 0..119); images with ImageNet labels above 120 are dropped."""
    fmt, root = detect_format(path)
    if fmt != "imagenet16-pickle":
        raise DataError(f"{root}: looks like {fmt}, expected ImageNet16 pickle batches")
    pool = _imagenet16_pool(root, split)
    return pool.get(np.arange(len(pool))), pool.labels


def detect_format(path: str | os.PathLike) -> tuple[str, Path]:
    """Return (format, folder) for a dataset path: 'cifar10-pickle', 'cifar100-pickle',
    'imagenet16-pickle' or 'image-folder'. Raises DataError for anything else."""
    root = Path(path).expanduser()
    expected = ("expected 'real', 'gaussian', a CIFAR-10/100 python pickle folder, "
                "ImageNet16 pickle batches or an image folder ROOT/<class>/*.png|jpg")
    if not root.exists():
        raise DataError(f"{root}: data path does not exist; {expected}")
    if not root.is_dir():
        raise DataError(f"{root}: is a file, unknown data format; {expected}")

    def has(*names):
        return any((root / n).is_file() for n in names)

    if has(*CIFAR10_TRAIN, *CIFAR10_TEST):
        return "cifar10-pickle", root
    if has("train", "test") and (has("meta") or not _has_subdirs(root)):
        return "cifar100-pickle", root
    if has(*IMAGENET16_TRAIN, *IMAGENET16_VAL):
        return "imagenet16-pickle", root
    for sub in ("cifar-10-batches-py", "cifar-100-python", "ImageNet16"):
        if (root / sub).is_dir():
            return detect_format(root / sub)
    if _has_subdirs(root):
        return "image-folder", root
    raise DataError(f"{root}: empty folder or unknown data layout; {expected}")


def _has_subdirs(root: Path) -> bool:
    return any(d.is_dir() and not d.name.startswith(".") for d in root.iterdir())


# ---------------------------------------------------------------------------------------------
# The embedded CIFAR-10 sample


@functools.lru_cache(maxsize=1)
def load_cifar10_sample() -> dict[str, np.ndarray]:
    """The embedded real CIFAR-10 sample as read-only arrays: images (500 x 32 x 32 x 3 uint8),
    labels (int64), source, class_rank, test_index, class_names. See SAMPLE_SOURCE.md."""
    raw = resources.files("nasi").joinpath(SAMPLE_FILE).read_bytes()
    with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
        out = {k: npz[k] for k in npz.files}
    for arr in out.values():
        arr.setflags(write=False)
    out["sha256"] = hashlib.sha256(raw).hexdigest()
    return out


def _sample_pool(split: str | None) -> _Pool:
    if split not in (None, "test"):
        raise DataError(f"data='real': the embedded sample holds CIFAR-10 test images only, "
                        f"split {split!r} unavailable; expected split None or 'test', or a path")
    s = load_cifar10_sample()
    images = s["images"]
    return _Pool("cifar10-sample-npz", None, "test", int(images.shape[1]),
                 np.asarray(s["labels"], dtype=np.int64), len(s["class_names"]),
                 lambda idx: images[idx], {"sample_sha256": s["sha256"]})


# ---------------------------------------------------------------------------------------------
# Batches


def derived_seed(seed: int, purpose: str) -> int:
    """A 63-bit seed derived from (seed, purpose) by SHA-256: stable across processes/platforms."""
    digest = hashlib.sha256(f"nasi.data:{int(seed)}:{purpose}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def _generator(seed: int) -> torch.Generator:
    g = torch.Generator(device="cpu")
    g.manual_seed(seed)
    return g


def _random_labels(spec: DatasetSpec, batch_size: int, seed: int) -> torch.Tensor:
    g = _generator(derived_seed(seed, "labels"))
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


def _open_pool(spec: DatasetSpec, data, split: str | None) -> _Pool:
    if isinstance(data, str) and data == "real":
        if spec.name != "cifar10":
            raise DataError(f"data='real': no real sample is embedded for {spec.name} (only for "
                            f"cifar10); pass data=<path to {spec.name} data> or data='gaussian'")
        return _sample_pool(split)
    fmt, root = detect_format(data)
    if fmt == "image-folder":
        if split is not None:
            sub = root / split
            if not sub.is_dir():
                raise DataError(f"{root}: no folder {split!r} for split={split!r}; expected "
                                f"{sub}/<class_name>/*.png|jpg (or split=None for {root} itself)")
            fmt, root = detect_format(sub)
            if fmt != "image-folder":
                raise DataError(f"{sub}: holds {fmt}; pass {root} with split=None instead")
        return _image_folder_pool(root, split)
    side = 16 if fmt == "imagenet16-pickle" else 32
    if side != spec.image_size:
        raise DataError(f"{root}: {fmt} images are {side}x{side}, dataset {spec.name} expects "
                        f"{spec.image_size}x{spec.image_size}")
    split = "train" if split is None else split
    return _imagenet16_pool(root, split) if fmt == "imagenet16-pickle" else \
        _cifar_pool(fmt, root, split)


def load_batch_with_info(dataset: str, data: str | os.PathLike = "real", batch_size: int = 64,
                         seed: int = 0, labels: str = "true", device="cpu",
                         split: str | None = None) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """:func:`load_batch` plus the dict :func:`describe_data` returns, in one read of the data."""
    spec = _check_args(dataset, data, batch_size, seed, labels)
    batch_size, seed = int(batch_size), int(seed)
    info = {"dataset": spec.name, "batch_size": batch_size, "seed": seed, "labels": labels,
            "input_shape": [batch_size, *spec.input_shape]}
    if isinstance(data, str) and data == "gaussian":
        x = torch.randn((batch_size, *spec.input_shape), generator=_generator(seed),
                        dtype=torch.float32)
        y = _random_labels(spec, batch_size, seed)
        info.update(source="gaussian", format="gaussian", path=None, split=None,
                    n_available=None, indices=None,
                    label_source="uniform random (gaussian data has no true labels)",
                    label_seed=derived_seed(seed, "labels"),
                    normalisation="none: i.i.d. N(0,1) inputs are the network input as drawn")
    else:
        pool = _open_pool(spec, data, split)
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
        idx = torch.randperm(len(pool), generator=_generator(seed))[:batch_size].numpy()
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
        info.update(source="embedded-sample" if data == "real" else "path", format=pool.fmt,
                    path=pool.path, split=pool.split, n_available=len(pool),
                    indices=[int(i) for i in idx], label_source=label_source,
                    label_seed=label_seed,
                    normalisation={"formula": "(pixel/255 - mean) / std",
                                   "mean": list(spec.mean), "std": list(spec.std)},
                    **pool.extra)
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
