"""Data-parallel distillation over several processes (GPUs, nodes): one replica of the models in each.

A run started by `torchrun`, or by the launcher with several Slurm tasks (submitit exports the
torch.distributed environment: MASTER_ADDR, RANK, WORLD_SIZE, LOCAL_RANK), joins a process group. The
batch size in the settings is the global batch: each process takes its shard. Every random draw is made
for the whole batch and each process keeps its shard, so the processes' random streams stay in step and
their shards are exactly the one-process batch cut in pieces. Losses and gradients are averaged over the
processes before each optimiser step. A run on W processes therefore equals the one-process run up to
float rounding, and results do not depend on the number of GPUs. Only the first process writes files.

With one process (no WORLD_SIZE, or WORLD_SIZE=1) every function here is the identity.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
import torch.distributed as dist
from torch import Tensor, nn


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def is_main() -> bool:
    """The process that writes outputs, checkpoints and progress."""
    return rank() == 0


@contextmanager
def process_group() -> Iterator[None]:
    """Join the process group the environment describes (nccl on GPUs, gloo on CPUs) for the block.

    The global batch must split evenly over the processes (StudentRunConfig checks it).
    """
    if int(os.environ.get("WORLD_SIZE", "1")) == 1 or dist.is_initialized():
        yield
        return
    if torch.cuda.is_available():  # this process's GPU (as device.compute_device picks it)
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count())
    dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    try:
        yield
    finally:
        dist.destroy_process_group()


def shard_slice(n: int) -> slice:
    """This process's part of a global batch of n."""
    part = n // world_size()
    return slice(rank() * part, (rank() + 1) * part)


def shard_draw(shape: tuple[int, ...], draw) -> Tensor:
    """`draw(global_shape)` for the whole batch whose local part has `shape`; this process's shard of it."""
    global_shape = (shape[0] * world_size(), *shape[1:])
    return draw(global_shape)[shard_slice(global_shape[0])]


def average(value: Tensor) -> Tensor:
    """The mean of a tensor over the processes (a loss: every process sees the global batch's value)."""
    if world_size() > 1:
        value = value.detach().clone()
        dist.all_reduce(value)
        value /= world_size()
    return value


def average_gradients(parameters: Iterable[nn.Parameter]) -> None:
    """Gradients averaged over the processes: those of the global batch's mean loss.

    A parameter no process's shard reached (a Wan2.2 expert no sample's t was routed to) keeps no
    gradient, as in a one-process run, so the optimiser skips it; one reached by some shards only
    gets zeros from the others.
    """
    if world_size() == 1:
        return
    params = [p for p in parameters if p.requires_grad]
    reached = torch.tensor([p.grad is not None for p in params], dtype=torch.int32, device=params[0].device)
    dist.all_reduce(reached)
    handles = []
    for p, hits in zip(params, reached.tolist()):
        if hits:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            handles.append(dist.all_reduce(p.grad, async_op=True))
    for handle in handles:
        handle.wait()
    for p, hits in zip(params, reached.tolist()):
        if hits:
            p.grad /= world_size()


def barrier() -> None:
    if world_size() > 1:
        dist.barrier()
