"""Exponential moving average of weights, with the warm-up that keeps early weights from lingering."""

from __future__ import annotations

from torch import nn
from torch.optim.swa_utils import AveragedModel


def ema_decay(decay: float, updates: int) -> float:
    """EMA decay warmed up as min(decay, (1 + n) / (10 + n)): early weights fade out quickly.

    With a fixed 0.999 over 1,300 steps the initial weights would keep 0.999^1300 = 27% of the average.
    """
    return min(decay, (1 + updates) / (10 + updates))


def ema_model(module: nn.Module, decay: float) -> AveragedModel:
    """An AveragedModel of `module` (a copy) updated with the warmed-up decay; its state_dict holds the count."""
    return AveragedModel(module, avg_fn=lambda avg, cur, n: ema_decay(decay, int(n)) * avg
                         + (1 - ema_decay(decay, int(n))) * cur)
