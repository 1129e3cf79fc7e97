"""Memory per GPU of one phase's run: weights and optimiser states (sharded by FSDP), the block FSDP gathers,
and the activations one call keeps for its backward.

Bytes per parameter, as the engine holds them:
- trained (the phase's generator expert, the fakes its re-noise t reaches): an fp32 master weight, an fp32
  gradient and AdamW's two fp32 moments, 16 bytes in fp32 and in bf16 alike (bf16 computes with a bf16 copy,
  the masters stay fp32);
- frozen (the teacher, the generator experts of earlier phases): 4 bytes in fp32, 2 in bf16;
- idle (a fake expert the phase's re-noise t never reaches: the fake is a copy of the whole teacher): its fp32
  master weight, 4 bytes.
With LoRA every generator expert and fake is an adapter over the teacher's own transformers: the teacher's
weights are held once, and the bytes above apply to the adapters' parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

from phased_dmd.cost.measure import CallCost
from phased_dmd.method.grids import Phase, serving_experts

WEIGHT_BYTES = {"fp32": 4, "bf16": 2}  # a frozen weight, and a weight FSDP gathers for compute
TRAINED_BYTES = 16  # fp32 master, fp32 gradient, AdamW's two fp32 moments
IDLE_BYTES = 4  # an fp32 master weight without gradient or moments
GATHERED_BLOCKS = 2  # FSDP2 unshards the running block and prefetches the next


@dataclass(frozen=True)
class Roles:
    """The transformers one phase's run holds, counted in transformers (a Wan2.2 expert is one)."""

    teacher: int  # the teacher's experts, frozen
    frozen: int  # generator experts of the earlier phases, frozen (progressive schedule)
    trained: int  # the phase's generator expert(s) and the fake experts its re-noise t reaches
    idle: int  # fake experts its re-noise t never reaches


def phase_roles(phases: list[Phase], p: int, boundary: float | None, nested: bool = True) -> Roles:
    """The roles of phase p (0-based) as jobs/student.py builds them: generator experts from the teacher experts
    that serve their phase, a fake that copies the whole teacher, re-noise t in (s_p, 1) (nested) or
    (s_p, s_{p-1}), above the boundary for a phase of the high-noise expert alone."""
    experts = 1 if boundary is None else 2
    serving = [serving_experts(boundary, q.start_level, q.end_level) for q in phases]
    floor = boundary if boundary is not None and serving[p] == [0] else 0.0
    reached = serving_experts(boundary, 1.0 if nested else phases[p].start_level, max(phases[p].end_level, floor))
    return Roles(teacher=experts, frozen=sum(len(s) for s in serving[:p]),
                 trained=len(serving[p]) + len(reached), idle=experts - len(reached))


@dataclass(frozen=True)
class Setting:
    """How a run holds its models."""

    training: str  # full | lora
    precision: str  # fp32 | bf16
    shards: int  # FSDP shards (GPUs); 1: none
    checkpointing: bool  # gradient checkpointing of every block


@dataclass(frozen=True)
class Memory:
    """Bytes per GPU at the peak of an update."""

    states: float  # weights, gradients and optimiser moments (this GPU's shard)
    gathered: float  # the unsharded blocks FSDP holds while they compute
    activations: float  # kept for the backward of the call with gradient

    @property
    def total(self) -> float:
        return self.states + self.gathered + self.activations


def state_bytes(roles: Roles, parameters: int, adapter_parameters: int, setting: Setting) -> float:
    """Weights and optimiser states of every role, before sharding."""
    weight = WEIGHT_BYTES[setting.precision]
    if setting.training == "full":
        return parameters * (roles.teacher * weight + roles.frozen * weight + roles.trained * TRAINED_BYTES
                             + roles.idle * IDLE_BYTES)
    return parameters * roles.teacher * weight + adapter_parameters * (
        roles.frozen * weight + roles.trained * TRAINED_BYTES + roles.idle * IDLE_BYTES)


def phase_memory(roles: Roles, parameters: int, adapter_parameters: int, block_parameters: int, call: CallCost,
                 setting: Setting, batch_per_gpu: int) -> Memory:
    """Peak bytes per GPU of a phase's run; `call` measured at the setting's precision, batch 1."""
    gathered = GATHERED_BLOCKS * block_parameters * WEIGHT_BYTES[setting.precision] if setting.shards > 1 else 0
    return Memory(states=state_bytes(roles, parameters, adapter_parameters, setting) / setting.shards,
                  gathered=gathered, activations=batch_per_gpu * call.activations(setting.checkpointing))
