"""Random draws that do not depend on where the networks run or on how many processes share the batch.

Every draw comes from a CPU generator and is then moved to the device of the tensors it joins, so a seed
gives the same numbers on any machine. In a data-parallel run (torch.distributed initialised by
engine/data_parallel) a draw is made for the whole global batch and each process keeps its shard, so the
processes' random streams stay in step; with one process every function here is the plain draw.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def shard_slice(n: int) -> slice:
    """This process's part of a global batch of n."""
    part = n // world_size()
    return slice(rank() * part, (rank() + 1) * part)


def shard_draw(shape: tuple[int, ...], draw) -> Tensor:
    """`draw(global_shape)` for the whole batch whose local part has `shape`; this process's shard of it."""
    global_shape = (shape[0] * world_size(), *shape[1:])
    return draw(global_shape)[shard_slice(global_shape[0])]


def noise_like(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Standard normal noise of x's shape and dtype, drawn on the CPU, on x's device (x: this process's shard)."""
    noise = shard_draw(tuple(x.shape), lambda shape: torch.randn(shape, generator=generator, dtype=x.dtype))
    return noise.to(x.device)


