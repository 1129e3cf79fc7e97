"""Toy 2-D distillation check: params.yaml's `toy2d` section and one run's config (torch-free)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from omegaconf import MISSING

from phased_dmd import config as C
from phased_dmd.choices import METHODS
from phased_dmd.config import partial, problems
from phased_dmd.method.distill_config import DistillConfig
from phased_dmd.runs import params_section


@dataclass
class RingConfig:
    """Equal Gaussians at evenly spaced angles on a circle."""

    modes: int = MISSING
    radius: float = MISSING
    std: float = MISSING

    def check(self):
        for key in ("modes", "radius", "std"):
            yield from C.positive(key, getattr(self, key))

    def means(self) -> list[list[float]]:
        angles = [2 * math.pi * k / self.modes for k in range(self.modes)]
        return [[self.radius * math.cos(a), self.radius * math.sin(a)] for a in angles]


@dataclass
class Toy2dParams:
    """params.yaml, section `toy2d`."""

    ring: RingConfig = field(default_factory=RingConfig)
    methods: list[str] = MISSING
    seeds: list[int] = MISSING
    pretrain_iterations: int = MISSING  # flow matching of the network that initialises generator and fake
    distill: dict[str, Any] = MISSING  # every DistillConfig knob but `method`, which is set per run

    def check(self):
        yield from C.choices("methods", self.methods, METHODS)
        yield from C.seeds("seeds", self.seeds)
        yield from C.positive("pretrain_iterations", self.pretrain_iterations)
        typed, found = partial(DistillConfig, self.distill, "distill.")
        yield from found
        if "method" in typed:
            yield "distill.method", "no method here (each run sets its own: toy2d.methods)", typed["method"]
        elif not found:
            yield from problems(DistillConfig(**typed, method=self.methods[0]), "distill.")
            for role in ("generator_train", "fake_train"):
                if typed[role] != "full":
                    yield f"distill.{role}", "full (the toy networks are no diffusers transformers)", typed[role]

    def run_distill(self, method: str) -> dict:
        """The distill knobs of one run of `method`, typed."""
        return {**partial(DistillConfig, self.distill)[0], "method": method}


def toy2d_knobs(run) -> dict:
    """A toy 2-D run's knobs from params.yaml (a pretrain run's method is unused: its baselines set their own)."""
    toy = params_section(run.params, "toy2d", Toy2dParams)
    method = run.distill.method if run.stage == "distill" else toy.methods[0]
    return {"ring": dataclasses.asdict(toy.ring), "pretrain_iterations": toy.pretrain_iterations,
            "distill": toy.run_distill(method)}


@dataclass
class Toy2dNetConfig:
    hidden: int = MISSING
    layers: int = MISSING


@dataclass
class Toy2dEvalConfig:
    samples: int = MISSING
    seed: int = MISSING


@dataclass
class Toy2dRunConfig:
    """One distillation of the 2-D ring by one method and seed (configs/toy2d.yaml + overrides)."""

    stage: str = MISSING  # pretrain (the network every model starts from) | distill
    seed: int = MISSING
    out_dir: str = MISSING
    init: str = ""  # distill: weights of the pretrained network (safetensors) that every model starts from
    params: str = MISSING  # params.yaml: the knobs (toy2d.*) that the command line leaves unset
    checkpoint_every: int = MISSING  # iterations between checkpoints of a phase (resume)
    ring: RingConfig = field(default_factory=RingConfig)
    pretrain_iterations: int = MISSING
    distill: DistillConfig = field(default_factory=DistillConfig)
    net: Toy2dNetConfig = field(default_factory=Toy2dNetConfig)
    eval: Toy2dEvalConfig = field(default_factory=Toy2dEvalConfig)

    def check(self):
        yield from C.choice("stage", self.stage, ("pretrain", "distill"))
        if self.stage == "distill" and not self.init:
            yield "init", "the path of the pretrained weights", self.init
