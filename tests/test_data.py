"""nasi.data: readers on real-format fixtures written here, the embedded sample, batch rules."""

from __future__ import annotations

import hashlib
import pickle
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nasi.data import (
    DataError,
    batch_fingerprint,
    derived_seed,
    describe_data,
    detect_format,
    load_batch,
    load_batch_with_info,
    load_cifar10_sample,
    read_cifar,
    read_image_folder,
    read_imagenet16,
)
from nasi.datasets import get_dataset

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------
# Fixture writers: the genuine on-disk formats


def _rows(images_hwc: np.ndarray) -> np.ndarray:
    """N x H x W x 3 -> N x (3*H*W) channel-major rows, as CIFAR / ImageNet16 store them."""
    return np.ascontiguousarray(images_hwc.transpose(0, 3, 1, 2).reshape(len(images_hwc), -1))


def _py2_pickle(entries: dict) -> bytes:
    """A Python-2 style pickle (protocol 2, str keys as BINSTRING, numpy.core globals, raw array
    bytes as a py2 str), like the original CIFAR / ImageNet16 files. Values: uint8 arrays,
    lists of ints or bytes."""

    def s(b: bytes) -> bytes:
        return b"U" + bytes([len(b)]) + b if len(b) < 256 else b"T" + struct.pack("<i", len(b)) + b

    def i(v: int) -> bytes:
        return b"K" + bytes([v]) if 0 <= v < 256 else b"J" + struct.pack("<i", v)

    def value(v) -> bytes:
        if isinstance(v, np.ndarray):
            assert v.dtype == np.uint8
            dtype = (b"cnumpy\ndtype\n" + s(b"u1") + b"K\x00K\x01\x87R" + b"(K\x03" + s(b"|")
                     + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb")
            return (b"cnumpy.core.multiarray\n_reconstruct\n" + b"cnumpy\nndarray\n"
                    + b"K\x00\x85" + s(b"b") + b"\x87R" + b"(" + i(1)
                    + b"(" + b"".join(i(d) for d in v.shape) + b"t" + dtype + b"\x89"
                    + s(v.tobytes()) + b"tb")
        if isinstance(v, list):
            return b"](" + b"".join(i(int(x)) for x in v) + b"e"
        return s(v)

    body = b"".join(s(k.encode()) + value(v) for k, v in entries.items())
    return b"\x80\x02}(" + body + b"u."


def _images(rng: np.random.Generator, n: int, side: int) -> np.ndarray:
    return rng.integers(0, 256, size=(n, side, side, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def cifar10_dir(tmp_path_factory):
    """torchvision-style root holding cifar-10-batches-py: 5 train batches of 8, test of 10."""
    root = tmp_path_factory.mktemp("c10")
    d = root / "cifar-10-batches-py"
    d.mkdir()
    rng = np.random.default_rng(0)
    train_imgs, train_labels = [], []
    for b in range(1, 6):
        imgs, labels = _images(rng, 8, 32), [int(v) for v in rng.integers(0, 10, 8)]
        if b == 1:
            imgs[0, 1, 2] = (10, 200, 255)  # known pixel: image 0, row 1, col 2
            labels[0] = 7
        entry = {b"batch_label": f"training batch {b} of 5".encode(), b"labels": labels,
                 b"data": _rows(imgs), b"filenames": [f"img{b}_{k}.png".encode() for k in range(8)]}
        (d / f"data_batch_{b}").write_bytes(pickle.dumps(entry, protocol=2))
        train_imgs.append(imgs)
        train_labels += labels
    test_imgs, test_labels = _images(rng, 10, 32), list(range(10))
    # the test batch in the original Python-2 encoding (str keys once decoded with latin1)
    (d / "test_batch").write_bytes(_py2_pickle(
        {"batch_label": b"testing batch 1 of 1", "labels": test_labels, "data": _rows(test_imgs)}))
    (d / "batches.meta").write_bytes(pickle.dumps(
        {b"label_names": [b"airplane", b"automobile", b"bird", b"cat", b"deer", b"dog", b"frog",
                          b"horse", b"ship", b"truck"], b"num_vis": 3072}, protocol=2))
    return {"root": root, "dir": d, "train": (np.concatenate(train_imgs), np.array(train_labels)),
            "test": (test_imgs, np.array(test_labels))}


@pytest.fixture(scope="module")
def cifar100_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("c100") / "cifar-100-python"
    d.mkdir()
    rng = np.random.default_rng(1)
    out = {"dir": d}
    for split, n in (("train", 30), ("test", 12)):
        imgs = _images(rng, n, 32)
        fine = [int(v) for v in rng.integers(0, 100, n)]
        fine[0] = 99
        entry = {b"filenames": [b"x.png"] * n, b"batch_label": split.encode(),
                 b"fine_labels": fine, b"coarse_labels": [v // 5 for v in fine],
                 b"data": _rows(imgs)}
        (d / split).write_bytes(pickle.dumps(entry, protocol=4))
        out[split] = (imgs, np.array(fine))
    (d / "meta").write_bytes(pickle.dumps({b"fine_label_names": [b"c"] * 100}, protocol=2))
    return out


@pytest.fixture(scope="module")
def imagenet16_dir(tmp_path_factory):
    """xautodl layout: train_data_batch_1..10 + val_data, labels 1-based in 1..1000."""
    d = tmp_path_factory.mktemp("ImageNet16")
    rng = np.random.default_rng(2)
    kept_imgs, kept_labels = [], []
    for name in [f"train_data_batch_{i}" for i in range(1, 11)] + ["val_data"]:
        labels = [1, 120, 121, 500, 1000, int(rng.integers(1, 121)), int(rng.integers(121, 1001))]
        imgs = _images(rng, len(labels), 16)
        imgs[[2, 3, 4, 6]] = 0  # the images that must be filtered out are all-black
        imgs[[0, 1, 5], 0, 0, 0] = 1  # ... and no kept image is
        entry = {"data": _rows(imgs), "labels": labels, "mean": _rows(imgs[:1])[0]}
        if name == "train_data_batch_1":
            (d / name).write_bytes(_py2_pickle({k: v for k, v in entry.items() if k != "mean"}))
        else:
            (d / name).write_bytes(pickle.dumps(entry, protocol=2))
        if name != "val_data":
            keep = [k for k, v in enumerate(labels) if v <= 120]
            kept_imgs.append(imgs[keep])
            kept_labels += [labels[k] - 1 for k in keep]
    return {"dir": d, "train": (np.concatenate(kept_imgs), np.array(kept_labels))}


def _png_folder(root: Path, classes: list[str], per_class: int, side: int, seed: int = 3):
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for label, name in enumerate(sorted(classes)):
        (root / name).mkdir(parents=True)
        for k in range(per_class):
            im = _images(rng, 1, side)[0]
            Image.fromarray(im).save(root / name / f"{k:03d}.png")
            images.append(im)
            labels.append(label)
    return np.stack(images), np.array(labels)


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("imgs")
    images, labels = _png_folder(root, ["dog", "airplane", "cat"], 4, 32)
    (root / ".ipynb_checkpoints").mkdir()  # hidden folders are not classes
    return {"dir": root, "images": images, "labels": labels}


def _denorm(x: torch.Tensor, dataset: str) -> np.ndarray:
    """Invert the NB201 normalisation back to uint8 HWC pixels."""
    spec = get_dataset(dataset)
    mean = np.array(spec.mean).reshape(1, 3, 1, 1)
    std = np.array(spec.std).reshape(1, 3, 1, 1)
    pixels = (x.double().numpy() * std + mean) * 255
    return np.rint(pixels).astype(np.uint8).transpose(0, 2, 3, 1)


# --------------------------------------------------------------------------------------------
# Readers and format detection


def test_cifar10_pickles_shapes_labels_pixels(cifar10_dir):
    imgs, labels = cifar10_dir["train"]
    x, y, info = load_batch_with_info("cifar10", cifar10_dir["root"], batch_size=40, seed=5)
    assert x.shape == (40, 3, 32, 32) and x.dtype == torch.float32 and x.is_contiguous()
    assert y.shape == (40,) and y.dtype == torch.int64
    assert info["format"] == "cifar10-pickle" and info["n_available"] == 40
    assert info["split"] == "train" and Path(info["path"]) == cifar10_dir["dir"]
    idx = np.array(info["indices"])
    assert sorted(idx) == list(range(40))  # all 40 drawn, each once
    assert np.array_equal(y.numpy(), labels[idx])
    assert np.array_equal(_denorm(x, "cifar10"), imgs[idx])  # channel-major rows -> HWC right
    # normalisation against a hand computation for the known pixel (10, 200, 255)
    k = int(np.flatnonzero(idx == 0)[0])
    assert y[k] == 7
    expected = [(10 / 255 - 125.3 / 255) / (63.0 / 255), (200 / 255 - 123.0 / 255) / (62.1 / 255),
                (255 / 255 - 113.9 / 255) / (66.7 / 255)]
    assert x[k, :, 1, 2].tolist() == pytest.approx(expected, abs=1e-5)


def test_cifar10_test_split_py2_pickle_and_readers(cifar10_dir):
    imgs, labels = cifar10_dir["test"]
    x, y, info = load_batch_with_info("cifar10", cifar10_dir["dir"], 10, seed=0, split="test")
    idx = np.array(info["indices"])
    assert info["split"] == "test" and info["n_available"] == 10
    assert np.array_equal(_denorm(x, "cifar10"), imgs[idx])
    assert np.array_equal(y.numpy(), labels[idx])
    r_imgs, r_labels = read_cifar(cifar10_dir["root"], split="test")
    assert r_imgs.dtype == np.uint8 and r_imgs.shape == (10, 32, 32, 3)
    assert np.array_equal(r_imgs, imgs) and np.array_equal(r_labels, labels)
    assert detect_format(cifar10_dir["root"]) == ("cifar10-pickle", cifar10_dir["dir"])


def test_cifar100_pickles(cifar100_dir):
    imgs, fine = cifar100_dir["train"]
    x, y, info = load_batch_with_info("cifar100", cifar100_dir["dir"].parent, 30, seed=1)
    idx = np.array(info["indices"])
    assert info["format"] == "cifar100-pickle" and info["n_available"] == 30
    assert np.array_equal(y.numpy(), fine[idx]) and np.array_equal(_denorm(x, "cifar100"),
                                                                   imgs[idx])
    r_imgs, r_labels = read_cifar(cifar100_dir["dir"], split="test")
    assert np.array_equal(r_imgs, cifar100_dir["test"][0])
    assert np.array_equal(r_labels, cifar100_dir["test"][1])
    # CIFAR-100 labels (up to 99) do not fit a 10-class dataset
    with pytest.raises(DataError, match=r"100 classes.*cifar10 has only 10"):
        load_batch("cifar10", cifar100_dir["dir"], 8)


def test_imagenet16_filters_labels_above_120(imagenet16_dir):
    imgs, labels = imagenet16_dir["train"]
    assert len(labels) == 30  # 3 of 7 per batch kept, 10 train batches
    x, y, info = load_batch_with_info("ImageNet16-120", imagenet16_dir["dir"], 30, seed=2)
    assert x.shape == (30, 3, 16, 16) and info["n_available"] == 30
    idx = np.array(info["indices"])
    assert np.array_equal(y.numpy(), labels[idx])
    assert y.min() >= 0 and y.max() <= 119 and {0, 119} <= set(y.tolist())
    pixels = _denorm(x, "ImageNet16-120")
    assert np.array_equal(pixels, imgs[idx]) and (pixels.reshape(30, -1).max(1) > 0).all()
    r_imgs, r_labels = read_imagenet16(imagenet16_dir["dir"], split="val")
    assert r_imgs.shape == (3, 16, 16, 3) and r_labels[:2].tolist() == [0, 119]
    _, _, vinfo = load_batch_with_info("imagenet16", imagenet16_dir["dir"], 3, split="test")
    assert vinfo["split"] == "val" and vinfo["files"] == ["val_data"]


def test_image_folder(image_dir):
    x, y, info = load_batch_with_info("cifar10", image_dir["dir"], 12, seed=0)
    idx = np.array(info["indices"])
    assert info["format"] == "image-folder" and info["classes"] == ["airplane", "cat", "dog"]
    assert np.array_equal(y.numpy(), image_dir["labels"][idx])
    assert np.array_equal(_denorm(x, "cifar10"), image_dir["images"][idx])  # PNG is lossless
    imgs, labels, classes = read_image_folder(image_dir["dir"])
    assert imgs.shape == (12, 32, 32, 3) and labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    assert classes == ["airplane", "cat", "dog"]


def test_image_folder_split_subfolder(tmp_path):
    images, labels = _png_folder(tmp_path / "val", ["a", "b"], 2, 32)
    x, y, info = load_batch_with_info("cifar10", tmp_path, 4, split="val")
    assert info["split"] == "val" and np.array_equal(
        _denorm(x, "cifar10"), images[np.array(info["indices"])])
    with pytest.raises(DataError, match="no folder 'train'"):
        load_batch("cifar10", tmp_path, 2, split="train")


# --------------------------------------------------------------------------------------------
# The embedded real CIFAR-10 sample


def test_embedded_sample_content():
    s = load_cifar10_sample()
    assert s["images"].shape == (500, 32, 32, 3) and s["images"].dtype == np.uint8
    assert s["labels"].dtype == np.int64 and np.bincount(s["labels"]).tolist() == [50] * 10
    assert s["class_names"].tolist() == ["airplane", "automobile", "bird", "cat", "deer", "dog",
                                         "frog", "horse", "ship", "truck"]
    png = s["source"] == "foolbox-3.3.4-png"
    assert png.sum() == 20 and sorted(s["test_index"][png].tolist()) == list(range(20))
    assert set(s["source"][~png].tolist()) == {"yoongikim-cifar10-images-jpeg"}
    assert len({hashlib.sha1(im.tobytes()).digest() for im in s["images"]}) == 500  # no repeats
    # foolbox cifar10_00_3.png: CIFAR-10 test image 0, label 3 'cat' (values read from the PNG)
    i = int(np.flatnonzero(s["test_index"] == 0)[0])
    im = s["images"][i]
    assert s["labels"][i] == 3 and s["class_names"][3] == "cat" and s["class_rank"][i] == 0
    assert im[0, 0].tolist() == [158, 112, 49] and im[15, 16].tolist() == [121, 112, 101]
    assert im[31, 31].tolist() == [21, 67, 110] and int(im.astype(np.int64).sum()) == 332962
    assert hashlib.sha1(im.tobytes()).hexdigest() == "fcd4759231ea8912ec367f68066a0ad15193eaee"
    # a JPEG-derived one: airplane/0007.jpg as decoded at build time
    assert hashlib.sha1(s["images"][7].tobytes()).hexdigest() == \
        "272876b8a1ef024bb0b4fdb2996e6219f09c6303"
    assert not s["images"].flags.writeable


def test_real_batch_normalisation_of_known_image():
    x, y, info = load_batch_with_info("cifar10", "real", batch_size=500, seed=0)
    assert info["source"] == "embedded-sample" and info["n_available"] == 500
    assert info["split"] == "test" and sorted(info["indices"]) == list(range(500))
    s = load_cifar10_sample()
    k = info["indices"].index(int(np.flatnonzero(s["test_index"] == 0)[0]))
    assert y[k] == 3
    expected = [(158 / 255 - 125.3 / 255) / (63.0 / 255), (112 / 255 - 123.0 / 255) / (62.1 / 255),
                (49 / 255 - 113.9 / 255) / (66.7 / 255)]
    assert x[k, :, 0, 0].tolist() == pytest.approx(expected, abs=1e-5)
    assert np.bincount(y.numpy()).tolist() == [50] * 10


def test_real_batch_default_shape():
    x, y = load_batch("cifar10")
    assert x.shape == (64, 3, 32, 32) and x.dtype == torch.float32
    assert y.shape == (64,) and y.dtype == torch.int64 and 0 <= y.min() and y.max() < 10
    assert -2.1 < x.min() < x.max() < 2.2  # normalised pixels, not 0..255 or 0..1
    assert len(set(load_batch_with_info("cifar10")[2]["indices"])) == 64  # no replacement


# --------------------------------------------------------------------------------------------
# Determinism and seeds


def test_same_seed_same_batch_other_seed_differs(cifar10_dir):
    for data in ("real", "gaussian", cifar10_dir["root"]):
        x1, y1 = load_batch("cifar10", data, 16, seed=3)
        x2, y2 = load_batch("cifar10", data, 16, seed=3)
        x3, _ = load_batch("cifar10", data, 16, seed=4)
        assert torch.equal(x1, x2) and torch.equal(y1, y2)
        assert not torch.equal(x1, x3)


def test_global_rng_neither_used_nor_consulted():
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = load_batch("cifar10", "real", 32, seed=9, labels="random")
    b = load_batch("cifar10", "gaussian", 32, seed=9)
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(999)
    assert torch.equal(load_batch("cifar10", "real", 32, seed=9, labels="random")[1], a[1])
    assert torch.equal(load_batch("cifar10", "gaussian", 32, seed=9)[0], b[0])


def test_same_batch_in_another_process():
    code = ("from nasi.data import load_batch, batch_fingerprint as f;"
            "print(f(*load_batch('cifar10', 'real', 64, 11)),"
            " f(*load_batch('cifar100', 'gaussian', 8, 11, labels='random')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         check=True, timeout=60).stdout.split()
    assert out == [batch_fingerprint(*load_batch("cifar10", "real", 64, 11)),
                   batch_fingerprint(*load_batch("cifar100", "gaussian", 8, 11, labels="random"))]


# --------------------------------------------------------------------------------------------
# Gaussian data and random labels


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100", "ImageNet16-120"])
def test_gaussian_inputs(dataset):
    spec = get_dataset(dataset)
    x, y, info = load_batch_with_info(dataset, "gaussian", batch_size=256, seed=0)
    assert x.shape == (256, 3, spec.image_size, spec.image_size) and x.dtype == torch.float32
    assert abs(x.mean().item()) < 0.01 and abs(x.std().item() - 1) < 0.01
    # the N(0,1) draw is the input as is: no normalisation applied on top
    ref = torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    assert torch.equal(x, ref)
    assert y.dtype == torch.int64 and 0 <= y.min() and y.max() < spec.num_classes
    # "true" labels with gaussian data are the uniform random ones
    assert torch.equal(y, load_batch(dataset, "gaussian", 256, 0, labels="random")[1])
    assert info["normalisation"].startswith("none") and info["n_available"] is None


def test_random_labels_range_and_independence(cifar10_dir):
    xt, yt = load_batch("cifar10", "real", 500, seed=0, labels="true")
    xr, yr = load_batch("cifar10", "real", 500, seed=0, labels="random")
    assert torch.equal(xt, xr)  # the label mode does not change the image draw
    assert not torch.equal(yt, yr)
    assert 0 <= yr.min() and yr.max() < 10 and len(set(yr.tolist())) == 10
    # independent of the image source: same labels for real, gaussian and a path
    assert torch.equal(load_batch("cifar10", "gaussian", 500, seed=0)[1], yr)
    assert torch.equal(load_batch("cifar10", cifar10_dir["root"], 40, 0, "random")[1], yr[:40])
    assert not torch.equal(load_batch("cifar10", "real", 500, seed=1, labels="random")[1], yr)
    # not drawn from the image generator's seed: their own, hash-derived seed
    same_seed = torch.randint(0, 10, (500,), generator=torch.Generator().manual_seed(0))
    assert not torch.equal(yr, same_seed)
    assert derived_seed(0, "labels") == 2356300411299555726  # sha256-based, stable everywhere
    y100 = load_batch("cifar100", "gaussian", 2000, seed=0, labels="random")[1]
    y120 = load_batch("ImageNet16-120", "gaussian", 2000, seed=0, labels="random")[1]
    assert y100.max() == 99 and y100.min() == 0 and y120.max() == 119 and y120.min() == 0


# --------------------------------------------------------------------------------------------
# Fingerprint and description


def test_batch_fingerprint():
    x, y = load_batch("cifar10", "real", 8, seed=0)
    fp = batch_fingerprint(x, y)
    assert len(fp) == 16 and int(fp, 16) >= 0
    assert batch_fingerprint(x.clone(), y.clone()) == fp
    x2 = x.clone()
    x2[0, 0, 0, 0] += 1e-6
    assert batch_fingerprint(x2, y) != fp
    assert batch_fingerprint(x, (y + 1) % 10) != fp
    assert batch_fingerprint(x[:4], y[:4]) != fp


def test_describe_data(cifar10_dir):
    d = describe_data("cifar10-valid", "real", 64, seed=0, labels="random")
    assert d["dataset"] == "cifar10" and d["source"] == "embedded-sample"
    assert d["n_available"] == 500 and d["batch_size"] == 64 and d["seed"] == 0
    assert d["labels"] == "random" and d["label_source"] == "uniform random"
    assert d["normalisation"]["mean"] == list(get_dataset("cifar10").mean)
    assert d["fingerprint"] == batch_fingerprint(*load_batch("cifar10", "real", 64, 0, "random"))
    d = describe_data("cifar10", cifar10_dir["root"], 8)
    assert d["source"] == "path" and d["format"] == "cifar10-pickle" and d["n_available"] == 40


# --------------------------------------------------------------------------------------------
# Errors


def test_missing_path(tmp_path):
    with pytest.raises(DataError, match=r"nope: data path does not exist"):
        load_batch("cifar10", str(tmp_path / "nope"))


def test_empty_folder_and_unknown_layouts(tmp_path):
    with pytest.raises(DataError, match="empty folder or unknown data layout"):
        load_batch("cifar10", tmp_path)
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(DataError, match="unknown data layout"):
        load_batch("cifar10", tmp_path)
    with pytest.raises(DataError, match="is a file, unknown data format"):
        load_batch("cifar10", tmp_path / "notes.txt")
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(DataError, match=r"no \.png/\.jpg/\.jpeg images in class folder"):
        load_batch("cifar10", tmp_path)


def test_wrong_image_size(tmp_path, cifar10_dir, imagenet16_dir):
    _png_folder(tmp_path, ["a", "b"], 2, 16)
    with pytest.raises(DataError, match=r"000\.png: image is 16x16, dataset cifar10 expects 32x32"):
        load_batch("cifar10", tmp_path, 4)
    with pytest.raises(DataError, match=r"images are 32x32, dataset ImageNet16-120 expects 16x16"):
        load_batch("ImageNet16-120", cifar10_dir["root"], 4)
    with pytest.raises(DataError, match=r"images are 16x16, dataset cifar100 expects 32x32"):
        load_batch("cifar100", imagenet16_dir["dir"], 4)


def test_too_many_classes(tmp_path):
    _png_folder(tmp_path, [f"class{i:02d}" for i in range(11)], 1, 32)
    with pytest.raises(DataError, match=r"11 classes.*cifar10 has only 10"):
        load_batch("cifar10", tmp_path, 4)
    assert load_batch("cifar100", tmp_path, 4)[1].max() < 11  # fits a 100-class dataset


def test_batch_larger_than_pool(cifar10_dir):
    with pytest.raises(DataError, match=r"only 500 images available, batch_size 501"):
        load_batch("cifar10", "real", batch_size=501)
    with pytest.raises(DataError, match=r"only 10 images available, batch_size 11"):
        load_batch("cifar10", cifar10_dir["dir"], 11, split="test")


def test_bad_arguments():
    with pytest.raises(DataError, match="unknown dataset 'mnist'"):
        load_batch("mnist")
    with pytest.raises(DataError, match="no real sample is embedded for cifar100"):
        load_batch("cifar100", "real")
    with pytest.raises(DataError, match="no real sample is embedded for ImageNet16-120"):
        load_batch("ImageNet16-120")
    with pytest.raises(DataError, match="labels must be one of"):
        load_batch("cifar10", labels="shuffled")
    with pytest.raises(DataError, match="batch_size must be an int >= 1"):
        load_batch("cifar10", batch_size=0)
    with pytest.raises(DataError, match="CIFAR-10 test images only"):
        load_batch("cifar10", "real", split="train")
    assert issubclass(DataError, ValueError)


def test_broken_pickle_folders(tmp_path, cifar10_dir):
    d = tmp_path / "cifar-10-batches-py"
    d.mkdir()
    for name in ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "test_batch"):
        (d / name).write_bytes((cifar10_dir["dir"] / name).read_bytes())
    with pytest.raises(DataError, match=r"missing data_batch_5; expected the train files"):
        load_batch("cifar10", tmp_path, 4)
    assert load_batch("cifar10", tmp_path, 4, split="test")[0].shape == (4, 3, 32, 32)
    # only numpy arrays and plain containers are unpickled
    import datetime

    (d / "test_batch").write_bytes(pickle.dumps({"data": datetime.date(2020, 1, 1)}))
    with pytest.raises(DataError, match=r"test_batch: not a readable pickle.*datetime\.date"):
        load_batch("cifar10", d, 4, split="test")
    (d / "test_batch").write_bytes(pickle.dumps({b"data": np.zeros((4, 100), np.uint8),
                                                 b"labels": [0] * 4}))
    with pytest.raises(DataError, match=r"'data' is uint8 \(4, 100\), expected uint8 N x 3072"):
        load_batch("cifar10", d, 4, split="test")
    (d / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="test_batch: not a readable pickle"):
        load_batch("cifar10", d, 4, split="test")
