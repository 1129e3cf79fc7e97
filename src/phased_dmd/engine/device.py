"""Where the networks run, and random numbers that do not depend on it.

The GPU when there is one (a data-parallel process: its LOCAL_RANK's GPU; `PHASED_DMD_DEVICE=cpu` or `cuda:1`
overrides). Random draws do not depend on it: draws.noise_like draws on a CPU generator and moves the numbers.
"""

from __future__ import annotations

import os

import torch


def compute_device() -> torch.device:
    """PHASED_DMD_DEVICE if set, else this process's GPU if there is one, else the CPU."""
    if os.environ.get("PHASED_DMD_DEVICE"):
        return torch.device(os.environ["PHASED_DMD_DEVICE"])
    if not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count())


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of a model's parameters."""
    return next(model.parameters()).device
