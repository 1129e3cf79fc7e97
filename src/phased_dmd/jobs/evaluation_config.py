"""Settings of the evaluation: params.yaml's `evaluation` section and one evaluation run (torch-free)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from omegaconf import MISSING

from phased_dmd import config as C
from phased_dmd.choices import CFG_FORMS, METRIC_BACKENDS, TEACHER_KINDS
from phased_dmd.config import ConfigError
from phased_dmd.jobs.student_config import teacher_kind
from phased_dmd.kinds import KINDS
from phased_dmd.method.distill_config import DistillConfig
from phased_dmd.registry import FIGURES, TABLES

EVALUATION_KNOBS = ("per_prompt", "group", "teacher_steps", "teacher_cfg_scale", "teacher_cfg_form", "sample_seed",
                    "backend", "weights")  # of params.yaml's evaluation section, in every evaluation run
BASE_SAMPLER = ("teacher_steps", "teacher_cfg_scale", "teacher_cfg_form")  # used by the base row's samples only
SOURCES: tuple[str, ...] = ("real", "base", "student")  # held-out data | the teacher, 40 steps with CFG | a student


@dataclass
class TableParams:
    """Which teachers (columns) and students (rows, beside the base teacher) a table shows."""

    teachers: list[str] = MISSING
    students: list[str] = MISSING  # names from students.methods
    seeds: Optional[list[int]] = None  # its distillation seeds (more where a claim is undecided) | null: students.seeds
    skip: dict[str, list[str]] = field(default_factory=dict)  # {teacher: students it does not show} (cost)

    def check(self):
        yield from C.choices("teachers", self.teachers, TEACHER_KINDS)
        yield from C.non_empty_unique("students", self.students)
        if self.seeds is not None:
            yield from C.seeds("seeds", self.seeds)
        for teacher, students in self.skip.items():
            if teacher not in self.teachers:
                yield f"skip.{teacher}", f"one of this table's teachers {self.teachers}", teacher
            for i, s in enumerate(students):
                if s not in self.students:
                    yield f"skip.{teacher}[{i}]", f"one of this table's students {self.students}", s

    def shown(self) -> list[str]:
        return self.teachers

    def students_of(self, teacher: str) -> list[str]:
        """The students this table shows for one of its teachers."""
        return [s for s in self.students if s not in self.skip.get(teacher, [])]


@dataclass
class FigureParams:
    """Students of one teacher that a figure compares (same prompts and noise): the first two, in the figure's
    order; any further ones are measured beside them (Fig. 10: the rest of its curve over t)."""

    teacher: str = MISSING
    students: list[str] = MISSING  # names from students.methods, at least two
    seeds: Optional[list[int]] = None  # its distillation seeds | null: students.seeds

    def check(self):
        yield from C.choice("teacher", self.teacher, TEACHER_KINDS)
        yield from C.non_empty_unique("students", self.students)
        if len(self.students) < 2:
            yield "students", "two students to compare (and any others to measure beside them)", self.students
        if self.seeds is not None:
            yield from C.seeds("seeds", self.seeds)

    def shown(self) -> list[str]:
        return [self.teacher]

    def students_of(self, teacher: str) -> list[str]:
        return self.students


@dataclass
class CalibrationParams:
    """The base teacher's curve against its guidance scale (reports/calibration.md), from which the scale that the
    base row and the distillation's real score use is chosen."""

    teachers: list[str] = MISSING  # the embedded teachers to calibrate on
    cfg_scales: list[float] = MISSING  # standard CFG scales to sample them with
    seeds: list[int] = MISSING  # sampling seeds per scale (sampling noise: sample_seed + s)

    def check(self):
        yield from C.choices("teachers", self.teachers, TEACHER_KINDS)
        yield from C.non_empty_unique("cfg_scales", self.cfg_scales)
        for i, w in enumerate(self.cfg_scales):
            yield from C.non_negative(f"cfg_scales[{i}]", w)
        yield from C.seeds("seeds", self.seeds)


@dataclass
class EvaluationParams:
    """params.yaml, section `evaluation`: how samples are drawn and measured for the tables."""

    per_prompt: int = MISSING  # samples per class prompt
    group: int = MISSING  # seeds per diversity group (the paper: 8 seeds per prompt)
    teacher_steps: int = MISSING  # the base teacher's sampler: Euler steps, each with CFG
    teacher_cfg_scale: float = MISSING
    teacher_cfg_form: str = MISSING  # standard | plus_one | renorm (Qwen-Image's pipeline)
    sample_seed: int = MISSING  # sampling noise of distillation seed s: sample_seed + s
    backend: str = MISSING  # embedded | paper (DINOv3, LPIPS, RAFT, FID's Inception, I3D)
    weights: str = MISSING  # backend=paper: the networks' weights folder (`snakemake metric_weights` fills it)
    table2: TableParams = field(default_factory=TableParams)  # diversity, text-to-image (paper Table 2)
    table3: TableParams = field(default_factory=TableParams)  # motion, text- and image-to-video (Table 3)
    table4: TableParams = field(default_factory=TableParams)  # VBench quality, text-to-video (Table 4)
    table5: TableParams = field(default_factory=TableParams)  # VBench quality, image-to-video (Table 5)
    table6: TableParams = field(default_factory=TableParams)  # motion, distances to the base teacher (Table 6)
    convergence: TableParams = field(default_factory=TableParams)  # students against generator updates
    figure5: FigureParams = field(default_factory=FigureParams)  # high-SNR expert: fewer vs more iterations
    figure9: FigureParams = field(default_factory=FigureParams)  # nested vs disjoint re-noise intervals
    figure10: FigureParams = field(default_factory=FigureParams)  # DMD with re-noise t fixed low vs high
    calibration: CalibrationParams = field(default_factory=CalibrationParams)  # the base teacher against CFG

    def figures(self) -> dict[str, FigureParams]:
        return {name: getattr(self, name) for name in FIGURES}

    def tables(self) -> dict[str, TableParams]:
        return {name: getattr(self, name) for name in TABLES}

    def check(self):
        yield from C.choice("backend", self.backend, METRIC_BACKENDS)
        yield from C.choice("teacher_cfg_form", self.teacher_cfg_form, CFG_FORMS)
        for key in ("per_prompt", "teacher_steps"):
            yield from C.positive(key, getattr(self, key))
        yield from C.non_negative("teacher_cfg_scale", self.teacher_cfg_scale)
        yield from C.non_negative("sample_seed", self.sample_seed)
        if self.group < 2 or self.per_prompt % self.group:
            yield "group", f"at least 2 and a divisor of per_prompt ({self.per_prompt})", self.group
        for name, table in self.tables().items():
            for i, teacher in enumerate(table.teachers):
                if teacher in KINDS and TABLES[name] is not None and KINDS[teacher].is_video != TABLES[name]:
                    yield (f"{name}.teachers[{i}]", "a video teacher (its motion is measured)" if TABLES[name]
                           else "an image teacher", teacher)


@dataclass
class EvaluationRunConfig:
    """configs/evaluation.yaml + overrides: sample one source for each seed and measure it; writes
    out_dir/metrics.json (per seed) and out_dir/samples.safetensors. The knobs the command line leaves unset
    come from `params` (params.yaml: its evaluation section, the students' seeds and the student's settings)."""

    source: str = MISSING  # real | base | student
    teacher: str = MISSING  # the teacher folder (its prompts, its data; the base samples)
    student: str = ""  # source=student: the folder of its seeds (seed<s>/phase<p>/generator/), named as the student
    classifier: str = MISSING  # the embedded feature network
    data_dir: str = MISSING
    out_dir: str = MISSING
    params: str = MISSING  # params.yaml
    decode_batch: int = MISSING  # paper scale: latents decoded by the VAE at a time
    seeds: list[int] = MISSING  # distillation seeds (sampling noise: sample_seed + s); real: [0]
    per_prompt: int = MISSING
    group: int = MISSING
    teacher_steps: int = MISSING
    teacher_cfg_scale: float = MISSING
    teacher_cfg_form: str = MISSING
    sample_seed: int = MISSING
    backend: str = MISSING  # embedded | paper
    weights: str = MISSING  # backend=paper: the weights folder (metrics/pretrained.py)
    distill: Optional[DistillConfig] = MISSING  # the student's settings (steps, phases); none for real and base

    def check(self):
        yield from C.choice("source", self.source, SOURCES)
        yield from C.choice("backend", self.backend, METRIC_BACKENDS)
        yield from C.positive("decode_batch", self.decode_batch)
        if self.backend == "paper" and not self.weights:
            yield "weights", "the metric networks' weights folder when backend=paper", self.weights
        yield from C.seeds("seeds", self.seeds)
        if self.source == "student" and not self.student:
            yield "student", "the student's folder when source=student", self.student


def evaluation_knobs(run) -> dict:
    """The knobs of an evaluation run from params.yaml (those of its source only)."""
    from phased_dmd.jobs.params import params_of

    params = params_of(run.params)
    knobs = {key: getattr(params.evaluation, key) for key in EVALUATION_KNOBS}
    knobs["distill"] = None
    if run.source == "real":
        knobs["seeds"] = [0]
    elif run.source == "base":
        knobs["seeds"] = params.source_seeds(teacher_kind(run.teacher), "base")
    else:
        name = Path(run.student).name
        if name not in params.students.methods:
            raise ConfigError(f"student={run.student}: its folder's name {name!r} is not a student of params.yaml "
                              f"students.methods {list(params.students.methods)}")
        knobs["seeds"] = params.source_seeds(teacher_kind(run.teacher), name)
        knobs["distill"] = dataclasses.asdict(params.students.settings(name, teacher_kind(run.teacher)))
    return knobs
