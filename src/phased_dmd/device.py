"""Where the networks run, and random numbers that do not depend on it.

The GPU when there is one (a data-parallel process: its LOCAL_RANK's GPU; `PHASED_DMD_DEVICE=cpu` or `cuda:1`
overrides). Every random draw comes from a CPU generator and is then moved to the device of the tensors it
joins, so a seed gives the same numbers on any machine, and a run on the CPU is unchanged by this module.
In a data-parallel run noise is drawn for the whole batch and each process keeps its shard (data_parallel).
"""

from __future__ import annotations

import os

import torch
from torch import Tensor

from phased_dmd.data_parallel import shard_draw


def compute_device() -> torch.device:
    """PHASED_DMD_DEVICE if set, else this process's GPU if there is one, else the CPU."""
    if os.environ.get("PHASED_DMD_DEVICE"):
        return torch.device(os.environ["PHASED_DMD_DEVICE"])
    if not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count())


def noise_like(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Standard normal noise of x's shape and dtype, drawn on the CPU, on x's device (x: this process's shard)."""
    noise = shard_draw(tuple(x.shape), lambda shape: torch.randn(shape, generator=generator, dtype=x.dtype))
    return noise.to(x.device)


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of a model's parameters."""
    return next(model.parameters()).device
