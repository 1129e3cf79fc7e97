"""Fake-score (critic) objectives: flow matching on the full interval and within a subinterval.

Full interval (clean x_0 available): minimise || v_theta(x_t, t) - (e - x_0) ||^2.
Subinterval (s, 1), only x_s available (paper Eq. 11-13): x_t = a_{t|s} x_s + s_{t|s} e and

    target = ((a_s^2 s_t + a_t s_s^2) / (a_s^2 s_{t|s})) e - x_s / a_s,

whose conditional mean given x_t is the true marginal velocity E[e - x_0 | x_t]. At s = 0 it is
e - x_0 exactly, so one function serves both. The "naive" objective (Fig. 2c) treats x_s as clean.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor

from phased_dmd.choices import CRITIC_OBJECTIVES as OBJECTIVES
from phased_dmd.method.schedule import add_noise, alpha, per_sample, renoise, sigma, transition

Objective = Literal["subinterval", "naive"]


def noise_coefficient(s: Tensor, t: Tensor) -> Tensor:
    """A = (a_s^2 s_t + a_t s_s^2) / a_s^2, the weight of e in s_{t|s} * target (Eq. 13)."""
    return (alpha(s) ** 2 * sigma(t) + alpha(t) * sigma(s) ** 2) / alpha(s) ** 2


def subinterval_target(x_s: Tensor, noise: Tensor, s: Tensor | float, t: Tensor | float) -> Tensor:
    """Flow target (A / s_{t|s}) e - x_s / a_s for x_t = a_{t|s} x_s + s_{t|s} e (Eq. 11)."""
    s, t = torch.as_tensor(s, dtype=x_s.dtype), torch.as_tensor(t, dtype=x_s.dtype)
    _, s_ts = transition(t, s)
    coef = per_sample(noise_coefficient(s, t) / s_ts, x_s)
    return coef * noise - x_s / per_sample(alpha(s), x_s)


def subinterval_loss(
    v: Tensor, x_s: Tensor, noise: Tensor, s: Tensor | float, t: Tensor | float, max_weight: float
) -> Tensor:
    """Stable per-sample form of Eq. 13: clamp(1 / s_{t|s}^2) || s_{t|s} v - A e + (s_{t|s} / a_s) x_s ||^2.

    The x_s term carries a PLUS sign (the paper's summary prints a minus; plus is the sign that
    matches the unclamped target). Where 1 / s_{t|s}^2 <= max_weight it equals
    || v - subinterval_target ||^2; near t = s it caps the weight instead of dividing by ~0.
    Returns the mean over all but the batch dimension, shape (B,).
    """
    s, t = torch.as_tensor(s, dtype=x_s.dtype), torch.as_tensor(t, dtype=x_s.dtype)
    _, s_ts = transition(t, s)
    weight = per_sample((1 / s_ts**2).clamp(max=max_weight), x_s)
    s_ts, coef, a_s = (per_sample(c, x_s) for c in (s_ts, noise_coefficient(s, t), alpha(s)))
    residual = s_ts * v - coef * noise + (s_ts / a_s) * x_s
    return (weight * residual**2).flatten(1).mean(1)


def naive_input_and_target(
    x_s: Tensor, noise: Tensor, t: Tensor | float
) -> tuple[Tensor, Tensor]:
    """Fig. 2c ablation: x_s treated as clean data, x_t = a_t x_s + s_t e, target e - x_s."""
    return add_noise(x_s, noise, t), noise - x_s


def critic_loss(
    objective: Objective,
    velocity_fn: Callable[[Tensor, Tensor], Tensor],
    x_s: Tensor,
    noise: Tensor,
    s: Tensor | float,
    t: Tensor,
    max_weight: float,
) -> Tensor:
    """Mean critic loss of `velocity_fn(x_t, t)` on samples x_s of level s (s = 0: clean data)."""
    if objective == "subinterval":
        x_t = renoise(x_s, noise, s, t)
        return subinterval_loss(velocity_fn(x_t, t), x_s, noise, s, t, max_weight).mean()
    if objective == "naive":
        x_t, target = naive_input_and_target(x_s, noise, t)
        return (velocity_fn(x_t, t) - target).pow(2).mean()
    raise ValueError(f"unknown critic objective {objective!r}; expected one of {OBJECTIVES}")
