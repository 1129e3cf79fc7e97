# The workflow: every table and figure of the paper regenerates from one target.
#
#   snakemake reports/table2.md --cores 2         embedded scale, on a laptop (reports/*.md: see README)
#   snakemake all --profile slurm                 every report; heavy jobs go to Slurm through submitit
#
# The pipeline, stage by stage (rules/*.smk):
#   data      Fashion-MNIST from Debian's package                               data/fashion-mnist/
#   teachers  tiny diffusers teachers trained on it, or the paper's from the hub  results/teachers/<kind>/
#   students  one job per distillation phase: DMD, SGTS, Phased DMD, ablations   results/students/...
#   evaluate  each source sampled and measured (held-out data, base, students)  results/evaluation/...
#   reports   the tables and figures, from the registry configs/reports.yaml    reports/<name>.{md,json,png}
#   toy       Figure 2 and the exact 2-D check (analytic scale)
#   bench     the cost of a generator update and of sampling
#   export    a student of a paper-scale teacher as a diffusers pipeline folder        results/export/...
#
# params.yaml holds the knobs (validated here, before any job starts; each job reads its own from it);
# configs/ the run settings that change no result. The PIPELINE's Python lives in src/phased_dmd/workflow.py.

import re
import sys

from phased_dmd.choices import METHODS, TEACHER_KINDS
from phased_dmd.config import ConfigError, read_yaml
from phased_dmd.registry import FIGURES, TABLES
from phased_dmd.toy.figure2_config import OBJECTIVES as FIGURE2_OBJECTIVES
from phased_dmd.workflow import FASHION_MNIST, Pipeline

try:
    read_yaml("params.yaml")  # before snakemake reads it: duplicate keys and syntax errors, with line and column
except ConfigError as error:
    sys.exit(f"error: {error}")

configfile: "params.yaml"

try:
    PIPELINE = Pipeline.from_config(config)
except ConfigError as error:
    sys.exit(f"error: {error}")
PARAMS, PYTHON = PIPELINE.params, PIPELINE.python


wildcard_constraints:
    objective="|".join(FIGURE2_OBJECTIVES),
    method="|".join(METHODS),
    teacher="|".join(re.escape(k) for k in TEACHER_KINDS),
    student="|".join(PARAMS.students.methods),
    source="|".join(["real", "base", *PARAMS.students.methods]),
    seed=r"\d+",
    scale=r"\d+(\.\d+)?",
    phase=r"[1-9]\d*",
    table="|".join(TABLES),
    figure="|".join(FIGURES),


rule all:
    input:
        PIPELINE.all_reports(),


include: "rules/data.smk"
include: "rules/teachers.smk"
include: "rules/students.smk"
include: "rules/evaluation.smk"
include: "rules/reports.smk"
include: "rules/toy.smk"
include: "rules/bench.smk"
include: "rules/export.smk"
