"""Few-step timestep grids, phases and the routing of steps to phase experts (paper Sec. 4.2.2).

An N-step generator walks the levels 1 = tau_0 > tau_1 > ... > tau_N = 0. Phased DMD splits the N
steps into P contiguous phases; phase p owns its steps, its own generator expert, and ends at the
level s_p (s_P = 0). At inference the experts run in sequence: a mixture of experts by noise level.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from phased_dmd.method.schedule import shift_timestep


def step_grid(num_steps: int, shift: float = 1.0) -> Tensor:
    """Levels tau_0 = 1 > ... > tau_N = 0: u = 1, 1 - 1/N, ..., 0 before the shift, then shifted."""
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    u = torch.linspace(1.0, 0.0, num_steps + 1, dtype=torch.float64)
    return shift_timestep(u, shift)


@dataclass(frozen=True)
class Phase:
    """One phase: its expert index, the steps it owns [first_step, end_step), its level range."""

    index: int
    first_step: int
    end_step: int
    start_level: float  # the level its input lives at (1 for the first phase)
    end_level: float  # s_p, the level of its output (0 for the last phase)

    @property
    def num_steps(self) -> int:
        return self.end_step - self.first_step


def split_phases(grid: Tensor, num_phases: int) -> list[Phase]:
    """Split the steps of `grid` into `num_phases` contiguous phases of equal length."""
    num_steps = len(grid) - 1
    if num_phases < 1 or num_steps % num_phases:
        raise ValueError(
            f"{num_steps} steps cannot be split into {num_phases} phases of equal length: "
            "num_steps must be a positive multiple of num_phases"
        )
    if not bool((grid[1:] < grid[:-1]).all()):
        raise ValueError(f"timestep levels must strictly decrease, got {grid.tolist()}")
    per_phase = num_steps // num_phases
    return [
        Phase(
            index=p,
            first_step=p * per_phase,
            end_step=(p + 1) * per_phase,
            start_level=float(grid[p * per_phase]),
            end_level=float(grid[(p + 1) * per_phase]),
        )
        for p in range(num_phases)
    ]


LEVEL_TOLERANCE = 1e-6  # float32 grid levels against a boundary held in float64 (7/12 is 0.58333331 in float32)


def serving_experts(boundary: float | None, high: float, low: float) -> list[int]:
    """The experts of a teacher whose t-range meets the open interval (low, high): 0 (the only one, or Wan2.2's
    high-noise expert, t >= boundary) and 1 (the low-noise one). A level within LEVEL_TOLERANCE of the boundary
    counts as on it."""
    if boundary is None:
        return [0]
    return [i for i, serves in enumerate((high > boundary + LEVEL_TOLERANCE, low < boundary - LEVEL_TOLERANCE))
            if serves]


def teacher_expert(t: Tensor, boundary: float) -> Tensor:
    """Wan2.2 MoE routing: 1 (high-noise expert) where t >= boundary, else 0 (low-noise expert).

    The same rule as diffusers' WanPipeline(boundary_ratio=boundary) on the 0..1 time axis.
    """
    return (t >= boundary).long()
