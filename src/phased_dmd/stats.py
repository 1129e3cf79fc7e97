"""Summaries for reports: mean and 95% interval over seeds."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats


def summary(values: Sequence[float]) -> dict:
    """Mean and two-sided 95% Student-t interval of the mean over independent seeds."""
    x = np.asarray(values, dtype=float)
    mean = float(x.mean())
    if len(x) < 2:
        return {"mean": mean, "ci95": [mean, mean], "n": len(x)}
    half = float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return {"mean": mean, "ci95": [mean - half, mean + half], "n": len(x)}
