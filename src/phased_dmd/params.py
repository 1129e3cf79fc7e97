"""params.yaml: the hand-written knobs of every experiment, read by snakemake and DVC.

`load_params` validates the whole file against typed schemas before the workflow builds its DAG,
so a wrong type, range, name or a missing key stops everything with one line naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from omegaconf import MISSING

from phased_dmd.bench_config import BenchParams
from phased_dmd.config import ConfigError, build, read_yaml
from phased_dmd.evaluation_config import EvaluationParams
from phased_dmd.student_config import StudentsParams
from phased_dmd.teachers.config import TeachersParams, VideoConfig
from phased_dmd.toy.figure2_config import Figure2Params
from phased_dmd.toy.toy2d_config import Toy2dParams


@dataclass
class DataParams:
    """params.yaml, section `data`: where the embedded data set comes from."""

    fashion_mnist: Optional[str] = MISSING  # a folder with the idx files; null: apt-get download (Debian)
    resolution: int = MISSING  # side of the square images at embedded scale
    video: VideoConfig = field(default_factory=VideoConfig)  # moving items of the video teachers and the classifier

    def check(self):
        if self.resolution not in range(4, 29, 4):
            yield "resolution", "a multiple of 4 (the transformers' patch) from 4 to 28", self.resolution
        if self.video.item > self.resolution:
            yield "video.item", f"at most the canvas (resolution = {self.resolution})", self.video.item


@dataclass
class Params:
    data: DataParams = field(default_factory=DataParams)
    teachers: TeachersParams = field(default_factory=TeachersParams)
    students: StudentsParams = field(default_factory=StudentsParams)
    evaluation: EvaluationParams = field(default_factory=EvaluationParams)
    bench: BenchParams = field(default_factory=BenchParams)
    figure2: Figure2Params = field(default_factory=Figure2Params)
    toy2d: Toy2dParams = field(default_factory=Toy2dParams)

    def check(self):
        """What one section asks of another: a table or figure shows students of students.methods (its DAG
        trains them for its teachers, whether or not students.teachers lists them); paper-scale teachers are
        measured by the paper's networks."""
        for key, table in {**self.evaluation.tables(), **self.evaluation.figures()}.items():
            for i, name in enumerate(table.students):
                if name not in self.students.methods:
                    yield (f"evaluation.{key}.students[{i}]", f"a student of students.methods "
                           f"{list(self.students.methods)}", name)
        if self.teachers.scale == "paper" and self.evaluation.backend != "paper":
            yield ("evaluation.backend", "paper when teachers.scale is paper (the embedded feature network only "
                   "knows Fashion-MNIST)", self.evaluation.backend)


def load_params(data: dict | str | Path, where: str = "params.yaml") -> Params:
    """Validate params (a mapping, or the path of a YAML file) and return them typed."""
    if not isinstance(data, dict):
        where = str(data)
        data = read_yaml(data)
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of sections at the top level")
    return build(Params, data, where)
