"""Settings of the evaluation: params.yaml's `evaluation` section and one evaluation run (torch-free)."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING

from phased_dmd import config as C
from phased_dmd.choices import TEACHER_KINDS
from phased_dmd.distill_config import DistillConfig

SOURCES: tuple[str, ...] = ("real", "base", "student")  # held-out data | the teacher, 40 steps with CFG | a student


@dataclass
class TableParams:
    """Which teachers (columns) and students (rows, beside the base teacher) a table shows."""

    teachers: list[str] = MISSING
    students: list[str] = MISSING  # names from students.methods

    def check(self):
        yield from C.choices("teachers", self.teachers, TEACHER_KINDS)
        yield from C.non_empty_unique("students", self.students)


@dataclass
class EvaluationParams:
    """params.yaml, section `evaluation`: how samples are drawn and measured for the tables."""

    per_prompt: int = MISSING  # samples per class prompt
    group: int = MISSING  # seeds per diversity group (the paper: 8 seeds per prompt)
    teacher_steps: int = MISSING  # the base teacher's sampler: Euler steps, each with CFG
    teacher_cfg_scale: float = MISSING
    sample_seed: int = MISSING  # sampling noise of distillation seed s: sample_seed + s
    table2: TableParams = field(default_factory=TableParams)

    def check(self):
        for key in ("per_prompt", "teacher_steps", "teacher_cfg_scale"):
            yield from C.positive(key, getattr(self, key))
        if self.group < 2 or self.per_prompt % self.group:
            yield "group", f"at least 2 and a divisor of per_prompt ({self.per_prompt})", self.group


@dataclass
class EvaluationRunConfig:
    """configs/evaluation.yaml + overrides: sample one source for each seed and measure it; writes
    out_dir/metrics.json (per seed) and out_dir/samples.safetensors."""

    source: str = MISSING  # real | base | student
    teacher: str = MISSING  # the teacher folder (its prompts, its data; the base samples)
    student: str = ""  # source=student: the folder of its seeds (seed<s>/phase<p>/generator/)
    classifier: str = MISSING  # the embedded feature network
    data_dir: str = MISSING
    out_dir: str = MISSING
    seeds: list[int] = field(default_factory=lambda: [0])  # distillation seeds (sampling noise: sample_seed + s)
    per_prompt: int = 32
    group: int = 8
    teacher_steps: int = 40
    teacher_cfg_scale: float = 4.0
    sample_seed: int = 1000
    distill: DistillConfig = field(default_factory=DistillConfig)  # the student's settings (steps, phases)

    def check(self):
        yield from C.choice("source", self.source, SOURCES)
        yield from C.non_empty_unique("seeds", self.seeds)
        if self.source == "student" and not self.student:
            yield "student", "the student's folder when source=student", self.student
