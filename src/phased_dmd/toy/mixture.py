"""Gaussian mixtures with diagonal covariances: exact marginals, scores and velocities at every t.

If p_0 = sum_k pi_k N(mu_k, diag(sd_k^2)), then under x_t = a_t x_0 + s_t e the marginal p_t is the
mixture sum_k pi_k N(a_t mu_k, diag(a_t^2 sd_k^2 + s_t^2)), and every conditional expectation the
method needs (E[x_0 | x_t], E[e | x_t], the flow E[e - x_0 | x_t], the score) has a closed form.
This is the ground truth the tests check the method against, and the teacher of the toy figures.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from phased_dmd.method.schedule import alpha, sigma


@dataclass(frozen=True)
class GaussianMixture:
    weights: Tensor  # (K,)
    means: Tensor  # (K, D)
    stds: Tensor  # (K, D)

    @classmethod
    def create(cls, weights, means, stds) -> "GaussianMixture":
        """From nested lists; 1-D mixtures may give means and stds as flat lists."""
        w = torch.as_tensor(weights, dtype=torch.float64)
        mu = torch.as_tensor(means, dtype=torch.float64)
        sd = torch.as_tensor(stds, dtype=torch.float64)
        mu = mu[:, None] if mu.ndim == 1 else mu
        sd = (sd[:, None] if sd.ndim == 1 else sd).expand_as(mu)
        return cls(w / w.sum(), mu, sd.clone())

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n samples, shape (n, D)."""
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        z = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        return self.means[k] + self.stds[k] * z

    def _at(self, t: Tensor | float, n: int) -> tuple[Tensor, Tensor, Tensor]:
        """Per-sample (n, 1, 1) a_t and s_t, and the (n, K, D) variances of p_t's components."""
        t = torch.as_tensor(t, dtype=torch.float64).expand(n).reshape(n, 1, 1)
        a, s = alpha(t), sigma(t)
        return a, s, a**2 * self.stds**2 + s**2

    def _log_joint(self, x: Tensor, a: Tensor, var: Tensor) -> Tensor:
        """log pi_k + log N(x; a mu_k, var_k) for each component, shape (n, K)."""
        diff = x[:, None, :] - a * self.means
        log_comp = -0.5 * (diff**2 / var + torch.log(2 * torch.pi * var)).sum(-1)
        return log_comp + self.weights.log()

    def _responsibilities(self, x: Tensor, a: Tensor, var: Tensor) -> Tensor:
        """Posterior component probabilities r_k(x) under p_t, shape (n, K, 1)."""
        return torch.softmax(self._log_joint(x, a, var), dim=1)[..., None]

    def log_prob(self, x: Tensor, t: Tensor | float = 0.0) -> Tensor:
        """log p_t(x), shape (n,)."""
        a, _, var = self._at(t, x.shape[0])
        return torch.logsumexp(self._log_joint(x, a, var), dim=1)

    def x0_mean(self, x: Tensor, t: Tensor | float) -> Tensor:
        """E[x_0 | x_t = x]: the ideal x-prediction."""
        a, _, var = self._at(t, x.shape[0])
        diff = x[:, None, :] - a * self.means
        per_comp = self.means + a * self.stds**2 / var * diff
        return (self._responsibilities(x, a, var) * per_comp).sum(1)

    def noise_mean(self, x: Tensor, t: Tensor | float) -> Tensor:
        """E[e | x_t = x]: the ideal noise prediction."""
        a, s, var = self._at(t, x.shape[0])
        per_comp = s / var * (x[:, None, :] - a * self.means)
        return (self._responsibilities(x, a, var) * per_comp).sum(1)

    def velocity(self, x: Tensor, t: Tensor | float) -> Tensor:
        """The exact marginal flow E[e - x_0 | x_t = x]."""
        return self.noise_mean(x, t) - self.x0_mean(x, t)

    def score(self, x: Tensor, t: Tensor | float) -> Tensor:
        """grad_x log p_t(x), computed directly from the mixture's components."""
        a, _, var = self._at(t, x.shape[0])
        per_comp = -(x[:, None, :] - a * self.means) / var
        return (self._responsibilities(x, a, var) * per_comp).sum(1)

    def cdf(self, x: Tensor, t: Tensor | float = 0.0) -> Tensor:
        """P(X_t <= x) for a 1-D mixture, x of shape (n,)."""
        if self.dim != 1:
            raise ValueError("cdf is defined for 1-D mixtures only")
        a, _, var = self._at(t, 1)
        z = (x[:, None] - a[0, 0] * self.means[:, 0]) / var[0, :, 0].sqrt()
        return (self.weights * torch.special.ndtr(z)).sum(1)
