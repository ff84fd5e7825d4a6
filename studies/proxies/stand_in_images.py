"""Natural-image stand-ins for CIFAR-100 and ImageNet16-120 mini-batches (no such images ship).

    python -m studies.proxies.stand_in_images OUT

The zero-cost proxies were published on real training batches of each dataset. Offline we only
have the 500 embedded CIFAR-10 test images, so the CIFAR-100 / ImageNet16-120 rows were first
run on Gaussian noise, which measures something else for data-dependent proxies (jacob_cov
above all). This writes the same 500 images as image folders the harness reads with
``--data PATH``:

- ``OUT/rgb32/<class>/<k>.png`` (the k-th CIFAR-10 test image of the class): the images
  unchanged (lossless PNG), for ``--dataset cifar100 --labels random`` (CIFAR-100
  normalisation, uniform labels over 100);
- ``OUT/rgb16/<class>/<k>.png``: the same images 2x2 box-averaged to 16x16 (rounded to
  uint8), how ImageNet16 was made from ImageNet (Chrabaszcz et al. 2017 chose the box
  filter), for ``--dataset ImageNet16-120 --labels random``.

The images are natural 32x32 photographs like CIFAR-100's, but of other classes; the labels are
random. Every report row made from these folders says so.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from nasi.data import load_cifar10_sample


def box_downsample(images: np.ndarray) -> np.ndarray:
    """N x 32 x 32 x 3 uint8 -> N x 16 x 16 x 3 uint8, mean of each 2x2 block, rounded."""
    n, h, w, c = images.shape
    blocks = images.astype(np.float64).reshape(n, h // 2, 2, w // 2, 2, c)
    return np.rint(blocks.mean(axis=(2, 4))).astype(np.uint8)


def write_folders(out: Path) -> None:
    s = load_cifar10_sample()
    names = [str(n) for n in s["class_names"]]
    for sub, images in (("rgb32", s["images"]), ("rgb16", box_downsample(s["images"]))):
        for img, label, rank in zip(images, s["labels"], s["class_rank"], strict=True):
            folder = out / sub / names[int(label)]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(folder / f"{int(rank):02d}.png")  # k-th test image of class
        print(f"{out / sub}: {len(images)} images {images.shape[1]}x{images.shape[2]}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m studies.proxies.stand_in_images OUT")
    write_folders(Path(sys.argv[1]))
