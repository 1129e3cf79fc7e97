"""Figure 2 configuration schemas: params.yaml's `figure2` section and one run's Hydra config.

Kept free of torch so that the workflow validates params.yaml quickly when it builds its DAG.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from omegaconf import MISSING

from phased_dmd import config as C
from phased_dmd.runs import params_section

if TYPE_CHECKING:
    from phased_dmd.toy.mixture import GaussianMixture

OBJECTIVES: tuple[str, ...] = ("full", "subinterval", "naive")


@dataclass
class MixtureConfig:
    """A 1-D Gaussian mixture: component weights, means and standard deviations."""

    weights: list[float] = MISSING
    means: list[float] = MISSING
    stds: list[float] = MISSING

    def check(self):
        if not (len(self.weights) == len(self.means) == len(self.stds) > 0):
            yield "weights", "weights, means and stds of one non-zero length", (
                len(self.weights), len(self.means), len(self.stds))
        for key in ("weights", "stds"):
            if any(v <= 0 for v in getattr(self, key)):
                yield key, "positive numbers", getattr(self, key)

    def build(self) -> "GaussianMixture":
        from phased_dmd.toy.mixture import GaussianMixture  # torch: imported by runs, not by the DAG

        return GaussianMixture.create(self.weights, self.means, self.stds)


@dataclass
class ToyTrainConfig:
    """Adam with cosine decay on fresh exact samples every iteration."""

    iterations: int = MISSING
    batch_size: int = MISSING
    lr: float = MISSING
    max_weight: float = MISSING  # clamp of 1 / s_{t|s}^2 in the stable subinterval loss (Eq. 13)

    def check(self):
        for key in ("iterations", "batch_size", "lr", "max_weight"):
            yield from C.positive(key, getattr(self, key))


@dataclass
class Figure2Params:
    """params.yaml, section `figure2`: the experiment's knobs."""

    mixture: MixtureConfig = field(default_factory=MixtureConfig)
    s: float = MISSING  # start of the subinterval (s, 1)
    objectives: list[str] = MISSING
    seeds: list[int] = MISSING
    train: ToyTrainConfig = field(default_factory=ToyTrainConfig)

    def check(self):
        yield from C.open_unit("s", self.s)
        yield from C.choices("objectives", self.objectives, OBJECTIVES)
        yield from C.seeds("seeds", self.seeds)


@dataclass
class ToyNetConfig:
    hidden: int = MISSING
    layers: int = MISSING

    def check(self):
        yield from C.positive("hidden", self.hidden)
        yield from C.positive("layers", self.layers)


@dataclass
class Figure2EvalConfig:
    samples: int = MISSING  # for the velocity MSE and for W1
    ode_steps: int = MISSING  # Heun steps from t = 1 to t = s (converged: W1 of the exact field is sampling error)
    trajectories: int = MISSING  # drawn in the figure, started at evenly spaced noise quantiles
    trajectory_steps: int = MISSING  # Heun steps of the drawn trajectories
    seed: int = MISSING  # the same evaluation noise for every run (common random numbers)

    def check(self):
        for key in ("samples", "ode_steps", "trajectories", "trajectory_steps"):
            yield from C.positive(key, getattr(self, key))


@dataclass
class Figure2RunConfig:
    """One training run; Hydra composes it from configs/figure2.yaml and the rule's overrides, and the knobs
    they leave unset come from `params` (params.yaml figure2.*)."""

    objective: str = MISSING
    seed: int = MISSING
    out_dir: str = MISSING
    params: str = MISSING
    s: float = MISSING
    mixture: MixtureConfig = field(default_factory=MixtureConfig)
    train: ToyTrainConfig = field(default_factory=ToyTrainConfig)
    net: ToyNetConfig = field(default_factory=ToyNetConfig)
    eval: Figure2EvalConfig = field(default_factory=Figure2EvalConfig)

    def check(self):
        yield from C.choice("objective", self.objective, OBJECTIVES)
        yield from C.open_unit("s", self.s)


def figure2_knobs(run) -> dict:
    """One Figure 2 run's knobs from params.yaml."""
    return section_knobs(params_section(run.params, "figure2", Figure2Params))


def section_knobs(section: Figure2Params) -> dict:
    """The knobs of the figure2 section that every run shares (less the lists that fan out into runs)."""
    return {k: v for k, v in dataclasses.asdict(section).items() if k not in ("objectives", "seeds")}
