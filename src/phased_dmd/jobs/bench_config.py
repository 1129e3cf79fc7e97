"""Benchmark settings: params.yaml's `bench` section and one benchmark run (torch-free, for the DAG)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from omegaconf import MISSING

from phased_dmd import config as C
from phased_dmd.choices import TEACHER_KINDS
from phased_dmd.method.distill_config import DistillConfig


@dataclass
class BenchParams:
    """params.yaml, section `bench`: cost of a generator update and of sampling, on one tiny teacher."""

    teacher: str = MISSING  # which embedded teacher (its rule trains it first)
    batch_size: int = MISSING  # of a generator update (the students' batch)
    repeats: int = MISSING  # timed updates per variant (the median is reported)
    samples: int = MISSING  # images drawn when timing the teacher and the student

    def check(self):
        yield from C.choice("teacher", self.teacher, TEACHER_KINDS)
        for key in ("batch_size", "repeats", "samples"):
            yield from C.positive(key, getattr(self, key))


@dataclass
class BenchRunConfig(BenchParams):
    """configs/bench.yaml + overrides: measure, write out_dir/measurements.json. The knobs the command line
    leaves unset come from `params`: its bench section, the students' shared distill settings (with the bench's
    batch) and the base teacher's sampler."""

    teacher_dir: str = MISSING
    out_dir: str = MISSING
    params: str = MISSING  # params.yaml
    seed: int = MISSING
    teacher_steps: int = MISSING  # of the teacher's sampler, each with CFG (2 evaluations): evaluation.teacher_steps
    teacher_cfg_scale: float = MISSING
    distill: DistillConfig = field(default_factory=DistillConfig)  # students.distill (num_steps, optimiser, CFG)


def bench_knobs(run) -> dict:
    """The bench run's knobs from params.yaml."""
    from phased_dmd.jobs.params import params_of

    params = params_of(run.params)
    distill = dataclasses.replace(params.students.settings(None, params.bench.teacher), method="dmd",
                                  batch_size=params.bench.batch_size)  # each variant sets its own method
    return {**dataclasses.asdict(params.bench), "teacher_steps": params.evaluation.teacher_steps,
            "teacher_cfg_scale": params.evaluation.teacher_cfg_scale, "distill": dataclasses.asdict(distill)}
