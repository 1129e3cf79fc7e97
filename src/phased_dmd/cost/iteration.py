"""Transformer calls, and so FLOPs, of one distillation iteration as engine/loop.py runs it: `ttur` fake
updates, then one generator update, for one phase of a method, per sample.

- fake update: the earlier phases' steps and the phase's output without gradient (SGTS inside a phase of k
  steps: the exit step is uniform, so (k + 1) / 2 calls on average), then the fake's loss with gradient.
- generator update: the same input, the phase's output with gradient on its last call (every call with
  full_backprop), the guided teacher (two calls: conditional and unconditional) and the fake, without gradient.
"""

from __future__ import annotations

from dataclasses import dataclass

from phased_dmd.cost.measure import CallCost
from phased_dmd.method.distill_config import DistillConfig
from phased_dmd.method.grids import Phase

TEACHER_CALLS = 2  # classifier-free guidance: the conditional and the unconditional velocity


@dataclass(frozen=True)
class Calls:
    """Transformer calls of one update, per sample: without gradient, and with (a forward and a backward)."""

    no_grad: float
    with_grad: float

    def flops(self, call: CallCost) -> float:
        return self.no_grad * call.forward_flops + self.with_grad * (call.forward_flops + call.backward_flops)


def phase_output_calls(cfg: DistillConfig, phase: Phase) -> Calls:
    """The phase's own steps: all with gradient (full_backprop), else SGTS's exit step j uniform in 0..k-1
    after j steps without gradient."""
    if cfg.full_backprop:
        return Calls(0, phase.num_steps)
    return Calls((phase.num_steps - 1) / 2, 1)


def fake_update_calls(cfg: DistillConfig, phase: Phase) -> Calls:
    own = phase_output_calls(cfg, phase)
    return Calls(phase.first_step + own.no_grad + own.with_grad, 1)


def generator_update_calls(cfg: DistillConfig, phase: Phase) -> Calls:
    own = phase_output_calls(cfg, phase)
    return Calls(phase.first_step + own.no_grad + TEACHER_CALLS + 1, own.with_grad)


def iteration_flops(cfg: DistillConfig, phase: Phase, call: CallCost) -> float:
    """FLOPs of one iteration of `phase` (ttur fake updates and a generator update), per sample."""
    return cfg.ttur * fake_update_calls(cfg, phase).flops(call) + generator_update_calls(cfg, phase).flops(call)
