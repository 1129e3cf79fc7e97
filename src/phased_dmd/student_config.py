"""Settings of one student run: distil one phase of a few-step student from a saved teacher (torch-free)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Optional

from omegaconf import MISSING

from phased_dmd import config as C
from phased_dmd.choices import TEACHER_KINDS
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
    distill: DistillConfig = field(default_factory=DistillConfig)

    def check(self):
        yield from C.positive("phase", self.phase)


@dataclass
class StudentSpec:
    """One kind of student in params.yaml (`students.methods.<name>`): what differs from the shared settings."""

    method: str = MISSING  # dmd | sgts | phased
    num_phases: int = 1
    interval: str = "nested"
    critic: str = "subinterval"
    fixed_t: Optional[float] = None


@dataclass
class StudentsParams:
    """params.yaml, section `students`: few-step students of the embedded teachers, phase by phase."""

    teachers: list[str] = MISSING  # which teachers get students
    methods: dict[str, StudentSpec] = MISSING
    seeds: list[int] = MISSING
    shift: dict[str, float] = field(default_factory=dict)  # per teacher; others use distill.shift
    distill: DistillConfig = field(default_factory=DistillConfig)  # shared; `method` comes from the spec

    def check(self):
        yield from C.non_empty_unique("teachers", self.teachers)
        for i, name in enumerate(self.teachers):
            yield from C.choice(f"teachers[{i}]", name, TEACHER_KINDS)
        yield from C.non_empty_unique("seeds", self.seeds)
        for name in self.shift:
            yield from C.choice(f"shift.{name}", name, TEACHER_KINDS)
        for name in self.methods:
            if not name.replace("_", "").isalnum():
                yield f"methods.{name}", "a name of letters, digits and _ (it becomes a folder)", name
            own = dataclasses.asdict(self.methods[name])  # the shared `distill` block is checked on its own
            for key, expected, value in problems(self.settings(name, self.teachers[0])):
                if key in own:
                    yield f"methods.{name}: {key}", expected, value

    def settings(self, name: str, teacher: str) -> DistillConfig:
        """The shared distill settings with student `name`'s spec and the teacher's shift."""
        spec = self.methods[name]
        return dataclasses.replace(self.distill, **dataclasses.asdict(spec),
                                   shift=self.shift.get(teacher, self.distill.shift))
