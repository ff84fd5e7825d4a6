"""Weight initialisation schemes applied after a network is built.

``pytorch`` keeps PyTorch's defaults, which is what NAS-Bench-201 trained from (conv/linear
kaiming-uniform with a=sqrt(5), BN weight 1 / bias 0). The others re-draw conv and linear
weights from the global RNG (seeded per architecture by the caller); biases and BN are reset
to 0 / 1.
"""

from __future__ import annotations

from torch import nn

INITS = ("pytorch", "kaiming_normal", "kaiming_uniform", "xavier_normal")


def apply_init(model: nn.Module, scheme: str) -> nn.Module:
    if scheme not in INITS:
        raise ValueError(f"unknown init scheme {scheme!r}; expected one of {INITS}")
    if scheme == "pytorch":
        return model
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            if scheme == "kaiming_normal":
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            elif scheme == "kaiming_uniform":
                nn.init.kaiming_uniform_(m.weight, mode="fan_in", nonlinearity="relu")
            else:
                nn.init.xavier_normal_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    return model
