"""Numeric precision of the scored networks: float32 (the reference) or bfloat16 autocast.

``bf16`` runs each network's forward pass under ``torch.autocast(device, torch.bfloat16)``
and hands float32 logits on, so the loss, the gradients (of float32 parameters) and every
score's accumulation stay float32 / float64; only the convolutions and matmuls of the
forward (and of its backward) run in bfloat16. It is offered on CUDA and on CPUs with bfloat16
instructions (AVX512-BF16 or AMX-BF16); elsewhere oneDNN emulates bfloat16, slower than
float32, so it is refused rather than silently made slow.
Scores that record activations with forward hooks (fisher, naswot, ntk_trace_hnas,
ntk_cond, jacob_cov's input Jacobian) see them in bfloat16; synflow scores a float64 copy of the
network, which autocast leaves in float64. Agreement with float32 is measured for ``nasi``
(``python -m harness.perf --agreement``).

``tf32`` lets CUDA convolutions and matmuls use TensorFloat-32. torch enables it for cuDNN
convolutions by default; a ``fp32`` run switches it off, so fp32 means float32 everywhere.
Both options change the numbers, so both are part of the score configuration and its cache
key (nasi.scoring.ScoreConfig).
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

import torch

from .scores.registry import ScoreError

PRECISIONS = ("fp32", "bf16")
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


class PrecisionError(ScoreError):
    """A precision option this device cannot honour (one line, exit 2 on the command line)."""


@functools.cache
def cpu_bf16_flags() -> tuple[str, ...]:
    """The bfloat16 instruction flags this CPU reports (Linux /proc/cpuinfo), else what
    torch's own probe says."""
    try:
        words = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        probe = getattr(torch._C._cpu, "_is_avx512_bf16_supported", None)
        return ("avx512_bf16",) if probe is not None and probe() else ()
    return tuple(f for f in CPU_BF16_FLAGS if f in words)


def check_precision(precision: str, tf32: bool, device: torch.device | str) -> None:
    """Refuse, before any work, what ``device`` cannot run: bf16 on a CPU without bfloat16
    instructions, TF32 anywhere but CUDA."""
    device = torch.device(device)
    if precision not in PRECISIONS:
        raise PrecisionError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if tf32 and device.type != "cuda":
        raise PrecisionError(f"--tf32 needs a CUDA device; this run uses {device.type}")
    if precision == "bf16" and device.type == "cpu" and not cpu_bf16_flags():
        raise PrecisionError("--precision bf16 needs a CPU with bfloat16 instructions "
                             f"({' or '.join(CPU_BF16_FLAGS)}) or CUDA; this CPU has neither, "
                             "use fp32")


def autocast_dtype(precision: str) -> torch.dtype | None:
    """The dtype the network's forward is autocast to (None: plain float32)."""
    return torch.bfloat16 if precision == "bf16" else None


@contextlib.contextmanager
def cuda_tf32(device: torch.device | str, enabled: bool):
    """TF32 on or off for CUDA convolutions and matmuls inside the block (no-op elsewhere)."""
    if torch.device(device).type != "cuda":
        yield
        return
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved
