"""The workflow's Python: what the Snakefile and rules/*.smk ask of the DAG, kept here so that it is tested
(tests/test_dag.py) and the rules read as the pipeline.

A `Pipeline` holds params.yaml (validated) and how heavy jobs run: directly (launcher none), or submitted by the
submitit launcher (jobs.launch: local subprocesses or Slurm jobs). Wildcards are any object with the rule's
wildcard names as attributes. Paths follow one layout:

    data/fashion-mnist/                      results/teachers/<teacher>/
    results/students/<teacher>/<student>/seed<s>/phase<p>/generator/
    results/evaluation/<teacher>/<source>/   (source: real | base | a student)      reports/<name>.*
"""

from __future__ import annotations

import shlex
import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from phased_dmd.config import ConfigError
from phased_dmd.cost.config import PAPER_TABLES
from phased_dmd.data.fashion_mnist import FILES as FASHION_MNIST_FILES
from phased_dmd.jobs.evaluation_config import BASE_SAMPLER, EVALUATION_KNOBS
from phased_dmd.jobs.launch import CLUSTERS
from phased_dmd.jobs.params import Params, load_params
from phased_dmd.kinds import KINDS
from phased_dmd.method.distill_config import DistillConfig
from phased_dmd.registry import FIGURES, RUNS, TABLES
from phased_dmd.toy.figure2_config import section_knobs

FASHION_MNIST = [f"data/fashion-mnist/{name}" for name in FASHION_MNIST_FILES.values()]
LAUNCHERS = ("none", *CLUSTERS)
RESOURCE_FLAGS = (("mem_mb", "--mem-mb"), ("slurm_partition", "--partition"), ("slurm_account", "--account"),
                  ("tasks_per_node", "--tasks-per-node"), ("nodes", "--nodes"), ("cpus_per_task", "--cpus-per-task"))


def teacher_dir(teacher: str) -> str:
    return f"results/teachers/{teacher}"


def evaluation_dir(teacher: str, source: str) -> str:
    return f"results/evaluation/{teacher}/{source}"


@dataclass
class Pipeline:
    params: Params
    launcher: str = "none"  # none | local | slurm (a profile's config: launcher=...)
    python: str = field(default_factory=lambda: shlex.quote(sys.executable))

    @classmethod
    def from_config(cls, config: Mapping, path: str = "params.yaml") -> Pipeline:
        """The DAG of snakemake's `config` (params.yaml, and launcher= from a profile). A bad params.yaml or
        launcher raises ConfigError naming the key (the Snakefile has read the file strictly before snakemake
        did: duplicate keys, syntax)."""
        params = load_params({k: v for k, v in config.items() if k != "launcher"}, path)
        launcher = config.get("launcher", "none")
        if launcher not in LAUNCHERS:
            raise ConfigError(f"config launcher={launcher!r}: expected one of {', '.join(LAUNCHERS)}")
        if launcher == "slurm" and shutil.which("sbatch") is None:
            raise ConfigError("the slurm profile needs Slurm, but sbatch is not on this machine's PATH; run from "
                              "a Slurm login node, or use --profile local")
        return cls(params, launcher)

    # ---- what the workflow makes

    @property
    def paper_scale(self) -> bool:
        """Teachers from the hub: tables only, measured by the paper's networks."""
        return self.params.teachers.scale == "paper"

    @property
    def tables(self) -> list[str]:
        """The tables `all` makes: at paper scale, those whose teachers are all fetched (teachers.names)."""
        if not self.paper_scale:
            return list(TABLES)
        return [t for t in TABLES if set(self.table(t).teachers) <= set(self.params.teachers.names)]

    @property
    def figures(self) -> list[str]:
        return [] if self.paper_scale else list(FIGURES)

    def all_reports(self) -> list[str]:
        runs = [] if self.paper_scale else list(RUNS)
        return [f"reports/{name}.md" for name in (*self.tables, *self.figures, *runs)]

    def claims_report_inputs(self) -> list[str]:
        """The reports whose claims the claims page gathers (every other report but those of the testbed)."""
        return [f"reports/{name}.json" for name in (*self.tables, *self.figures, *RUNS)
                if name not in ("claims", "calibration", "convergence", "paper_scale", "teachers", "toy2d")]

    def table(self, name: str):
        return getattr(self.params.evaluation, name)

    # ---- how a heavy job runs

    def command(self, module: str, log_dir: str) -> Callable[[Any, Any], str]:
        """The command (a function of the job's wildcards and resources) that runs `module`: directly, or
        submitted by the launcher with the job's resources (from the profile and the rule, never from code)."""

        def command(wildcards, resources) -> str:
            if self.launcher == "none":
                return f"{self.python} -m {module}"
            opts = ["--cluster", self.launcher, "--log-dir", log_dir.format(**wildcards),
                    "--timeout-min", getattr(resources, "runtime", 60), "--gpus", getattr(resources, "gpu", 0)]
            for name, flag in RESOURCE_FLAGS:
                if getattr(resources, name, None):
                    opts += [flag, getattr(resources, name)]
            return f"{self.python} -m phased_dmd.jobs.launch {shlex.join(map(str, opts))} -- {module}"

        return command

    # ---- data and teachers

    def data_source(self) -> str:
        source = self.params.data.fashion_mnist
        return f"--source {shlex.quote(source)}" if source else ""

    def teacher_module(self) -> str:
        return "phased_dmd.teachers.hub" if self.paper_scale else "phased_dmd.jobs.teacher"

    def teacher_inputs(self) -> list[str]:
        return [] if self.paper_scale else FASHION_MNIST

    def teacher_outputs(self) -> dict[str, str]:
        """A fetched teacher is its teacher.json; an embedded one also has its training record and sample grid."""
        spec = {"spec": "results/teachers/{teacher}/teacher.json"}
        if self.paper_scale:
            return spec
        return {**spec, "training": "results/teachers/{teacher}/training.json", "grid": "reports/teacher_{teacher}.png"}

    def teacher_log(self) -> str:
        return "results/teachers/{teacher}/" + ("fetch.log" if self.paper_scale else "train.log")

    def teacher_args(self, w) -> str:
        args = f"kind={w.teacher} out_dir={teacher_dir(w.teacher)}"
        return args if self.paper_scale else f"{args} data_dir=data/fashion-mnist grid=reports/teacher_{w.teacher}.png"

    def teacher_knobs(self, w) -> Any:
        """What a teacher job reads from params.yaml (it reruns when they change)."""
        t = self.params.teachers
        if self.paper_scale:
            return [t.sources.get(w.teacher, ""), t.prompts, t.images if KINDS[w.teacher].task == "i2v" else []]
        return [asdict(t.train), asdict(self.params.data)]

    def data_knobs(self) -> dict:
        return asdict(self.params.data)

    def recognition_knobs(self) -> list:
        return [self.params.evaluation.teacher_steps, self.params.evaluation.teacher_cfg_scale]

    def teachers_report_inputs(self) -> list[str]:
        names = self.params.teachers.names
        return ["results/classifier/metrics.json",
                *(f"{teacher_dir(t)}/{f}" for t in names for f in ("training.json", "recognition/recognition.json")),
                *(f"reports/teacher_{t}.png" for t in names)]  # linked from the report

    # ---- students: one job per phase; phase p starts from the saved generators of phases 1..p-1

    @staticmethod
    def student_dir(w) -> str:
        return f"results/students/{w.teacher}/{w.student}/seed{w.seed}"

    def final_phase(self, teacher: str, student: str, seed: int) -> str:
        """The marker of a finished student: its last phase's generator (joint: one job trains every phase)."""
        count = self.params.students.settings(student, teacher).phase_count
        return f"results/students/{teacher}/{student}/seed{seed}/phase{count}/generator/teacher.json"

    def earlier_phase(self, w) -> list[str]:
        if int(w.phase) == 1 or self.params.students.settings(w.student, w.teacher).schedule == "joint":
            return []
        return [f"{self.student_dir(w)}/phase{int(w.phase) - 1}/generator/teacher.json"]

    def student_knobs(self, w) -> dict:
        """What a phase's job reads from params.yaml (it reruns when they change)."""
        return self.params.students.settings(w.student, w.teacher, int(w.phase)).rerun_knobs()

    def exported_student(self, w) -> str:
        """The student an export rule reads: one of a paper-scale teacher (the embedded ones cannot be exported)."""
        if not self.paper_scale:
            raise ConfigError(f"results/export/{w.teacher}/{w.student}/seed{w.seed}: export needs a student of a "
                              "paper-scale teacher (params.yaml teachers.scale: paper); the embedded teachers have no "
                              "text encoder or VAE a diffusers pipeline could run")
        return self.final_phase(w.teacher, w.student, int(w.seed))

    def students(self, pairs: list[tuple[str, str]]) -> list[str]:
        return [self.final_phase(t, s, seed) for t, s in pairs for seed in self.params.source_seeds(t, s)]

    def all_students(self) -> list[str]:
        """Every method of students.methods for every teacher of students.teachers (`snakemake students`)."""
        s = self.params.students
        return self.students([(t, m) for t in s.teachers for m in s.methods])

    def shown_students(self) -> list[str]:
        """Those of students.teachers that a table or figure shows (DVC's students stage)."""
        pairs = {(t, s) for name in self.tables for t in self.table(name).teachers
                 for s in self.table(name).students_of(t)}
        pairs |= {(self.table(name).teacher, s) for name in self.figures for s in self.table(name).students}
        return self.students(sorted((t, s) for t, s in pairs if t in self.params.students.teachers))

    # ---- evaluation: each source (held-out data, the base teacher, a student over its seeds) sampled and measured

    def evaluation_inputs(self) -> list[str]:
        return [] if self.paper_scale else [*FASHION_MNIST, "results/classifier/model/config.json"]

    def metric_weights(self) -> list:
        return [self.params.evaluation.weights] if self.params.evaluation.backend == "paper" else []

    def evaluated_students(self, w) -> list[str]:
        if w.source in ("real", "base"):
            return []
        return [self.final_phase(w.teacher, w.source, seed) for seed in self.params.source_seeds(w.teacher, w.source)]

    @staticmethod
    def evaluation_args(w) -> str:
        """Which source an evaluation samples, and where it writes."""
        args = (f"teacher={teacher_dir(w.teacher)} classifier=results/classifier/model data_dir=data/fashion-mnist "
                f"out_dir={evaluation_dir(w.teacher, w.source)} ")
        if w.source in ("real", "base"):
            return args + f"source={w.source}"
        return args + f"source=student student=results/students/{w.teacher}/{w.source}"

    def evaluation_knobs(self, w) -> dict:
        """What an evaluation reads from params.yaml (an edit of the base sampler reruns the base row only)."""
        unused = () if w.source == "base" else BASE_SAMPLER
        knobs = {k: getattr(self.params.evaluation, k) for k in EVALUATION_KNOBS if k not in unused}
        if w.source != "real":
            knobs["seeds"] = self.params.source_seeds(w.teacher, w.source)
        if w.source not in ("real", "base"):
            knobs["distill"] = self.params.students.settings(w.source, w.teacher).rerun_knobs()
        return knobs

    def report_inputs(self, name: str) -> list[str]:
        """The measurements a table or figure reads: per teacher, the held-out data (embedded scale), the base
        teacher (tables) and its students."""
        table = self.table(name)
        if name in TABLES:
            if name not in self.tables:
                raise ConfigError(f"reports/{name}.md at paper scale: its teachers {table.teachers} are not all in "
                                  f"teachers.names {self.params.teachers.names} (kinds with a paper-scale loader); "
                                  f"edit evaluation.{name}.teachers")
            teachers, data = table.teachers, [] if self.paper_scale else ["real"]
        else:
            teachers, data = [table.teacher], ["real"]
        return [f"{evaluation_dir(t, s)}/{f}" for t in teachers for s in (*data, "base", *table.students_of(t))
                for f in ("metrics.json", "features.safetensors")]

    def calibration_points(self) -> list[str]:
        """The base teacher of every teacher of evaluation.calibration at every CFG scale of it."""
        spec = self.params.evaluation.calibration
        return [f"results/calibration/{t}/cfg{w:g}/metrics.json" for t in spec.teachers for w in spec.cfg_scales]

    def calibration_report_inputs(self) -> list[str]:
        """The curve's points, and the held-out data of every teacher for the scale of its measures."""
        return [*self.calibration_points(), *(f"{evaluation_dir(t, 'real')}/metrics.json"
                                              for t in self.params.evaluation.calibration.teachers)]

    def calibration_args(self, w) -> str:
        """The evaluation of the base teacher at the point's CFG scale, with the calibration's seeds."""
        seeds = ",".join(map(str, self.params.evaluation.calibration.seeds))
        return (f"teacher={teacher_dir(w.teacher)} classifier=results/classifier/model data_dir=data/fashion-mnist "
                f"out_dir=results/calibration/{w.teacher}/cfg{w.scale} source=base teacher_cfg_scale={w.scale} "
                f"seeds=[{seeds}]")

    def calibration_knobs(self, w) -> dict:
        """What a calibration point reads from params.yaml (its scale and seeds are in its command)."""
        return {**{k: getattr(self.params.evaluation, k) for k in EVALUATION_KNOBS if k != "teacher_cfg_scale"},
                "seeds": self.params.evaluation.calibration.seeds}

    def all_evaluations(self) -> list[str]:
        """Every table's and figure's samples and measurements (DVC's evaluation stage)."""
        return [path for name in (*self.tables, *self.figures) for path in self.report_inputs(name)]

    # ---- the analytic-scale experiments

    def bench_knobs(self) -> dict:
        return asdict(self.params.bench)

    def paper_scale_knobs(self) -> dict:
        """What the cost model reads from params.yaml: its assumptions and the recipe of every student of the
        paper's tables (reports/paper_scale.py)."""
        recipes = {f"{kind}/{student}": self.params.students.settings(student, kind).rerun_knobs()
                   for name in PAPER_TABLES for kind in self.table(name).teachers
                   for student in (*self.table(name).students, "phased")}
        return {"paper_scale": asdict(self.params.paper_scale), "recipes": recipes}

    def figure2_knobs(self) -> dict:
        return section_knobs(self.params.figure2)

    def figure2_runs(self, file: str) -> list[str]:
        f = self.params.figure2
        return [f"results/figure2/{o}/seed{s}/{file}" for o in f.objectives for s in f.seeds]

    def toy2d_knobs(self, method: str) -> dict:
        """What a toy 2-D run reads from params.yaml: its ring, and the pretraining or one method's distillation."""
        toy = self.params.toy2d
        if method == "pretrained":
            return {"ring": asdict(toy.ring), "pretrain_iterations": toy.pretrain_iterations}
        return {"ring": asdict(toy.ring), "distill": DistillConfig(**toy.run_distill(method)).rerun_knobs()}

    def toy2d_runs(self) -> list[str]:
        toy = self.params.toy2d
        return [*(f"results/toy2d/{m}/seed{s}/metrics.json" for m in toy.methods for s in toy.seeds),
                *(f"results/toy2d/pretrained/seed{s}/baselines.json" for s in toy.seeds)]
