"""params.yaml: the hand-written knobs of every experiment, read by snakemake and DVC.

`load_params` validates the whole file against typed schemas before the workflow builds its DAG,
so a wrong type, range, name or a missing key stops everything with one line naming the key.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from phased_dmd.config import ConfigError, build, read_yaml
from phased_dmd.cost.config import PaperScaleParams
from phased_dmd.data.config import DataParams
from phased_dmd.jobs.bench_config import BenchParams
from phased_dmd.jobs.evaluation_config import EvaluationParams
from phased_dmd.jobs.student_config import StudentsParams
from phased_dmd.teachers.config import TeachersParams
from phased_dmd.toy.figure2_config import Figure2Params
from phased_dmd.toy.toy2d_config import Toy2dParams


@dataclass
class Params:
    data: DataParams = field(default_factory=DataParams)
    teachers: TeachersParams = field(default_factory=TeachersParams)
    students: StudentsParams = field(default_factory=StudentsParams)
    evaluation: EvaluationParams = field(default_factory=EvaluationParams)
    bench: BenchParams = field(default_factory=BenchParams)
    paper_scale: PaperScaleParams = field(default_factory=PaperScaleParams)
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

    def report_seeds(self, name: str) -> list[int]:
        """The distillation seeds of a table or figure: its own `seeds`, or students.seeds."""
        return getattr(self.evaluation, name).seeds or self.students.seeds

    def source_seeds(self, teacher: str, source: str) -> list[int]:
        """The seeds a student (or the base teacher) of a teacher is distilled and sampled with: every seed of
        every report that shows it (the base teacher: every report of that teacher); students.seeds where no
        report shows it. A report reads only its own seeds from the evaluation."""
        shown = [self.report_seeds(name) for name, spec in {**self.evaluation.tables(),
                                                             **self.evaluation.figures()}.items()
                 if teacher in spec.shown() and (source == "base" or source in spec.students_of(teacher))]
        return sorted(set().union(*shown)) if shown else self.students.seeds


@functools.lru_cache(maxsize=4)
def params_of(path: str) -> Params:
    """params.yaml at `path`, validated (once per process): the knobs of a job."""
    return load_params(path)


def load_params(data: dict | str | Path, where: str = "params.yaml") -> Params:
    """Validate params (a mapping, or the path of a YAML file) and return them typed."""
    if not isinstance(data, dict):
        where = str(data)
        data = read_yaml(data)
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of sections at the top level")
    return build(Params, data, where)
