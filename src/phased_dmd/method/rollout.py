"""Few-step generator rollouts and stochastic gradient truncation (SGTS).

A step goes from level tau_i to tau_{i+1} < tau_i with a velocity prediction v at (x_i, tau_i):
- `euler` (LightX2V): x_{i+1} = x_i + (tau_{i+1} - tau_i) v.
- `renoise` (DMD2, Self-Forcing): x0_hat = x_i - tau_i v, then x_{i+1} = a x0_hat + s e_new at tau_{i+1}.
Phased DMD needs `euler` for phase outputs: a re-noised x_s would carry a clean estimate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import torch
from torch import Tensor

from phased_dmd.choices import STEP_RULES
from phased_dmd.draws import noise_like
from phased_dmd.method.schedule import add_noise, x0_from_velocity

StepRule = Literal["euler", "renoise"]
VelocityFn = Callable[[Tensor, Tensor], Tensor]  # (x, t of shape (B,)) -> v


def euler_step(x: Tensor, v: Tensor, t_from: float, t_to: float) -> Tensor:
    """x_{i+1} = x_i + (tau_{i+1} - tau_i) v: one Euler step of the probability-flow ODE."""
    return x + (t_to - t_from) * v


def renoise_step(x: Tensor, v: Tensor, t_from: float, t_to: float, noise: Tensor) -> Tensor:
    """x_{i+1} = a_{tau_{i+1}} x0_hat + s_{tau_{i+1}} e_new with x0_hat = x_i - tau_i v."""
    return add_noise(x0_from_velocity(x, v, t_from), noise, t_to)


def heun_step(velocity_fn: VelocityFn, x: Tensor, t_from: float, t_to: float) -> Tensor:
    """One step of Heun's second-order ODE solver: the accurate reference sampler for evaluations."""
    t_a, t_b = (torch.full((x.shape[0],), t, dtype=x.dtype, device=x.device) for t in (t_from, t_to))
    v_a = velocity_fn(x, t_a)
    v_b = velocity_fn(euler_step(x, v_a, t_from, t_to), t_b)
    return x + (t_to - t_from) * (v_a + v_b) / 2


def step(
    rule: StepRule, velocity_fn: VelocityFn, x: Tensor, t_from: float, t_to: float,
    generator: torch.Generator | None = None,
) -> Tensor:
    """One generator step from t_from to t_to with the chosen rule."""
    v = velocity_fn(x, torch.full((x.shape[0],), t_from, dtype=x.dtype, device=x.device))
    if rule == "euler":
        return euler_step(x, v, t_from, t_to)
    if rule == "renoise":
        noise = noise_like(x, generator)
        return renoise_step(x, v, t_from, t_to, noise)
    raise ValueError(f"unknown step rule {rule!r}; expected one of {STEP_RULES}")


def rollout(velocity_fn: VelocityFn, x: Tensor, levels: Sequence[float], rule: StepRule,
            generator: torch.Generator | None = None) -> Tensor:
    """Run the steps levels[0] -> ... -> levels[-1] of one model (phase experts in turn: distill.run_experts)."""
    for i in range(len(levels) - 1):
        x = step(rule, velocity_fn, x, float(levels[i]), float(levels[i + 1]), generator)
    return x


def sample_exit_step(num_steps: int, generator: torch.Generator | None = None) -> int:
    """SGTS: the exit step j, uniform among the `num_steps` steps."""
    return int(torch.randint(num_steps, (1,), generator=generator))


def truncated_rollout(
    velocity_fn: VelocityFn, x: Tensor, levels: Sequence[float], exit_step: int, target_level: float,
    rule: StepRule, generator: torch.Generator | None = None,
) -> Tensor:
    """SGTS: steps before `exit_step` without gradient, then one jump from levels[exit_step] to target.

    The jump is an Euler step to `target_level` (0 for plain few-step DMD, where it is x0_hat; the
    phase's end level s_p inside a phase). Only that last evaluation carries gradient.
    """
    with torch.no_grad():
        x = rollout(velocity_fn, x, levels[: exit_step + 1], rule, generator)
    t_exit = float(levels[exit_step])
    v = velocity_fn(x, torch.full((x.shape[0],), t_exit, dtype=x.dtype, device=x.device))
    return euler_step(x, v, t_exit, target_level)
