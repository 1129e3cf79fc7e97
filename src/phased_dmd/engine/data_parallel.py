"""Data-parallel distillation over several processes (GPUs, nodes), the models replicated or sharded.

A run started by `torchrun`, or by the launcher with several Slurm tasks (submitit exports the
torch.distributed environment: MASTER_ADDR, RANK, WORLD_SIZE, LOCAL_RANK), joins a process group. The
batch size in the settings is the global batch: each process takes its shard. Every random draw is made
for the whole batch and each process keeps its shard, so the processes' random streams stay in step and
their shards are exactly the one-process batch cut in pieces. Losses and gradients are averaged over the
processes before each optimiser step. A run on W processes therefore equals the one-process run up to
float rounding, and results do not depend on the number of GPUs. Only the first process writes files.

Each process holds a whole replica of the models, unless `PHASED_DMD_PARALLEL=shard`: then every
transformer is sharded over the processes with PyTorch's FSDP2 (`fully_shard`, one unit per block), its
weights gathered for each forward and its gradients reduce-scattered, so a process holds 1/W of the
weights, gradients and optimiser states (the 14B teachers). Checkpoints and generators are gathered into
the same full files as a replicated run writes.

With one process (no WORLD_SIZE, or WORLD_SIZE=1) every function here is the identity.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)
from torch.distributed.tensor import DTensor

from phased_dmd.choices import PARALLEL_MODES
from phased_dmd.draws import rank, world_size

FULL = StateDictOptions(full_state_dict=True, cpu_offload=True)  # whole tensors on the CPU, in every process


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
    params = [p for p in parameters if p.requires_grad and not isinstance(p, DTensor)]  # sharded: FSDP averages
    if not params:
        return
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


def sharding() -> bool:
    """Are the models sharded over the processes (PHASED_DMD_PARALLEL=shard, several processes)?"""
    mode = os.environ.get("PHASED_DMD_PARALLEL", "replicate")
    if mode not in PARALLEL_MODES:  # StudentRunConfig refuses it before the run
        raise ValueError(f"PHASED_DMD_PARALLEL={mode!r}: expected one of {PARALLEL_MODES}")
    return mode == "shard" and world_size() > 1


def shard_model(module: nn.Module, precision: str = "fp32") -> None:
    """FSDP2 over the processes: each block of each list of blocks is a unit, then the whole module; parameters
    gathered in `precision`, gradients reduced in fp32 (engine/precision.py)."""
    from torch.distributed.fsdp import fully_shard

    from phased_dmd.engine.precision import sharding_policy

    # Wan's transformer returns a view; the velocity is never modified in place, which is what the warning is about
    warnings.filterwarnings("ignore", message="FSDP2-wrapped module .* returned a view tensor")
    for blocks in (child for child in module.children() if isinstance(child, nn.ModuleList)):
        for block in blocks:
            fully_shard(block, mp_policy=sharding_policy(precision))
    fully_shard(module, mp_policy=sharding_policy(precision))


def is_sharded(module: nn.Module) -> bool:
    return any(isinstance(p, DTensor) for p in module.parameters())


def global_counts(counts: list[int], module: nn.Module) -> list[int]:
    """Per-expert row counts summed over the processes when `module` is sharded (else as given).

    A sharded expert gathers its weights collectively, so every process must run it as soon as any
    process has rows for it (FlowModel runs it on a stand-in row where it has none).
    """
    if not is_sharded(module):
        return counts
    total = torch.tensor(counts, device=next(module.parameters()).device)
    dist.all_reduce(total)
    return total.tolist()


def full_state_dict(module: nn.Module) -> dict[str, Tensor]:
    """The module's whole weights (gathered from the processes when sharded: every process must call it)."""
    if is_sharded(module):
        return get_model_state_dict(module, options=FULL)
    return {k: v.detach().contiguous() for k, v in module.state_dict().items()}


def load_full_state_dict(module: nn.Module, state: dict[str, Tensor]) -> None:
    if is_sharded(module):
        set_model_state_dict(module, state, options=FULL)
    else:
        module.load_state_dict(state)


def optimizer_state(module: nn.Module, opt: torch.optim.Optimizer) -> dict:
    """The optimiser's state for a checkpoint (whole tensors keyed by name when sharded: every process calls it)."""
    return get_optimizer_state_dict(module, opt, options=FULL) if is_sharded(module) else opt.state_dict()


def load_optimizer_state(module: nn.Module, opt: torch.optim.Optimizer, state: dict) -> None:
    if is_sharded(module):  # not strict: a parameter no gradient ever reached has no state, as when it was saved
        set_optimizer_state_dict(module, opt, state, options=StateDictOptions(full_state_dict=True, strict=False))
    else:
        opt.load_state_dict(state)
