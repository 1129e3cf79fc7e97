# The workflow: every report of the paper regenerates from one target.
#   snakemake reports/figure2.md --cores 2        (embedded/analytic scale, on a laptop)
# params.yaml holds the knobs (validated here, before any job starts); configs/ the Hydra defaults.

import shlex
import sys

from phased_dmd.config import ConfigError, section_overrides
from phased_dmd.params import load_params
from phased_dmd.toy.figure2_config import OBJECTIVES as FIGURE2_OBJECTIVES

configfile: "params.yaml"

try:
    PARAMS = load_params(config, "params.yaml")
except ConfigError as error:
    sys.exit(f"error: {error}")

PYTHON = shlex.quote(sys.executable)


wildcard_constraints:
    objective="|".join(FIGURE2_OBJECTIVES),
    seed=r"\d+",


rule all:
    input:
        "reports/figure2.md",


# ---- Figure 2: full vs subinterval vs naive critic objective on a 1-D mixture (analytic scale)

rule figure2_run:
    output:
        metrics="results/figure2/{objective}/seed{seed}/metrics.json",
        trajectories="results/figure2/{objective}/seed{seed}/trajectories.json",
        weights="results/figure2/{objective}/seed{seed}/model.safetensors",
    params:
        overrides=shlex.join(section_overrides(PARAMS.figure2, ("objectives", "seeds"))),
    log:
        "results/figure2/{objective}/seed{seed}/run.log",
    threads: 1
    shell:
        "OMP_NUM_THREADS=1 {PYTHON} -m phased_dmd.toy.figure2 objective={wildcards.objective} "
        "seed={wildcards.seed} out_dir=results/figure2/{wildcards.objective}/seed{wildcards.seed} "
        "{params.overrides} > {log} 2>&1"


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
