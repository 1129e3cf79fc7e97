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


def sliced_wasserstein(x: np.ndarray, y: np.ndarray, projections: int = 256, seed: int = 0) -> float:
    """Sliced W1 between two equal-size point clouds: the mean W1 of their 1-D projections."""
    rng = np.random.default_rng(seed)
    dirs = rng.normal(size=(x.shape[1], projections))
    dirs /= np.linalg.norm(dirs, axis=0, keepdims=True)
    px, py = np.sort(x @ dirs, axis=0), np.sort(y @ dirs, axis=0)
    return float(np.abs(px - py).mean())


def mode_statistics(samples: np.ndarray, means: np.ndarray, weights: np.ndarray, std: float) -> dict:
    """Samples assigned to their nearest mode: coverage, balance and precision.

    - coverage: fraction of modes holding at least a quarter of their expected share of samples;
    - mode_tv: total variation between the sample share per mode and the mixture weights;
    - precision: fraction of samples within 3 standard deviations of their nearest mode.
    """
    dist = np.linalg.norm(samples[:, None, :] - means[None], axis=-1)
    nearest = dist.argmin(1)
    share = np.bincount(nearest, minlength=len(means)) / len(samples)
    return {
        "coverage": float((share >= 0.25 * weights).mean()),
        "mode_tv": float(0.5 * np.abs(share - weights).sum()),
        "precision": float((dist.min(1) <= 3 * std).mean()),
    }
