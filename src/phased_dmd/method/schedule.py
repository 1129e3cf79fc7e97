"""Rectified-flow noise schedule (paper Sec. 3, Eq. 1-2; METHOD.md "Conventions").

Time runs from data to noise: t = 0 is clean, t = 1 is pure noise, x_t = a_t x_0 + s_t e with
a_t = 1 - t and s_t = t. Networks predict the flow (velocity) v = e - x_0.
Per-sample times are tensors of shape (B,); `per_sample` broadcasts them against a batch.
"""

from __future__ import annotations

import torch
from torch import Tensor


def per_sample(t: Tensor | float, like: Tensor) -> Tensor:
    """Broadcast a scalar or a (B,) tensor of times against a batch shaped like `like`."""
    t = torch.as_tensor(t, dtype=like.dtype, device=like.device)
    if t.ndim == 0:
        return t
    return t.reshape(t.shape + (1,) * (like.ndim - t.ndim))


def alpha(t: Tensor) -> Tensor:
    """Signal coefficient a_t = 1 - t (Eq. 1)."""
    return 1 - t


def sigma(t: Tensor) -> Tensor:
    """Noise coefficient s_t = t (Eq. 1)."""
    return t


def add_noise(x0: Tensor, noise: Tensor, t: Tensor | float) -> Tensor:
    """x_t = a_t x_0 + s_t e (Eq. 1)."""
    t = per_sample(t, x0)
    return alpha(t) * x0 + sigma(t) * noise


def transition(t: Tensor | float, s: Tensor | float) -> tuple[Tensor, Tensor]:
    """Coefficients of p(x_t | x_s) = N(a_{t|s} x_s, s_{t|s}^2 I) for s < t (Eq. 2).

    a_{t|s} = a_t / a_s and s_{t|s}^2 = s_t^2 - a_{t|s}^2 s_s^2.
    """
    t, s = torch.as_tensor(t), torch.as_tensor(s)
    a_ts = alpha(t) / alpha(s)
    s_ts = (sigma(t) ** 2 - a_ts**2 * sigma(s) ** 2).clamp_min(0).sqrt()
    return a_ts, s_ts


def renoise(x_s: Tensor, noise: Tensor, s: Tensor | float, t: Tensor | float) -> Tensor:
    """Draw x_t ~ p(x_t | x_s): x_t = a_{t|s} x_s + s_{t|s} e (Eq. 2)."""
    a_ts, s_ts = transition(t, s)
    return per_sample(a_ts, x_s) * x_s + per_sample(s_ts, x_s) * noise


def x0_from_velocity(x_t: Tensor, v: Tensor, t: Tensor | float) -> Tensor:
    """Clean estimate x0_hat = x_t - t v."""
    return x_t - per_sample(t, x_t) * v


def shift_timestep(u: Tensor | float, shift: float) -> Tensor:
    """Timestep shift t = k u / (1 + (k - 1) u) with factor k (Wan: 5, Qwen-Image: 3)."""
    u = torch.as_tensor(u, dtype=torch.float64)
    return shift * u / (1 + (shift - 1) * u)


def unshift_timestep(t: Tensor | float, shift: float) -> Tensor:
    """Inverse of `shift_timestep`: u = t / (k - (k - 1) t)."""
    t = torch.as_tensor(t, dtype=torch.float64)
    return t / (shift - (shift - 1) * t)


def sample_timesteps(
    n: int, low: float, high: float, shift: float = 1.0, generator: torch.Generator | None = None
) -> Tensor:
    """n times in the shifted interval (low, high): u uniform between the unshifted ends, then shift.

    `low` and `high` are noise levels after the shift (for example a phase boundary s_p and 1).
    """
    u_low, u_high = unshift_timestep(low, shift), unshift_timestep(high, shift)
    u = u_low + (u_high - u_low) * torch.rand(n, generator=generator, dtype=torch.float64)
    return shift_timestep(u, shift)
