"""Helpers the proxy modules share (a leaf: it imports no score module, so
:mod:`nasi.scores.proxies` and :mod:`nasi.scores.proxies_kernel` do not import each other)."""

from __future__ import annotations

import torch
from torch import nn


def weight_layers(model: nn.Module) -> list[nn.Module]:
    """Conv2d and Linear modules, in module order (zero-cost-nas' prunable layers)."""
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


class LayerRecorder:
    """Forward hooks recording (module, input, output) of every conv/linear call."""

    def __init__(self, model: nn.Module):
        self.calls: list[tuple[nn.Module, torch.Tensor, torch.Tensor]] = []
        self._handles = [m.register_forward_hook(self._hook) for m in weight_layers(model)]

    def _hook(self, module, inputs, output):
        self.calls.append((module, inputs[0], output))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for h in self._handles:
            h.remove()


def f64_sum(values) -> float:
    """Sum of scalar tensors as Python floats (float64), in order."""
    total = 0.0
    for v in values:
        total += float(v)
    return total
