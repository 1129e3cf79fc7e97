"""Distribution-matching generator loss (paper Eq. 3 and Eq. 10; DMD2's implementation).

The reverse-KL gradient at a generator sample x is E_t[w_t (score_fake(x_t) - score_real(x_t))] dx_t/dx.
For a flow model the score difference at x_t is proportional to (x0_fake - x0_real), the difference
of the two models' clean estimates, with x0_* = x_t - t v_*(x_t, t). DMD2 normalises it per sample
by the mean |x - x0_real| and turns it into a loss whose gradient with respect to x is that direction.
"""

from __future__ import annotations

import torch
from torch import Tensor


def dmd_direction(x: Tensor, x0_fake: Tensor, x0_real: Tensor, eps: float = 1e-6) -> Tensor:
    """g = (x0_fake - x0_real) / mean_per_sample(|x - x0_real|), computed in float64.

    The normaliser is an adaptive per-sample weight w_t (DMD, Eq. 8 of Yin et al. 2024), clamped
    away from zero. Descending along g moves x toward the real distribution.
    """
    x, x0_fake, x0_real = (a.detach().double() for a in (x, x0_fake, x0_real))
    scale = (x - x0_real).abs().flatten(1).mean(1).clamp_min(eps)
    return (x0_fake - x0_real) / scale.reshape((-1,) + (1,) * (x.ndim - 1))


def dmd_generator_loss(x: Tensor, x0_fake: Tensor, x0_real: Tensor) -> Tensor:
    """0.5 || x - stopgrad(x - g) ||^2 averaged over elements: its gradient in x is g / numel."""
    x = x.to(torch.promote_types(x.dtype, torch.float32))  # no half-precision loss
    g = dmd_direction(x, x0_fake, x0_real).to(x.dtype)
    return 0.5 * torch.nn.functional.mse_loss(x, (x - g).detach())
