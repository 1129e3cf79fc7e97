"""The workflow end to end on a copy of the repository: snakemake and DVC make reports/figure2.*,
an edited figure-2 knob reruns figure 2, and a bad params.yaml stops before any job with one line."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from workflow_repo import BIN, dry_run_jobs, edit_params, run

pytestmark = pytest.mark.workflow


def test_snakemake_and_dvc_make_figure2_and_rerun_it_on_an_edit(repo: Path):
    run(["snakemake", "reports/figure2.md", "--profile", "local"], repo)  # runs go through the submitit launcher
    assert list((repo / "results/figure2/full/seed0/submitit").glob("*_log.out"))
    data = json.loads((repo / "reports/figure2.json").read_text())
    assert set(data["objectives"]) == {"full", "subinterval", "naive"}
    for row in data["objectives"].values():
        for metric in ("velocity_mse", "w1"):
            cell = row[metric]
            assert cell["n"] == 2 and cell["ci95"][0] <= cell["mean"] <= cell["ci95"][1]
    assert (repo / "reports/figure2.png").stat().st_size > 10_000
    assert {k: type(v["held"]) for k, v in data["claims"].items()} == {
        "subinterval_matches_full": bool, "naive_is_biased": bool}
    assert dry_run_jobs(repo) == []  # up to date

    edit_params(repo, train__lr=0.001)
    assert dry_run_jobs(repo) == ["figure2_report"] + ["figure2_run"] * 6

    # DVC: the stage calls snakemake; it regenerates the deleted reports, then is up to date
    for suffix in ("md", "json", "png"):
        (repo / f"reports/figure2.{suffix}").unlink()
    run(["dvc", "repro", "figure2"], repo)
    assert (repo / "reports/figure2.md").exists() and dry_run_jobs(repo) == []
    assert "up to date" in run(["dvc", "status", "figure2"], repo).stdout

    edit_params(repo, s=0.6)
    assert "figure2" in run(["dvc", "status", "figure2"], repo).stdout


def test_toy2d_report_and_a_distill_knob_reruns_only_the_distillations(repo: Path):
    run(["snakemake", "reports/toy2d.md", "--cores", "2"], repo)
    data = json.loads((repo / "reports/toy2d.json").read_text())
    assert set(data["rows"]) == {"teacher", "pretrained_1_step", "pretrained_4_step", "dmd", "sgts", "phased"}
    assert data["rows"]["phased"]["sliced_w1"]["n"] == 2
    for log in ("losses.csv", "losses.png"):  # one loss log and plot per phase
        assert (repo / "results/toy2d/phased/seed0/phase2" / log).exists()
    assert dry_run_jobs(repo, "reports/toy2d.md") == []

    edit_params(repo, "toy2d", distill__lr_fake=0.0005)
    assert dry_run_jobs(repo, "reports/toy2d.md") == ["toy2d_distill"] * 6 + ["toy2d_report"]


def test_data_and_teacher_rules_make_a_loadable_teacher_and_its_grid(repo: Path):
    from phased_dmd.teachers.flow_model import load_teacher

    run(["snakemake", "reports/teacher_wan2.1.png", "--cores", "2"], repo)
    assert (repo / "reports/teacher_wan2.1.png").stat().st_size > 10_000
    teacher = load_teacher(repo / "results/teachers/wan2.1")
    assert teacher.info.prompts[0] == "T-shirt/top" and teacher.info.resolution == 16
    assert (repo / "results/teachers/wan2.1/config.yaml").exists()  # the resolved run config


def test_teachers_report_measures_prompt_adherence_with_the_trained_classifier(repo: Path):
    edit_params(repo, "teachers", names=["wan2.1", "qwen-image"])
    run(["snakemake", "reports/teachers.md", "--cores", "2"], repo)
    data = json.loads((repo / "reports/teachers.json").read_text())
    assert list(data["rows"]) == ["wan2.1", "qwen-image"]
    for row in data["rows"].values():
        assert 0 <= row["recognised"] <= 1 and len(row["per_class"]) == 10 and row["samples"] == 20
    assert set(data["classifier"]["held_out_accuracy"]) == {"images", "moving_frames"}
    text = (repo / "reports/teachers.md").read_text()
    assert "| qwen-image (t2i) | Qwen/Qwen-Image | 1 |" in text and "embedded feature network" in text


def test_student_phases_chain_and_a_distill_knob_retrains_the_students_not_the_teacher(repo: Path):
    from phased_dmd.jobs.student import load_student

    final = "results/students/wan2.2/phased/seed0/phase2/generator/teacher.json"
    run(["snakemake", final, "--cores", "2"], repo)
    experts = load_student(repo / "results/students/wan2.2/phased/seed0", 2)
    assert len(experts) == 2 and all(len(e.experts) == 1 for e in experts)  # the Wan2.2 experts, one per phase
    for phase in (1, 2):  # the loss log and plot of each phase
        assert (repo / f"results/students/wan2.2/phased/seed0/phase{phase}/losses.png").exists()
    assert dry_run_jobs(repo, final) == []

    edit_params(repo, "students", methods__phased__phases={2: {"iterations": 3}})  # a knob of phase 2 only
    out = run(["snakemake", final, "-n", "--cores", "1"], repo).stdout
    outputs = [line.split("output:")[1].strip() for line in out.splitlines() if line.strip().startswith("output:")]
    assert outputs == [final]  # phase 2 reruns, phase 1 and the teacher do not

    edit_params(repo, "students", distill__lr_fake=0.0005)  # a knob of every phase
    assert dry_run_jobs(repo, final) == ["student_phase"] * 2

    # data parallel over 2 nodes x 2 tasks: resources from the profile reach the launcher, not the code
    out = run(["snakemake", final, "-n", "-p", "--cores", "1", "--config", "launcher=local", "--set-resources",
               "student_phase:tasks_per_node=2", "student_phase:nodes=2", "student_phase:cpus_per_task=4"],
              repo).stdout
    launches = [line for line in out.splitlines() if "-m phased_dmd.jobs.launch" in line]
    assert len(launches) == 2
    assert all("--tasks-per-node 2 --nodes 2 --cpus-per-task 4 -- phased_dmd.jobs.student" in x for x in launches)


def test_bench_target_writes_the_table_and_its_json(repo: Path):
    run(["snakemake", "reports/bench.md", "--cores", "2"], repo)
    data = json.loads((repo / "reports/bench.json").read_text())
    assert set(data["generator_update"]) == {"dmd", "full_backprop", "sgts", "phased_2", "phased_4"}
    assert all({"seconds", "peak_mb"} <= set(v) for v in data["generator_update"].values())
    assert set(data["sampling"]) >= {"teacher_seconds", "student_seconds", "speedup"}
    assert "x DMD" in (repo / "reports/bench.md").read_text()

    edit_params(repo, "bench", repeats=2)  # a measurement knob: the measurement reruns, not the teacher
    assert dry_run_jobs(repo, "reports/bench.md") == ["bench_report", "bench_run"]


@pytest.mark.parametrize(
    "edit,message",
    [
        ({"s": 1.5}, "error: params.yaml: figure2.s: expected a number strictly between 0 and 1, got 1.5"),
        ({"train__iterations": -3}, "error: params.yaml: figure2.train.iterations: expected a number > 0, got -3"),
        ({"objectives": ["full", "exact"]}, "error: params.yaml: figure2.objectives[1]: expected one of"),
    ],
    ids=["s-out-of-range", "negative-iterations", "unknown-objective"],
)
def test_bad_params_stop_snakemake_before_any_job(repo: Path, edit, message):
    edit_params(repo, **edit)
    proc = run(["snakemake", "reports/figure2.md", "--cores", "1"], repo, check=False)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert sum("error" in line for line in proc.stderr.splitlines()) == 1
    assert not (repo / "results").exists() and not list((repo / "reports").iterdir())


def test_a_key_given_twice_stops_snakemake_before_any_job(repo: Path):
    """Snakemake's own YAML reader keeps the last of two equal keys; the workflow refuses the file first."""
    text = (repo / "params.yaml").read_text()
    (repo / "params.yaml").write_text(text.replace("\nfigure2:\n", "\nfigure2:\n  s: 0.4\n", 1))
    proc = run(["snakemake", "reports/figure2.md", "--cores", "1"], repo, check=False)
    assert proc.returncode != 0
    assert "error: params.yaml: line " in proc.stderr and "duplicate key 's' (also on line " in proc.stderr
    assert not (repo / "results").exists()


@pytest.mark.slurm
def test_figure2_through_the_slurm_profile_on_a_real_slurm(repo: Path, slurm):
    run(["timeout", "-k", "30", "540", "snakemake", "reports/figure2.md", "--profile", "slurm"], repo)
    runs = list((repo / "results/figure2").glob("*/seed*/run.log"))
    assert len(runs) == 6 and all("(slurm); log:" in log.read_text() for log in runs)  # each run was a Slurm job
    assert len(list((repo / "results/figure2").glob("*/seed*/submitit/*_log.out"))) == 6
    assert (repo / "reports/figure2.md").exists() and dry_run_jobs(repo) == []


def test_the_slurm_profile_without_slurm_stops_before_any_job(repo: Path, tmp_path: Path):
    tools = tmp_path / "bin"  # a PATH with the shell tools snakemake needs, and no sbatch
    tools.mkdir()
    for name in ("bash", "sh", "which", "git"):
        (tools / name).symlink_to(shutil.which(name))
    no_slurm = {**os.environ, "PATH": f"{BIN}{os.pathsep}{tools}"}
    proc = subprocess.run([str(BIN / "snakemake"), "reports/figure2.md", "--profile", "slurm"], cwd=repo,
                          capture_output=True, text=True, timeout=300, env=no_slurm)
    assert proc.returncode != 0
    assert "error: the slurm profile needs Slurm, but sbatch is not on this machine's PATH" in proc.stderr
    assert not (repo / "results").exists()


def test_missing_key_stops_snakemake(repo: Path):
    params = yaml.safe_load((repo / "params.yaml").read_text())
    del params["figure2"]["seeds"]
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    proc = run(["snakemake", "reports/figure2.md", "--cores", "1"], repo, check=False)
    assert proc.returncode != 0 and "params.yaml: figure2.seeds:" in proc.stderr
    assert not (repo / "results").exists()


def test_table2_from_teachers_to_report_and_what_an_edit_reruns(repo: Path):
    edit_params(repo, "teachers", names=["wan2.1"])
    edit_params(repo, "students", teachers=["wan2.1"])
    edit_params(repo, "evaluation", per_prompt=4, group=2, teacher_steps=4, table2__teachers=["wan2.1"],
                table2__students=["sgts", "phased"])
    run(["snakemake", "reports/table2.md", "--cores", "2"], repo)
    data = json.loads((repo / "reports/table2.json").read_text())
    assert set(data["rows"]) == {"real", "base", "sgts", "phased"}
    for row in data["rows"].values():
        for metric in ("cosine", "perceptual", "pixel", "adherence", "frechet", "frechet_teacher", "recall_teacher",
                       "coverage_teacher", "recall_data"):
            cell = row["wan2.1"][metric]
            assert cell["n"] == 1 and cell["ci95"][0] <= cell["mean"] <= cell["ci95"][1]
    assert data["claims"] == {"phased_more_diverse_than_sgts": {"wan2.1": "undecided"}}  # one seed decides nothing
    assert data["claim_details"]["phased_more_diverse_than_sgts"]["wan2.1"]["measure"] == "recall_teacher"
    assert data["backend"]["name"] == "embedded" and data["config"]["seeds"] == [0]
    generators = {name.split("/generator/")[0] for name in data["provenance"]["checkpoints_md5"]}
    assert len(generators) == 3  # sgts: 1 phase, phased: 2
    text = (repo / "reports/table2.md").read_text()
    assert "| DMD with SGTS, 4 steps | " in text and "(0.826)" in text  # the paper's number beside ours
    assert (repo / "reports/table2.png").stat().st_size > 5_000
    assert dry_run_jobs(repo, "reports/table2.md") == []

    # convergence: the same students at twice the generator updates, beside those of the table (2 per phase)
    edit_params(repo, "students", methods__sgts_i4={"method": "sgts", "iterations": 4},
                methods__phased_i4={"method": "phased", "num_phases": 2, "iterations": 4})
    edit_params(repo, "evaluation", convergence__teachers=["wan2.1"],
                convergence__students=["sgts", "sgts_i4", "phased", "phased_i4"], convergence__skip={})
    assert dry_run_jobs(repo, "reports/convergence.md").count("student_phase") == 3  # the table's are reused
    run(["snakemake", "reports/convergence.md", "--cores", "2"], repo)
    convergence = json.loads((repo / "reports/convergence.json").read_text())
    phased = convergence["teachers"]["wan2.1"]["phased"]
    assert [p["iterations"] for p in phased["curve"]] == [2, 4] and set(convergence["teachers"]["wan2.1"]) == {
        "sgts", "phased"}
    assert phased["curve"][0]["frechet_teacher"] == data["rows"]["phased"]["wan2.1"]["frechet_teacher"]  # as Table 2
    assert convergence["floor"]["wan2.1"]["mean"] == 0 and phased["curve"][0]["floor_multiple"] is None  # one seed
    assert (phased["last_doubling"]["from"], phased["last_doubling"]["to"]) == (2, 4)
    assert "| phased | 4 |" in (repo / "reports/convergence.md").read_text()
    assert (repo / "reports/convergence.png").stat().st_size > 5_000

    report = repo / "src/phased_dmd/reports/table2.py"  # formatting: only the report reruns
    report.write_text(report.read_text() + "\n")
    assert dry_run_jobs(repo, "reports/table2.md") == ["table"]
    run(["snakemake", "reports/table2.md", "--cores", "1"], repo)

    edit_params(repo, "students", methods__phased__phases={2: {"iterations": 3}})  # phase 2 of one student
    assert dry_run_jobs(repo, "reports/table2.md") == ["evaluate", "student_phase", "table"]
    edit_params(repo, "evaluation", teacher_cfg_scale=3.0)  # the base teacher's sampler: the base row only
    out = run(["snakemake", "reports/table2.md", "-n", "--cores", "1"], repo).stdout
    evaluated = sorted(line.split("results/evaluation/wan2.1/")[1].split("/")[0] for line in out.splitlines()
                       if line.strip().startswith("output: results/evaluation/"))
    assert evaluated == ["base", "phased"]  # phased: the edit above; sgts and real stay as they are


def test_tables_3_4_and_6_measure_motion_quality_and_distances_to_the_base_teacher(repo: Path):
    edit_params(repo, "teachers", names=["wan2.2-t2v"])
    edit_params(repo, "students", teachers=["wan2.1", "wan2.2-t2v"])  # (wan2.1's table is not asked for)
    edit_params(repo, "evaluation", per_prompt=2, group=2, teacher_steps=4, table2__teachers=["wan2.1"],
                table3__teachers=["wan2.2-t2v"], table6__teachers=["wan2.2-t2v"])
    run(["snakemake", "reports/table3.md", "reports/table4.md", "reports/table6.md", "--cores", "2"], repo)
    table3 = json.loads((repo / "reports/table3.json").read_text())
    table4 = json.loads((repo / "reports/table4.json").read_text())
    table6 = json.loads((repo / "reports/table6.json").read_text())
    assert set(table3["rows"]) == {"real", "base", "sgts", "phased"}
    assert set(table6["rows"]) == {"real", "base", "sgts", "phased", "phased4"}
    for data, metrics in ((table3, ("flow", "dynamic", "adherence", "frechet")),
                          (table6, ("flow", "dynamic", "fid", "fvd", "adherence"))):
        for row in data["rows"].values():
            for metric in metrics:
                cell = row["wan2.2-t2v"][metric]
                assert cell["n"] == 1 and cell["ci95"][0] <= cell["mean"] <= cell["ci95"][1]
    assert table3["rows"]["real"]["wan2.2-t2v"]["flow"]["mean"] > 0.1  # the items move
    base = table6["rows"]["base"]["wan2.2-t2v"]
    assert base["fid"]["mean"] < 1e-6 and base["fvd"]["mean"] < 1e-6  # the base against itself
    assert table6["rows"]["sgts"]["wan2.2-t2v"]["fid"]["mean"] > 0
    assert set(table6["claims"]) == {"phased_keeps_more_motion_than_sgts", "four_phases_better_than_two"}
    assert "DIS" in table3["backend"]["flow"]
    assert "(7.57)" in (repo / "reports/table3.md").read_text() and "(578.2)" in (repo / "reports/table6.md").read_text()
    assert set(table4["rows"]) == {"real", "base", "sgts", "phased"}
    for dimension in ("subject_consistency", "temporal_flickering", "motion_smoothness"):
        assert 0 < table4["rows"]["sgts"]["wan2.2-t2v"][dimension]["mean"] <= 1
        assert table4["rows"]["base"]["wan2.2-t2v"][f"{dimension}_gap"]["mean"] == 0  # the base against itself
    assert set(table4["claims"]) == {"phased_closer_to_base_than_sgts"}
    assert dry_run_jobs(repo, "reports/table3.md") == [] and dry_run_jobs(repo, "reports/table6.md") == []


def test_figures_5_9_10_compare_two_students_with_the_same_noise(repo: Path):
    edit_params(repo, "evaluation", per_prompt=2, group=2,  # Fig. 10: the pair, one more t, one fake at t
                figure10__students=["dmd_t100", "dmd_t600", "dmd_t600_fake"])
    edit_params(repo, "students", seeds=[0, 1])  # paired over two seeds; the base floor: seed 0 against seed 1
    edit_params(repo, "students", methods__phased_long__phases={2: {"iterations": 4}})
    run(["snakemake", "reports/figure5.md", "reports/figure9.md", "reports/figure10.md", "--cores", "2"], repo)
    figure5 = json.loads((repo / "reports/figure5.json").read_text())
    assert figure5["extra"]["same_phase1"]  # the same low-SNR expert: phase 1 retrained byte for byte
    assert -1 <= figure5["extra"]["other_noise"]["mean"] <= figure5["extra"]["same_noise"]["mean"] <= 1
    assert set(figure5["claims"]) == {"composition_kept", "detail_improved"}
    figure10 = json.loads((repo / "reports/figure10.json").read_text())
    assert [s["fixed_t"] for s in figure10["config"]["students"].values()] == [0.1, 0.6, 0.6]
    assert figure10["claims"]["high_t_closer_to_teacher_than_low_t"] in ("held", "reversed", "undecided")
    assert set(figure10["rows"]) == {"real", "base", "dmd_t100", "dmd_t600", "dmd_t600_fake"}
    assert "| 0.6 | 0.882 | yes |" in (repo / "reports/figure10.md").read_text()  # the curve's fake-at-t row
    assert figure10["rows"]["base"]["frechet_teacher"]["mean"] > 0  # the floor: two sets of the teacher's samples
    figure9 = json.loads((repo / "reports/figure9.json").read_text())
    assert figure9["config"]["students"]["phased_disjoint"]["interval"] == "disjoint"
    for name in ("figure5", "figure9", "figure10"):
        assert (repo / f"reports/{name}.png").stat().st_size > 2_000
        assert "| Frechet distance to held-out data |" in (repo / f"reports/{name}.md").read_text()
    assert dry_run_jobs(repo, "reports/figure9.md") == []


def test_calibration_samples_each_teacher_at_each_cfg_scale_and_states_its_choice(repo: Path):
    edit_params(repo, "teachers", names=["wan2.1", "wan2.2"])
    edit_params(repo, "evaluation", per_prompt=4, group=2, teacher_steps=4, calibration__cfg_scales=[1.0, 4.0],
                calibration__teachers=["wan2.1", "wan2.2"])
    run(["snakemake", "reports/calibration.md", "--cores", "2"], repo)
    data = json.loads((repo / "reports/calibration.json").read_text())
    assert set(data["points"]) == {"wan2.1", "wan2.2"} and set(data["points"]["wan2.1"]) == {"1", "4"}
    assert (repo / "results/calibration/wan2.2/cfg4/samples.safetensors").exists()
    for teacher, choice in data["choice"].items():  # the rule: the most diverse scale adhering as well as data
        admissible = {w for w, p in data["points"][teacher].items()
                      if p["adherence"]["mean"] >= data["real"][teacher]["adherence"]}
        assert choice is None or (choice in admissible and all(
            data["points"][teacher][choice]["recall_data"]["mean"] >= data["points"][teacher][w]["recall_data"]["mean"]
            for w in admissible))
    given = yaml.safe_load((repo / "params.yaml").read_text())["evaluation"]["teacher_cfg_scale"]
    assert data["matches"] == (data["chosen"] == given)
    assert [b["teacher"] for b in data["boundaries"]] == ["wan2.2"]
    assert abs(data["boundaries"][0]["s_1"] - 7 / 12) < 1e-9
    assert "| Fig. 10: t fixed high | 0.8820 | 0.5992 |" in (repo / "reports/calibration.md").read_text()
    assert (repo / "reports/calibration.png").stat().st_size > 5_000
