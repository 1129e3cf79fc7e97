# The workflow: every report of the paper regenerates from one target.
#   snakemake reports/figure2.md --cores 2        (embedded/analytic scale, on a laptop)
# params.yaml holds the knobs (validated here, before any job starts); configs/ the Hydra defaults.

import re
import shlex
import shutil
import sys
from dataclasses import asdict

from phased_dmd.choices import METHODS, TEACHER_KINDS
from phased_dmd.config import ConfigError
from phased_dmd.evaluation_config import BASE_SAMPLER, EVALUATION_KNOBS, FIGURES, TABLES
from phased_dmd.data.fashion_mnist import FILES as FASHION_MNIST_FILES
from phased_dmd.launch import CLUSTERS
from phased_dmd.params import load_params
from phased_dmd.toy.figure2_config import OBJECTIVES as FIGURE2_OBJECTIVES, section_knobs
from snakemake.exceptions import WorkflowError

configfile: "params.yaml"

try:
    PARAMS = load_params({k: v for k, v in config.items() if k != "launcher"}, "params.yaml")
except ConfigError as error:
    sys.exit(f"error: {error}")

PYTHON = shlex.quote(sys.executable)

# Heavy rules run their module directly (no profile), or through the submitit launcher when a profile
# sets config launcher=local (a subprocess) or launcher=slurm (a Slurm job); resources come from the
# profile (default-resources, set-resources) and the rules, never from code.
LAUNCHER = config.get("launcher", "none")
if LAUNCHER not in ("none", *CLUSTERS):
    sys.exit(f"error: config launcher={LAUNCHER!r}: expected one of none, {', '.join(CLUSTERS)}")
if LAUNCHER == "slurm" and shutil.which("sbatch") is None:
    sys.exit("error: the slurm profile needs Slurm, but sbatch is not on this machine's PATH; "
             "run from a Slurm login node, or use --profile local")


def run(module, log_dir):
    """The command that runs phased_dmd.<module>: directly, or submitted by phased_dmd.launch."""

    def command(wildcards, resources):
        if LAUNCHER == "none":
            return f"{PYTHON} -m {module}"
        opts = ["--cluster", LAUNCHER, "--log-dir", log_dir.format(**wildcards),
                "--timeout-min", getattr(resources, "runtime", 60), "--gpus", getattr(resources, "gpu", 0)]
        for name, flag in (("mem_mb", "--mem-mb"), ("slurm_partition", "--partition"), ("slurm_account", "--account"),
                           ("tasks_per_node", "--tasks-per-node"), ("nodes", "--nodes"),
                           ("cpus_per_task", "--cpus-per-task")):
            if getattr(resources, name, None):
                opts += [flag, getattr(resources, name)]
        return f"{PYTHON} -m phased_dmd.launch {shlex.join(map(str, opts))} -- {module}"

    return command


wildcard_constraints:
    objective="|".join(FIGURE2_OBJECTIVES),
    method="|".join(METHODS),
    teacher="|".join(re.escape(k) for k in TEACHER_KINDS),
    student="|".join(PARAMS.students.methods),
    source="|".join(["real", "base", *PARAMS.students.methods]),
    seed=r"\d+",
    phase=r"[1-9]\d*",
    table="|".join(TABLES),
    figure="|".join(FIGURES),


PAPER_SCALE = PARAMS.teachers.scale == "paper"  # teachers from the hub: tables only, measured by the paper's networks
# at paper scale, the tables whose teachers are all fetched (teachers.names: the kinds with a paper-scale loader)
PAPER_TABLES = [t for t in TABLES if set(getattr(PARAMS.evaluation, t).teachers) <= set(PARAMS.teachers.names)]


rule all:
    input:
        expand("reports/{table}.md", table=PAPER_TABLES if PAPER_SCALE else TABLES),
        [] if PAPER_SCALE else ["reports/figure2.md", "reports/toy2d.md", "reports/teachers.md", "reports/bench.md",
                                *expand("reports/{figure}.md", figure=FIGURES)],


# ---- Embedded data: Fashion-MNIST from Debian's package (or the folder in params.yaml data.fashion_mnist)

FASHION_MNIST = expand("data/fashion-mnist/{name}", name=FASHION_MNIST_FILES.values())


rule fashion_mnist:
    output:
        FASHION_MNIST,
    params:
        source=f"--source {shlex.quote(PARAMS.data.fashion_mnist)}" if PARAMS.data.fashion_mnist else "",
    shell:
        "{PYTHON} -m phased_dmd.data.fashion_mnist --dest data/fashion-mnist {params.source}"


# ---- Teachers: trained at embedded scale, fetched from the hub at paper scale (params.yaml teachers.scale)


if PAPER_SCALE:

    rule teacher:  # the paper's pipeline from the hub (or a local copy), its prompts encoded: teachers/hub.py
        output:
            spec="results/teachers/{teacher}/teacher.json",
        params:
            run=run("phased_dmd.teachers.hub", "results/teachers/{teacher}/submitit"),
            knobs=lambda w: [PARAMS.teachers.sources.get(w.teacher, ""), PARAMS.teachers.prompts,
                             PARAMS.teachers.images],  # the job reads them from params.yaml; they rerun it
        log:
            "results/teachers/{teacher}/fetch.log",
        shell:
            "{params.run} kind={wildcards.teacher} out_dir=results/teachers/{wildcards.teacher} > {log} 2>&1"

else:

    rule teacher:
        input:
            FASHION_MNIST,
        output:
            spec="results/teachers/{teacher}/teacher.json",
            training="results/teachers/{teacher}/training.json",
            grid="reports/teacher_{teacher}.png",
        params:
            run=run("phased_dmd.teachers.train", "results/teachers/{teacher}/submitit"),
            knobs=[asdict(PARAMS.teachers.train), asdict(PARAMS.data)],  # read by the job; here they rerun it
        log:
            "results/teachers/{teacher}/train.log",
        threads: 1
        shell:
            "OMP_NUM_THREADS=1 {params.run} kind={wildcards.teacher} out_dir=results/teachers/{wildcards.teacher} "
            "data_dir=data/fashion-mnist grid={output.grid} > {log} 2>&1"


# ---- The embedded feature network (a Fashion-MNIST classifier) and the teachers' prompt adherence


rule classifier:
    input:
        FASHION_MNIST,
    output:
        "results/classifier/model/config.json",
        metrics="results/classifier/metrics.json",
    params:
        run=run("phased_dmd.metrics.classifier", "results/classifier/submitit"),
        knobs=asdict(PARAMS.data),  # read by the job; here they rerun it
    log:
        "results/classifier/train.log",
    threads: 1
    shell:
        "OMP_NUM_THREADS=1 {params.run} data_dir=data/fashion-mnist out_dir=results/classifier > {log} 2>&1"


rule teacher_recognition:
    input:
        "results/classifier/model/config.json",
        teacher="results/teachers/{teacher}/teacher.json",
    output:
        "results/teachers/{teacher}/recognition/recognition.json",
    params:
        run=run("phased_dmd.metrics.recognition", "results/teachers/{teacher}/recognition/submitit"),
        knobs=[PARAMS.evaluation.teacher_steps, PARAMS.evaluation.teacher_cfg_scale],  # read by the job; rerun it
    log:
        "results/teachers/{teacher}/recognition/run.log",
    threads: 1
    shell:
        "OMP_NUM_THREADS=1 {params.run} teacher=results/teachers/{wildcards.teacher} "
        "classifier=results/classifier/model data_dir=data/fashion-mnist "
        "out_dir=results/teachers/{wildcards.teacher}/recognition > {log} 2>&1"


rule teachers_report:
    input:
        "results/classifier/metrics.json",
        expand("results/teachers/{teacher}/{file}", teacher=PARAMS.teachers.names,
               file=["training.json", "recognition/recognition.json"]),
        expand("reports/teacher_{teacher}.png", teacher=PARAMS.teachers.names),  # linked from the report
    output:
        md="reports/teachers.md",
        json="reports/teachers.json",
    shell:
        "{PYTHON} -m phased_dmd.reports.teachers --params params.yaml --results results --out reports/teachers"


# ---- Students: one job per phase; phase p starts from the saved generators of phases 1..p-1


def student_dir(w):
    return f"results/students/{w.teacher}/{w.student}/seed{w.seed}"


def final_phase(teacher, student, seed):
    """The marker of a finished student: its last phase's generator (joint: one job trains every phase)."""
    count = PARAMS.students.settings(student, teacher).phase_count
    return f"results/students/{teacher}/{student}/seed{seed}/phase{count}/generator/teacher.json"


def earlier_phase(w):
    if int(w.phase) == 1 or PARAMS.students.settings(w.student, w.teacher).schedule == "joint":
        return []
    return f"{student_dir(w)}/phase{int(w.phase) - 1}/generator/teacher.json"


rule student_phase:
    input:
        FASHION_MNIST,
        teacher="results/teachers/{teacher}/teacher.json",
        earlier=earlier_phase,
    output:
        "results/students/{teacher}/{student}/seed{seed}/phase{phase}/generator/teacher.json",
    params:
        run=run("phased_dmd.student", "results/students/{teacher}/{student}/seed{seed}/phase{phase}/submitit"),
        dir=student_dir,
        # the job reads its knobs from params.yaml; here they only rerun it when they change
        knobs=lambda w: asdict(PARAMS.students.settings(w.student, w.teacher, int(w.phase))),
    log:
        "results/students/{teacher}/{student}/seed{seed}/phase{phase}/train.log",
    threads: 1
    shell:
        "OMP_NUM_THREADS=1 {params.run} teacher=results/teachers/{wildcards.teacher} "
        "data_dir=data/fashion-mnist out_dir={params.dir} student={wildcards.student} phase={wildcards.phase} "
        "seed={wildcards.seed} > {log} 2>&1"


rule students:  # every method of students.methods for every teacher of students.teachers
    input:
        [final_phase(t, m, s) for t in PARAMS.students.teachers for m in PARAMS.students.methods
         for s in PARAMS.students.seeds],


def shown_students():
    """The (teacher, student) pairs that the tables and figures show."""
    tables = [getattr(PARAMS.evaluation, name) for name in (PAPER_TABLES if PAPER_SCALE else TABLES)]
    figures = [] if PAPER_SCALE else [getattr(PARAMS.evaluation, name) for name in FIGURES]
    return sorted({(t, s) for table in tables for t in table.teachers for s in table.students}
                  | {(figure.teacher, s) for figure in figures for s in figure.students})


rule shown_students:  # those of students.teachers that a table or figure shows (DVC's students stage)
    input:
        [final_phase(t, m, s) for t, m in shown_students() if t in PARAMS.students.teachers
         for s in PARAMS.students.seeds],


# ---- Evaluation: each source (held-out data, the base teacher, a student over its seeds) sampled and
# measured by the embedded feature network; the tables read the measurements


def evaluation_source(w):
    """Which source an evaluation samples: the held-out data, the base teacher or a student's folder."""
    if w.source in ("real", "base"):
        return f"source={w.source}"
    return f"source=student student=results/students/{w.teacher}/{w.source}"


def evaluation_knobs(w):
    """The knobs an evaluation reads from params.yaml (an edit of the base sampler reruns the base row only)."""
    unused = () if w.source == "base" else BASE_SAMPLER
    knobs = {k: getattr(PARAMS.evaluation, k) for k in EVALUATION_KNOBS if k not in unused}
    if w.source != "real":
        knobs["seeds"] = PARAMS.students.seeds
    if w.source not in ("real", "base"):
        knobs["distill"] = asdict(PARAMS.students.settings(w.source, w.teacher))
    return knobs


rule metric_weights:  # backend=paper: the weights of DINOv3, LPIPS's AlexNet, RAFT, Inception and I3D
    output:
        directory(PARAMS.evaluation.weights),
    shell:
        "{PYTHON} -m phased_dmd.metrics.pretrained {output}"


rule evaluate:
    input:
        [] if PAPER_SCALE else [*FASHION_MNIST, "results/classifier/model/config.json"],
        weights=[ancient(PARAMS.evaluation.weights)] if PARAMS.evaluation.backend == "paper" else [],
        teacher="results/teachers/{teacher}/teacher.json",
        students=lambda w: [] if w.source in ("real", "base") else
            [final_phase(w.teacher, w.source, s) for s in PARAMS.students.seeds],
    output:
        metrics="results/evaluation/{teacher}/{source}/metrics.json",
        samples="results/evaluation/{teacher}/{source}/samples.safetensors",
        features="results/evaluation/{teacher}/{source}/features.safetensors",
    params:
        run=run("phased_dmd.evaluate", "results/evaluation/{teacher}/{source}/submitit"),
        source=evaluation_source,
        knobs=evaluation_knobs,  # the job reads them from params.yaml; here they only rerun it when they change
    log:
        "results/evaluation/{teacher}/{source}/run.log",
    threads: 1
    shell:
        "OMP_NUM_THREADS=1 {params.run} teacher=results/teachers/{wildcards.teacher} "
        "classifier=results/classifier/model data_dir=data/fashion-mnist "
        "out_dir=results/evaluation/{wildcards.teacher}/{wildcards.source} {params.source} > {log} 2>&1"


def table_inputs(name):
    table = getattr(PARAMS.evaluation, name)
    if PAPER_SCALE and name not in PAPER_TABLES:
        raise WorkflowError(f"reports/{name}.md at paper scale: its teachers {table.teachers} are not all in "
                            f"teachers.names {PARAMS.teachers.names} (kinds with a paper-scale loader); edit "
                            f"evaluation.{name}.teachers")
    rows = [*([] if PAPER_SCALE else ["real"]), "base", *table.students]
    return [f"results/evaluation/{t}/{s}/{f}" for t in table.teachers for s in rows
            for f in ("metrics.json", "features.safetensors")]


def figure_inputs(name):
    figure = getattr(PARAMS.evaluation, name)
    return [f"results/evaluation/{figure.teacher}/{s}/{f}" for s in ("real", *figure.students)
            for f in ("metrics.json", "features.safetensors")]


rule evaluations:  # every table's and figure's samples and measurements (DVC's evaluation stage)
    input:
        [table_inputs(name) for name in (PAPER_TABLES if PAPER_SCALE else TABLES)],
        [] if PAPER_SCALE else [figure_inputs(name) for name in FIGURES],


rule table:
    input:
        lambda w: table_inputs(w.table),
        "src/phased_dmd/reports/{table}.py",  # the report's formatting: an edit reruns the report only
        "src/phased_dmd/reports/tables.py",
    output:
        md="reports/{table}.md",
        json="reports/{table}.json",
        png="reports/{table}.png",
    shell:
        "{PYTHON} -m phased_dmd.reports.{wildcards.table} --params params.yaml --results results "
        "--out reports/{wildcards.table}"


rule figure:
    input:
        lambda w: figure_inputs(w.figure),
        "src/phased_dmd/reports/{figure}.py",  # the report's formatting: an edit reruns the report only
        "src/phased_dmd/reports/figures.py",
        "src/phased_dmd/reports/tables.py",
    output:
        md="reports/{figure}.md",
        json="reports/{figure}.json",
        png="reports/{figure}.png",
    shell:
        "{PYTHON} -m phased_dmd.reports.{wildcards.figure} --params params.yaml --results results "
        "--out reports/{wildcards.figure}"


# ---- Benchmark: one generator update per method, and sampling, on one tiny teacher


rule bench_run:
    input:
        teacher=f"results/teachers/{PARAMS.bench.teacher}/teacher.json",
    output:
        "results/bench/measurements.json",
    params:
        run=run("phased_dmd.bench", "results/bench/submitit"),
        knobs=asdict(PARAMS.bench),  # the job reads them from params.yaml; here they only rerun it when they change
    log:
        "results/bench/run.log",
    threads: workflow.cores  # alone on the machine: timings are not shared with other jobs
    shell:
        "OMP_NUM_THREADS=1 {params.run} teacher_dir=results/teachers/{PARAMS.bench.teacher} out_dir=results/bench "
        "> {log} 2>&1"


rule bench_report:
    input:
        "results/bench/measurements.json",
    output:
        md="reports/bench.md",
        json="reports/bench.json",
        png="reports/bench.png",
    shell:
        "{PYTHON} -m phased_dmd.reports.bench --params params.yaml --results results/bench --out reports/bench"


# ---- Figure 2: full vs subinterval vs naive critic objective on a 1-D mixture (analytic scale)

rule figure2_run:
    output:
        metrics="results/figure2/{objective}/seed{seed}/metrics.json",
        trajectories="results/figure2/{objective}/seed{seed}/trajectories.json",
        weights="results/figure2/{objective}/seed{seed}/model.safetensors",
    params:
        run=run("phased_dmd.toy.figure2", "results/figure2/{objective}/seed{seed}/submitit"),
        knobs=section_knobs(PARAMS.figure2),  # the job reads them from params.yaml; here they only rerun it
    log:
        "results/figure2/{objective}/seed{seed}/run.log",
    threads: 1
    shell:
        "OMP_NUM_THREADS=1 {params.run} objective={wildcards.objective} "
        "seed={wildcards.seed} out_dir=results/figure2/{wildcards.objective}/seed{wildcards.seed} > {log} 2>&1"


rule figure2_report:
    input:
        expand("results/figure2/{objective}/seed{seed}/metrics.json",
               objective=PARAMS.figure2.objectives, seed=PARAMS.figure2.seeds),
        expand("results/figure2/{objective}/seed{seed}/trajectories.json",
               objective=PARAMS.figure2.objectives, seed=PARAMS.figure2.seeds),
    output:
        md="reports/figure2.md",
        json="reports/figure2.json",
        png="reports/figure2.png",
    params:
        figure2=config["figure2"],
    shell:
        "{PYTHON} -m phased_dmd.reports.figure2 --params params.yaml --results results/figure2 --out reports/figure2"


# ---- Toy 2-D: DMD, SGTS and Phased DMD distilled from an exact teacher (analytic scale)

rule toy2d_pretrain:
    output:
        weights="results/toy2d/pretrained/seed{seed}/model.safetensors",
        baselines="results/toy2d/pretrained/seed{seed}/baselines.json",
    params:
        run=run("phased_dmd.toy.toy2d", "results/toy2d/pretrained/seed{seed}/submitit"),
        knobs=lambda w: {"ring": asdict(PARAMS.toy2d.ring), "pretrain_iterations": PARAMS.toy2d.pretrain_iterations},
    log:
        "results/toy2d/pretrained/seed{seed}/run.log",
    threads: 1
    shell:
        "OMP_NUM_THREADS=1 {params.run} stage=pretrain seed={wildcards.seed} "
        "out_dir=results/toy2d/pretrained/seed{wildcards.seed} > {log} 2>&1"


rule toy2d_distill:
    input:
        init="results/toy2d/pretrained/seed{seed}/model.safetensors",
    output:
        metrics="results/toy2d/{method}/seed{seed}/metrics.json",
        samples="results/toy2d/{method}/seed{seed}/samples.json",
    params:
        run=run("phased_dmd.toy.toy2d", "results/toy2d/{method}/seed{seed}/submitit"),
        knobs=lambda w: {"ring": asdict(PARAMS.toy2d.ring), "distill": PARAMS.toy2d.run_distill(w.method)},
    log:
        "results/toy2d/{method}/seed{seed}/run.log",
    threads: 1
    shell:
        "OMP_NUM_THREADS=1 {params.run} stage=distill "
        "distill.method={wildcards.method} seed={wildcards.seed} init={input.init} "
        "out_dir=results/toy2d/{wildcards.method}/seed{wildcards.seed} > {log} 2>&1"


rule toy2d_report:
    input:
        expand("results/toy2d/{method}/seed{seed}/metrics.json", method=PARAMS.toy2d.methods, seed=PARAMS.toy2d.seeds),
        expand("results/toy2d/pretrained/seed{seed}/baselines.json", seed=PARAMS.toy2d.seeds),
    output:
        md="reports/toy2d.md",
        json="reports/toy2d.json",
        png="reports/toy2d.png",
    params:
        toy2d=config["toy2d"],
    shell:
        "{PYTHON} -m phased_dmd.reports.toy2d --params params.yaml --results results/toy2d --out reports/toy2d"
