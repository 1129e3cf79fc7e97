"""A small velocity network for low-dimensional toys: an MLP on (x, Fourier features of t)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class ToyVelocityNet(nn.Module):
    def __init__(self, dim: int, hidden: int, layers: int, frequencies: int = 6):
        super().__init__()
        self.register_buffer("freqs", torch.pi * 2.0 ** torch.arange(frequencies))
        width = [dim + 1 + 2 * frequencies] + [hidden] * layers
        blocks = [m for a, b in zip(width[:-1], width[1:]) for m in (nn.Linear(a, b), nn.SiLU())]
        self.mlp = nn.Sequential(*blocks, nn.Linear(hidden, dim))

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        """Velocity at x (B, D) and per-sample times t (B,)."""
        t = t.to(x.dtype)[:, None]
        angles = t * self.freqs.to(x.dtype)
        return self.mlp(torch.cat([x, t, angles.sin(), angles.cos()], dim=1))
