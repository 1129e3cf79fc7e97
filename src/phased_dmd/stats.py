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


def paired(a: Sequence[float], b: Sequence[float], better: str) -> dict:
    """Paired difference a - b over seeds (the same distillation seed and sampling noise in both): its mean and
    95% t-interval, and the verdict on "a is better than b" in the direction `better` (higher | lower): held
    where the interval lies on a's better side of 0, reversed on the other, otherwise undecided. `mde`: the
    smallest true difference this many seeds would find at 80% power with a two-sided 5% test, given the
    spread of the differences (None with fewer than 2 seeds)."""
    if len(a) != len(b):
        raise ValueError(f"paired difference of {len(a)} and {len(b)} values: both need one per seed")
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    out = summary(d)
    lo, hi = out["ci95"]
    sign = 1.0 if better == "higher" else -1.0
    held, reversed_ = (lo > 0, hi < 0) if sign > 0 else (hi < 0, lo > 0)
    out["verdict"] = "held" if held and len(d) > 1 else "reversed" if reversed_ and len(d) > 1 else "undecided"
    out["mde"] = (float((stats.t.ppf(0.975, len(d) - 1) + stats.t.ppf(0.8, len(d) - 1)) * d.std(ddof=1)
                        / np.sqrt(len(d))) if len(d) > 1 else None)
    return out
