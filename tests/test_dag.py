"""The workflow's Python (workflow.Pipeline): the jobs and files each rule asks for, on the shipped params.yaml."""

import copy
import dataclasses
import subprocess
import sys
from types import SimpleNamespace as W

import pytest
import yaml

from phased_dmd.config import ConfigError
from phased_dmd.jobs.evaluation_config import EvaluationParams, FigureParams, TableParams
from phased_dmd.method.distill_config import LORA_KNOBS
from phased_dmd.registry import EVALUATED, FIGURES, TABLES
from phased_dmd.workflow import Pipeline
from shipped import PARAMS, ROOT

GOOD = yaml.safe_load((ROOT / "params.yaml").read_text())


def pipeline(edit=lambda data: None, launcher="none") -> Pipeline:
    data = copy.deepcopy(GOOD)
    edit(data)
    return Pipeline.from_config({**data, "launcher": launcher}, str(ROOT / "params.yaml"))


def test_every_report_of_the_registry_is_made_by_all():
    reports = pipeline().all_reports()
    assert reports == [f"reports/{name}.md" for name in (*TABLES, *FIGURES, "figure2", "toy2d", "teachers", "bench",
                                                          "calibration", "paper_scale", "claims")]


def test_the_registry_matches_the_evaluation_schema_and_dvc():
    fields = {f.name: f.type for f in dataclasses.fields(EvaluationParams)}
    assert {n for n, t in fields.items() if t in ("TableParams", TableParams)} == set(TABLES)
    assert {n for n, t in fields.items() if t in ("FigureParams", FigureParams)} == set(FIGURES)
    stages = subprocess.run([str(ROOT / ".venv/bin/dvc"), "stage", "list", "--name-only"], cwd=ROOT, text=True,
                            capture_output=True, check=True).stdout.split()
    assert [s for s in stages if s.startswith("report@")] == [f"report@{name}" for name in EVALUATED]


def test_a_phase_waits_for_the_phase_before_it_unless_the_schedule_is_joint():
    dag = pipeline()
    assert dag.earlier_phase(W(teacher="wan2.1", student="phased", seed="0", phase="1")) == []
    assert dag.earlier_phase(W(teacher="wan2.1", student="phased4", seed="2", phase="3")) == [
        "results/students/wan2.1/phased4/seed2/phase2/generator/teacher.json"]
    joint = pipeline(lambda d: d["students"]["methods"]["phased4"].update(schedule="joint"))
    assert joint.earlier_phase(W(teacher="wan2.1", student="phased4", seed="2", phase="3")) == []
    assert dag.final_phase("wan2.1", "dmd", 1) == "results/students/wan2.1/dmd/seed1/phase1/generator/teacher.json"
    assert dag.final_phase("wan2.1", "phased4", 1).endswith("/phase4/generator/teacher.json")


def test_the_knobs_that_rerun_a_phase_are_its_own():
    dag = pipeline()
    knobs = dag.student_knobs(W(teacher="wan2.1", student="phased_long", seed="0", phase="2"))
    settings = dataclasses.asdict(PARAMS.students.settings("phased_long", "wan2.1", 2))
    assert knobs == {k: v for k, v in settings.items() if k not in LORA_KNOBS}  # full fine-tuning: no LoRA knob
    assert knobs["iterations"] == 320
    assert dag.student_knobs(W(teacher="wan2.1", student="phased_long", seed="0", phase="1"))["iterations"] == 80
    lora = dag.student_knobs(W(teacher="wan2.1", student="phased_lora", seed="0", phase="1"))
    assert lora["generator_train"] == "lora" and lora["lora_rank"] == settings["lora_rank"]  # a LoRA run: all


def test_only_the_base_row_depends_on_the_base_sampler():
    dag = pipeline()
    base = dag.evaluation_knobs(W(teacher="wan2.1", source="base"))
    real = dag.evaluation_knobs(W(teacher="wan2.1", source="real"))
    student = dag.evaluation_knobs(W(teacher="wan2.1", source="sgts"))
    assert "teacher_cfg_scale" in base and "teacher_cfg_scale" not in real and "teacher_cfg_scale" not in student
    assert "seeds" not in real and student["distill"]["method"] == "sgts"
    assert dag.evaluated_students(W(teacher="wan2.1", source="sgts")) == [
        f"results/students/wan2.1/sgts/seed{s}/phase1/generator/teacher.json" for s in PARAMS.students.seeds]


def test_a_table_reads_held_out_data_base_and_students_of_its_teachers():
    inputs = pipeline().report_inputs("table2")
    rows = {p.split("/")[3] for p in inputs}
    assert {p.split("/")[2] for p in inputs} == set(PARAMS.evaluation.table2.teachers)
    assert rows == {"real", "base", *PARAMS.evaluation.table2.students}
    figure = pipeline().report_inputs("figure10")
    assert {p.split("/")[3] for p in figure} == {"real", "base", *PARAMS.evaluation.figure10.students}


def test_the_shown_students_are_those_of_the_tables_and_figures():
    shown = pipeline().shown_students()
    pairs = {tuple(p.split("/")[2:4]) for p in shown}
    assert ("wan2.1", "phased_long") in pairs and ("wan2.2-t2v", "phased4") in pairs
    assert ("wan2.1", "phased4") not in pairs  # no table shows it
    seeds = {pair: {p.split("/")[4] for p in shown if tuple(p.split("/")[2:4]) == pair} for pair in pairs}
    assert all(len(s) >= len(PARAMS.students.seeds) for s in seeds.values())  # a report may ask for more
    assert seeds[("wan2.1", "dmd_t100")] == {f"seed{s}" for s in PARAMS.report_seeds("figure10")}


def test_a_reports_own_seeds_train_and_sample_its_students_and_the_base_teacher_only():
    def more(data):
        for shown in data["evaluation"].values():  # no report with its own seeds, but Table 2
            if isinstance(shown, dict) and "students" in shown:
                shown.pop("seeds", None)
        data["evaluation"]["table2"]["seeds"] = [0, 1, 2, 3, 4]

    dag, default = pipeline(more), PARAMS.students.seeds
    assert dag.params.report_seeds("table2") == [0, 1, 2, 3, 4] and dag.params.report_seeds("figure10") == default
    shown = set(dag.shown_students())
    assert "results/students/wan2.1/phased/seed4/phase2/generator/teacher.json" in shown  # Table 2 shows it
    assert "results/students/wan2.2/dmd/seed3/phase1/generator/teacher.json" in shown
    assert not any("/dmd_t100/seed3/" in p or "/wan2.2-t2v/sgts/seed3/" in p for p in shown)  # others: 3 seeds
    for source in ("base", "phased_disjoint", "phased"):  # the base teacher: the union over its reports
        seeds = [0, 1, 2, 3, 4] if source != "phased_disjoint" else default
        assert dag.evaluation_knobs(W(teacher="wan2.1", source=source))["seeds"] == seeds
        assert dag.params.source_seeds("wan2.1", source) == seeds
    assert dag.evaluation_knobs(W(teacher="wan2.2-t2v", source="base"))["seeds"] == default


def test_paper_scale_makes_only_the_tables_of_fetched_teachers():
    def paper(data):
        data["teachers"].update(scale="paper", names=["wan2.2-t2v", "wan2.2-i2v"], prompts=["a cat"], images=["x.png"])
        data["evaluation"]["backend"] = "paper"

    dag = pipeline(paper)
    assert dag.tables == ["table3", "table4", "table5", "table6"] and dag.figures == []
    assert dag.teacher_module() == "phased_dmd.teachers.hub" and set(dag.teacher_outputs()) == {"spec"}
    with pytest.raises(ConfigError, match=r"reports/table2.md at paper scale: its teachers .* edit evaluation.table2"):
        dag.report_inputs("table2")


def test_heavy_jobs_run_directly_or_through_the_launcher_with_their_resources():
    direct = pipeline().command("phased_dmd.jobs.student", "logs/{seed}")(W(seed="3"), W(runtime=30))
    assert direct.endswith(" -m phased_dmd.jobs.student")
    launched = pipeline(launcher="local").command("phased_dmd.jobs.student", "logs/{seed}")(
        {"seed": "3"}, W(runtime=30, gpu=2, tasks_per_node=2, mem_mb=None))
    assert launched.endswith("-m phased_dmd.jobs.launch --cluster local --log-dir logs/3 --timeout-min 30 --gpus 2 "
                             "--tasks-per-node 2 -- phased_dmd.jobs.student")
    with pytest.raises(ConfigError, match="config launcher='pbs': expected one of none, slurm, local, debug"):
        pipeline(launcher="pbs")


def test_the_snakefile_reads_as_the_pipeline():
    """The top file stays short and the rules files hold rules, not Python (targets of the layout)."""
    assert len((ROOT / "Snakefile").read_text().splitlines()) <= 150
    python = [line for smk in (ROOT / "rules").glob("*.smk") for line in smk.read_text().splitlines()
              if line and not line.startswith((" ", "#", "rule ", "include:"))]
    assert len(python) <= 30, python


def test_imports_run_one_way():
    """No module imports one of a layer above it (foundation < method < engine < data < teachers < metrics <
    toy < jobs < sample < export < reports < gpu_check < workflow)."""
    out = subprocess.run([sys.executable, str(ROOT / "tests" / "layers.py")], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout
