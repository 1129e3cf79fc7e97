"""Settings of one student run: distil one phase of a few-step student from a saved teacher (torch-free).

A student's distillation knobs come from params.yaml's `students` section in layers; a later layer
wins over an earlier one, key by key:

    students.distill  <  students.methods.<name>  <  students.per_teacher.<teacher>
                      <  students.methods.<name>.phases.<p>  (only the knobs of PER_PHASE)

Every layer is a part of one schema, DistillConfig, which holds no value of its own.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from omegaconf import MISSING

from phased_dmd import config as C
from phased_dmd.choices import PARALLEL_MODES, PRECISIONS, TEACHER_KINDS
from phased_dmd.config import ConfigError, Problem, partial, problems
from phased_dmd.method.distill_config import PER_PHASE, DistillConfig


@dataclass
class StudentRunConfig:
    """configs/student.yaml + overrides: phase `phase` of the student in out_dir (earlier phases already there)."""

    teacher: str = MISSING  # a teacher folder (teacher.json, transformer/, text_encoder/)
    data_dir: str = MISSING  # Fashion-MNIST idx files: first frames for image-to-video
    out_dir: str = MISSING  # the student: phase<p>/generator/ per phase
    phase: int = MISSING  # which phase this run trains (1-based; progressive); earlier phases must be in out_dir
    seed: int = MISSING
    student: str = ""  # its name in params.yaml's students.methods ("": the shared students.distill only)
    params: str = MISSING  # params.yaml: where the distill knobs that the command line leaves unset come from
    checkpoint_every: int = MISSING  # iterations between checkpoints (resume after a kill or a requeue)
    gradient_checkpointing: bool = MISSING  # recompute each block's activations in backward: memory for time
    precision: str = MISSING  # fp32 | bf16 compute with fp32 masters (engine/precision.py)
    compile: bool = MISSING  # torch.compile every transformer: faster iterations after a compile (reports/bench.md)
    distill: DistillConfig = field(default_factory=DistillConfig)  # params.yaml's, under the command line's

    def check(self):
        yield from C.positive("phase", self.phase)
        yield from C.non_negative("seed", self.seed)
        yield from C.positive("checkpoint_every", self.checkpoint_every)
        yield from C.choice("precision", self.precision, PRECISIONS)
        parallel = os.environ.get("PHASED_DMD_PARALLEL", "replicate")
        if parallel not in PARALLEL_MODES:
            yield "PHASED_DMD_PARALLEL (environment variable)", f"one of {list(PARALLEL_MODES)}", parallel
        elif parallel == "shard" and self.distill.uses_lora:
            yield ("PHASED_DMD_PARALLEL (environment variable)", "replicate with a lora role (adapters over a "
                   "sharded teacher are not built yet)", parallel)
        processes = int(os.environ.get("WORLD_SIZE", "1"))  # data parallel: each process takes a shard
        if self.distill.batch_size % processes:
            yield ("distill.batch_size", f"a multiple of the {processes} data-parallel processes (WORLD_SIZE)",
                   self.distill.batch_size)


def teacher_kind(teacher: str | Path) -> str:
    """The kind of a saved teacher (its teacher.json), without loading it."""
    spec = Path(teacher) / "teacher.json"
    try:
        return json.loads(spec.read_text())["kind"]
    except (OSError, ValueError, KeyError):
        raise ConfigError(f"teacher={teacher}: {spec} not found or without a kind: expected a teacher folder "
                          "(the teacher rule writes results/teachers/<kind>)") from None


def student_knobs(run) -> dict:
    """The distill knobs of a student run from params.yaml, for the keys its command line left unset."""
    from phased_dmd.jobs.params import params_of

    params = params_of(run.params)
    name = run.student or None
    if name is not None and name not in params.students.methods:
        raise ConfigError(f"student={name}: expected a student of params.yaml students.methods "
                          f"{list(params.students.methods)}")
    settings = params.students.settings(name, teacher_kind(run.teacher), run.phase)
    return {"distill": dataclasses.asdict(settings)}


Layer = dict[str, Any]


@dataclass
class StudentsParams:
    """params.yaml, section `students`: few-step students of the embedded teachers, phase by phase."""

    teachers: list[str] = MISSING  # which teachers get students
    methods: dict[str, Layer] = MISSING  # student name -> its distill knobs (method at least); phases: {p: knobs}
    seeds: list[int] = MISSING
    per_teacher: dict[str, Layer] = MISSING  # teacher kind -> its distill knobs (Wan2.2: the grid's shift)
    distill: Layer = MISSING  # the knobs every student shares unless a later layer sets them

    @cached_property
    def typed(self) -> tuple[dict[str, Layer], list[Problem]]:
        """Every layer typed by DistillConfig (keyed by its place in the section), and the problems found."""
        layers, found = {}, []

        def add(where: str, layer: Mapping, allowed: tuple[str, ...] | None = None):
            for key in layer:
                if allowed is not None and key not in allowed:
                    found.append((f"{where}.{key}", f"one of the knobs a phase may set {list(allowed)}", key))
            layers[where], bad = partial(DistillConfig, layer, f"{where}.")
            found.extend(bad)

        add("distill", self.distill)
        for name, spec in self.methods.items():
            add(f"methods.{name}", {k: v for k, v in spec.items() if k != "phases"})
            for p, knobs in (spec.get("phases") or {}).items():
                if not isinstance(p, int) or not isinstance(knobs, Mapping):
                    found.append((f"methods.{name}.phases", "phase number -> knobs, e.g. {2: {iterations: 320}}",
                                  p))
                    continue
                add(f"methods.{name}.phases.{p}", knobs, PER_PHASE)
        for teacher, knobs in self.per_teacher.items():
            add(f"per_teacher.{teacher}", knobs)
        return layers, found

    def layers(self, name: str | None, teacher: str, phase: int | None = None) -> list[str]:
        """Where student `name`'s settings for `teacher` (and one phase) come from, lowest precedence first."""
        order = ["distill", f"methods.{name}", f"per_teacher.{teacher}", f"methods.{name}.phases.{phase}"]
        return [where for where in order if where in self.typed[0]]

    def settings(self, name: str | None, teacher: str, phase: int | None = None) -> DistillConfig:
        """The distill settings of student `name` (None: the shared ones) for `teacher`; for one phase, with that
        phase's knobs (so that editing them reruns that phase and the ones after it only)."""
        merged = {}
        for where in self.layers(name, teacher, phase):
            merged.update(self.typed[0][where])
        return DistillConfig(**merged)

    def check(self) -> Iterator[Problem]:
        yield from C.choices("teachers", self.teachers, TEACHER_KINDS)
        yield from C.seeds("seeds", self.seeds)
        for name in self.per_teacher:
            yield from C.choice(f"per_teacher.{name}", name, TEACHER_KINDS)
        layers, found = self.typed
        if found:
            yield from found[:1]
            return
        for name in self.methods:
            if not name.replace("_", "").isalnum():
                yield f"methods.{name}", "a name of letters, digits and _ (it becomes a folder)", name
            for teacher in ("", *self.per_teacher):  # a teacher without per_teacher knobs: the shared layers
                yield from self._problems(name, teacher)

    def _problems(self, name: str, teacher: str) -> Iterator[Problem]:
        """Each problem of student `name`'s merged settings, named by the layer that set the key."""
        unset = [f.name for f in dataclasses.fields(DistillConfig) if not any(
            f.name in self.typed[0][where] for where in self.layers(name, teacher))]
        if unset:
            yield f"methods.{name}", f"a value of {unset[0]} (here or in students.distill)", "nothing"
            return
        count = self.settings(name, teacher).phase_count
        for p in self.methods[name].get("phases") or {}:
            if not 1 <= p <= count:
                yield f"methods.{name}.phases.{p}", f"a phase number from 1 to {count}", p
        for phase in range(1, count + 1):
            order = self.layers(name, teacher, phase)
            for key, expected, value in problems(self.settings(name, teacher, phase)):
                where = next(w for w in reversed(order) if key in self.typed[0][w])
                yield f"{where}.{key}", expected, value
