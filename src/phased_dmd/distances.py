"""Distances between generated samples and exact distributions."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def wasserstein1_to_cdf(samples: np.ndarray, cdf: Callable[[np.ndarray], np.ndarray], points: int = 20_001) -> float:
    """W1 between 1-D samples and an exact distribution: the integral of |F_n(x) - F(x)| dx."""
    x = np.sort(np.asarray(samples, dtype=float).ravel())
    spread = x[-1] - x[0]
    grid = np.linspace(x[0] - spread, x[-1] + spread, points)
    empirical = np.searchsorted(x, grid, side="right") / len(x)
    return float(np.trapezoid(np.abs(empirical - cdf(grid)), grid))
