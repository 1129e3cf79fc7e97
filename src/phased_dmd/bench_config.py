"""Benchmark settings: params.yaml's `bench` section and one benchmark run (torch-free, for the DAG)."""

from __future__ import annotations

from dataclasses import dataclass

from omegaconf import MISSING

from phased_dmd import config as C
from phased_dmd.choices import TEACHER_KINDS


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
    """configs/bench.yaml + overrides: measure, write out_dir/measurements.json."""

    teacher_dir: str = MISSING
    out_dir: str = MISSING
    num_steps: int = 4  # of the few-step students
    teacher_steps: int = 40  # of the teacher's sampler, each with CFG (2 evaluations)
    cfg_scale: float = 4.0
    seed: int = 0
