"""Where the networks run, and random numbers that do not depend on it.

The GPU when there is one (`PHASED_DMD_DEVICE=cpu` or `cuda:1` overrides). Every random draw comes from a
CPU generator and is then moved to the device of the tensors it joins, so a seed gives the same numbers on
any machine, and a run on the CPU is unchanged by this module.
"""

from __future__ import annotations

import os

import torch
from torch import Tensor


def compute_device() -> torch.device:
    """PHASED_DMD_DEVICE if set, else the first GPU if there is one, else the CPU."""
    name = os.environ.get("PHASED_DMD_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def noise_like(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Standard normal noise of x's shape and dtype, drawn on the CPU, on x's device."""
    return torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of a model's parameters."""
    return next(model.parameters()).device
