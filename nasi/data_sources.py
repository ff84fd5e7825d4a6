"""Where scoring images come from: dataset folders on disk (CIFAR-10/100 and ImageNet16
pickles, image folders) and the embedded CIFAR-10 sample, each read as an :class:`ImagePool`.

The formats and splits accepted are described in :mod:`nasi.data`; this module only reads
them. Pickles are read with a restricted unpickler that only builds numpy arrays and plain
containers.
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

from .datasets import DatasetSpec

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
class ImagePool:
    """N images with known labels from one source, decoded on demand."""

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
                 what: str, keep_max: int | None, split: str) -> ImagePool:
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
    return ImagePool(fmt, str(root), split, side, all_labels, n_classes, get,
                     {"files": list(files)})


def _cifar_pool(fmt: str, root: Path, split: str) -> ImagePool:
    if fmt == "cifar10-pickle":
        files = {"train": CIFAR10_TRAIN, "test": CIFAR10_TEST}.get(split)
        key, what = "labels", "CIFAR-10 python batch (cifar-10-batches-py)"
    else:
        files = {"train": ("train",), "test": ("test",)}.get(split)
        key, what = "fine_labels", "CIFAR-100 python file (cifar-100-python)"
    if files is None:
        raise DataError(f"{root}: split {split!r} unknown for {what}; expected 'train' or 'test'")
    return _pickle_pool(fmt, root, files, key, 32, what, None, split)


def _imagenet16_pool(root: Path, split: str) -> ImagePool:
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


def _image_folder_pool(root: Path, split: str | None) -> ImagePool:
    classes, files, labels = _scan_image_folder(root)

    def get(indices: np.ndarray) -> list[np.ndarray]:
        return [_decode_image(files[i]) for i in indices]

    return ImagePool("image-folder", str(root), split, 0, labels, len(classes), get,
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


def _sample_pool(split: str | None) -> ImagePool:
    if split not in (None, "test"):
        raise DataError(f"data='real': the embedded sample holds CIFAR-10 test images only, "
                        f"split {split!r} unavailable; expected split None or 'test', or a path")
    s = load_cifar10_sample()
    images = s["images"]
    return ImagePool("cifar10-sample-npz", None, "test", int(images.shape[1]),
                     np.asarray(s["labels"], dtype=np.int64), len(s["class_names"]),
                     lambda idx: images[idx], {"sample_sha256": s["sha256"]})


# ---------------------------------------------------------------------------------------------
# One entry point


def open_pool(spec: DatasetSpec, data, split: str | None) -> ImagePool:
    """The pool of ``data`` ('real' or a path; see :mod:`nasi.data`) for dataset ``spec``."""
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

