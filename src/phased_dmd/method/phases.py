"""The phases of a few-step generator at run time (paper Sec. 4.2.2): the step grid of a method, the experts run
in sequence, a phase's output with gradient (one step, SGTS within the phase, or full backprop), and the
re-noise times of its DMD and critic updates (reverse nested or disjoint intervals, Fig. 9; fixed, Fig. 10).

Models are callables (x, t, cond) -> velocity; the toy networks and the diffusers teachers alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from phased_dmd import draws
from phased_dmd.method.distill_config import DistillConfig
from phased_dmd.method.grids import Phase, split_phases, step_grid
from phased_dmd.method.rollout import euler_step, rollout, sample_exit_step, truncated_rollout
from phased_dmd.method.schedule import sample_timesteps

Model = Callable[[Tensor, Tensor, Any], Tensor]  # (x, t of shape (B,), cond) -> velocity


def levels(cfg: DistillConfig) -> list[float]:
    """The generator's noise levels 1 = tau_0 > ... > tau_N = 0 (DMD: N = 1)."""
    return step_grid(1 if cfg.method == "dmd" else cfg.num_steps, cfg.shift).tolist()


def plan_phases(cfg: DistillConfig) -> list[Phase]:
    """The phases of the method's step grid: DMD one step, SGTS one phase, Phased num_phases."""
    return split_phases(torch.tensor(levels(cfg)), cfg.num_phases if cfg.method == "phased" else 1)


def bind(model: Model, cond: Any) -> Callable[[Tensor, Tensor], Tensor]:
    return lambda x, t: model(x, t, cond)


def run_experts(experts: Sequence[Model], phases: Sequence[Phase], x: Tensor, cond: Any, cfg: DistillConfig,
                generator: torch.Generator | None = None) -> Tensor:
    """Run phases[0..len(experts)) in sequence (inference, or the frozen input of a later phase).

    Inside a phase the steps follow cfg.step_rule; between phases (and always into an intermediate
    level) Euler, so that an intermediate x_s never carries a re-noised clean estimate.
    """
    grid = levels(cfg)
    for expert, phase in zip(experts, phases):
        fn = bind(expert, cond)
        inner = grid[phase.first_step: phase.end_step]  # all but the phase's end
        x = rollout(fn, x, inner, cfg.step_rule, generator)
        t_last = inner[-1]
        v = fn(x, torch.full((x.shape[0],), t_last, dtype=x.dtype, device=x.device))
        x = euler_step(x, v, t_last, phase.end_level)
    return x


def phase_output(expert: Model, phase: Phase, x: Tensor, cond: Any, cfg: DistillConfig,
                 generator: torch.Generator | None = None) -> Tensor:
    """The phase's generator output x_{s_p}, with gradient: one step, SGTS within the phase, or full backprop."""
    steps = levels(cfg)[phase.first_step: phase.end_step + 1]
    fn = bind(expert, cond)
    if cfg.full_backprop:
        return run_experts([expert], [phase], x, cond, cfg, generator)
    exit_step = sample_exit_step(phase.num_steps, generator)
    return truncated_rollout(fn, x, steps, exit_step, phase.end_level, cfg.step_rule, generator)


def renoise_times(cfg: DistillConfig, phase: Phase, n: int, for_generator: bool, floor: float = 0.0,
                  generator: torch.Generator | None = None) -> Tensor:
    """Re-noise t for phase p: reverse nested (s_p, 1) or disjoint (s_p, s_{p-1}), above `floor`, or fixed_t
    (the generator's, and the fake's with fixed_t_fake); drawn for a global batch of n, this process's shard of
    it (data_parallel)."""
    if cfg.fixed_t is not None and (for_generator or cfg.fixed_t_fake):
        t = torch.full((n,), cfg.fixed_t, dtype=torch.float64)
    else:
        low = max(phase.end_level, floor)
        high = 1.0 if cfg.interval == "nested" else phase.start_level
        t = sample_timesteps(n, low, high, cfg.t_shift, generator)
    return t[draws.shard_slice(n)]
