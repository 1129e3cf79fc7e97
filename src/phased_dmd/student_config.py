"""Settings of one student run: distil one phase of a few-step student from a saved teacher (torch-free)."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING

from phased_dmd import config as C
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
