"""The base teacher's sampler: Euler steps of the guided probability-flow ODE (the tables' base row)."""

from __future__ import annotations

import torch
from torch import Tensor

from phased_dmd.engine.device import model_device
from phased_dmd.method.grids import step_grid
from phased_dmd.method.rollout import rollout
from phased_dmd.teachers.flow_model import Condition, FlowModel


@torch.no_grad()
def sample(model: FlowModel, cond: Condition, steps: int = 40, scale: float = 4.0, form: str = "standard",
           generator: torch.Generator | None = None) -> Tensor:
    """Euler sampling of the guided probability-flow ODE from t = 1 to 0 (2 model evaluations per step)."""
    device = model_device(model)
    x = torch.randn((len(cond), *model.info.shape), generator=generator).to(device)
    cond = cond.to(device)
    fn = lambda x, t: model.guided(x, t, cond, scale, form)  # noqa: E731
    return rollout(fn, x, step_grid(steps, model.info.shift).tolist(), "euler")
