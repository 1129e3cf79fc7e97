"""Settings of one student run: distil one phase of a few-step student from a saved teacher (torch-free)."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Optional

from omegaconf import MISSING

from phased_dmd import config as C
from phased_dmd.choices import PARALLEL_MODES, TEACHER_KINDS
from phased_dmd.config import problems
from phased_dmd.distill_config import DistillConfig


@dataclass
class StudentRunConfig:
    """configs/student.yaml + overrides: phase `phase` of the student in out_dir (earlier phases already there)."""

    teacher: str = MISSING  # a teacher folder (teacher.json, transformer/, text_encoder/)
    data_dir: str = MISSING  # Fashion-MNIST idx files: first frames for image-to-video
    out_dir: str = MISSING  # the student: phase<p>/generator/ per phase
    phase: int = 1  # which phase this run trains (1-based; progressive schedule); earlier phases must be in out_dir
    seed: int = 0
    gradient_checkpointing: bool = False  # recompute each block's activations in backward: memory for time
    distill: DistillConfig = field(default_factory=DistillConfig)

    def check(self):
        yield from C.positive("phase", self.phase)
        parallel = os.environ.get("PHASED_DMD_PARALLEL", "replicate")
        if parallel not in PARALLEL_MODES:
            yield "PHASED_DMD_PARALLEL (environment variable)", f"one of {list(PARALLEL_MODES)}", parallel
        processes = int(os.environ.get("WORLD_SIZE", "1"))  # data parallel: each process takes a shard
        if self.distill.batch_size % processes:
            yield ("distill.batch_size", f"a multiple of the {processes} data-parallel processes (WORLD_SIZE)",
                   self.distill.batch_size)


@dataclass
class PhaseSettings:
    """Training knobs of one phase of a student (`students.methods.<name>.phases.<p>`); unset: shared ones."""

    iterations: Optional[int] = None
    ttur: Optional[int] = None
    batch_size: Optional[int] = None
    lr_generator: Optional[float] = None
    lr_fake: Optional[float] = None
    cfg_scale: Optional[float] = None

    def check(self):
        for key, value in dataclasses.asdict(self).items():
            if value is not None:
                yield from C.positive(key, value)


@dataclass
class StudentSpec:
    """One kind of student in params.yaml (`students.methods.<name>`): what differs from the shared settings."""

    method: str = MISSING  # dmd | sgts | phased
    num_phases: int = 1
    interval: str = "nested"
    critic: str = "subinterval"
    fixed_t: Optional[float] = None
    phases: dict[int, PhaseSettings] = field(default_factory=dict)  # phase number -> its own training knobs


@dataclass
class TeacherSettings:
    """Settings that depend on the teacher (`students.per_teacher.<kind>`); unset ones come from `distill`."""

    shift: Optional[float] = None  # Wan2.2: 7 (9 for I2V) puts the end of phase 1 at the expert boundary
    batch_size: Optional[int] = None  # videos carry 5 frames' tokens: a smaller batch keeps a phase's time

    def check(self):
        if self.shift is not None:
            yield from C.positive("shift", self.shift)
        if self.batch_size is not None:
            yield from C.positive("batch_size", self.batch_size)


@dataclass
class StudentsParams:
    """params.yaml, section `students`: few-step students of the embedded teachers, phase by phase."""

    teachers: list[str] = MISSING  # which teachers get students
    methods: dict[str, StudentSpec] = MISSING
    seeds: list[int] = MISSING
    per_teacher: dict[str, TeacherSettings] = field(default_factory=dict)
    distill: DistillConfig = field(default_factory=DistillConfig)  # shared; `method` comes from the spec

    def check(self):
        yield from C.choices("teachers", self.teachers, TEACHER_KINDS)
        yield from C.non_empty_unique("seeds", self.seeds)
        for name in self.per_teacher:
            yield from C.choice(f"per_teacher.{name}", name, TEACHER_KINDS)
        for name in self.methods:
            if not name.replace("_", "").isalnum():
                yield f"methods.{name}", "a name of letters, digits and _ (it becomes a folder)", name
            count = self.settings(name, self.teachers[0]).phase_count
            for p in self.methods[name].phases:
                if not 1 <= p <= count:
                    yield f"methods.{name}.phases.{p}", f"a phase number from 1 to {count}", p
            own = dataclasses.asdict(self.methods[name])  # the shared `distill` block is checked on its own
            for key, expected, value in problems(self.settings(name, self.teachers[0])):
                if key in own:
                    yield f"methods.{name}: {key}", expected, value

    def settings(self, name: str, teacher: str, phase: int | None = None) -> DistillConfig:
        """The shared distill settings with student `name`'s spec, the teacher's own settings and, for one
        phase, that phase's knobs (so that editing them reruns that phase and the ones after it only)."""
        spec = {k: v for k, v in dataclasses.asdict(self.methods[name]).items() if k != "phases"}
        own = dataclasses.asdict(self.per_teacher.get(teacher, TeacherSettings()))
        cfg = dataclasses.replace(self.distill, **spec, **{k: v for k, v in own.items() if v is not None})
        knobs = dataclasses.asdict(self.methods[name].phases.get(phase, PhaseSettings()))
        return dataclasses.replace(cfg, **{k: v for k, v in knobs.items() if v is not None})
