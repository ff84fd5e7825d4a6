"""Parameter and FLOP counts in the benchmark's convention.

The benchmark's ``flop`` (xautodl ``get_model_infos``) counts multiply-accumulates of Conv2d and
Linear layers only, plus one per output element for a bias, for one input image, in millions;
``params`` is the number of parameters in millions (labelled "MB" by the API, not bytes).
:func:`count_flops` measures that on a real module; :func:`closed_form` gives the same numbers
without building one (verified against real modules in the tests).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .datasets import get_dataset
from .space import Arch

if TYPE_CHECKING:  # torch is imported lazily: table loading must stay fast
    from torch import nn


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_flops(model: nn.Module, input_shape: tuple[int, int, int]) -> int:
    """Conv2d/Linear multiply-accumulates (+1 per output for a bias) for one input."""
    import torch
    from torch import nn

    total = 0

    def conv_hook(m: nn.Conv2d, inp, out):
        nonlocal total
        k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
        total += out.numel() * (k + (1 if m.bias is not None else 0))

    def linear_hook(m: nn.Linear, inp, out):
        nonlocal total
        total += out.numel() * (m.in_features + (1 if m.bias is not None else 0))

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, *input_shape))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    return total


# Closed forms for C=16, N=5 (K classes; n3, n1 = number of 3x3 / 1x1 conv edges).
_PARAMS_BASE, _PARAMS_3, _PARAMS_1 = 72_656, 243_040, 28_000
_MACS = {32: (7_782_400, 35_389_440, 3_932_160), 16: (1_945_600, 8_847_360, 983_040)}


def closed_form(arch: Arch, dataset: str) -> tuple[int, int]:
    """(parameters, MACs) of the benchmark network of ``arch`` on ``dataset`` (C=16, N=5)."""
    params, macs = closed_form_counts([arch], dataset)
    return int(params[0]), int(macs[0])


def closed_form_counts(archs, dataset: str) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised :func:`closed_form`: int64 arrays of parameters and MACs."""
    spec = get_dataset(dataset)
    n3 = np.array([a.code.count("3") for a in archs], dtype=np.int64)  # op id 3 = nor_conv_3x3
    n1 = np.array([a.code.count("2") for a in archs], dtype=np.int64)  # op id 2 = nor_conv_1x1
    K = spec.num_classes
    base, m3, m1 = _MACS[spec.image_size]
    params = _PARAMS_BASE + 65 * K + _PARAMS_3 * n3 + _PARAMS_1 * n1
    macs = base + 65 * K + m3 * n3 + m1 * n1
    return params, macs
