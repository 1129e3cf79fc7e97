# Analytic scale: Figure 2 (full vs subinterval vs naive critic objective on a 1-D mixture) and DMD, SGTS and
# Phased DMD distilled from an exact teacher on a 2-D ring of Gaussians.


rule figure2_run:
    output:
        metrics="results/figure2/{objective}/seed{seed}/metrics.json",
        trajectories="results/figure2/{objective}/seed{seed}/trajectories.json",
        weights="results/figure2/{objective}/seed{seed}/model.safetensors",
    params:
        run=PIPELINE.command("phased_dmd.toy.figure2", "results/figure2/{objective}/seed{seed}/submitit"),
        knobs=PIPELINE.figure2_knobs(),  # the job reads them from params.yaml; here they only rerun it when they change
    log:
        "results/figure2/{objective}/seed{seed}/run.log",
    threads: 1
    shell:
        "OMP_NUM_THREADS=1 {params.run} objective={wildcards.objective} "
        "seed={wildcards.seed} out_dir=results/figure2/{wildcards.objective}/seed{wildcards.seed} > {log} 2>&1"


rule figure2_report:
    input:
        PIPELINE.figure2_runs("metrics.json"),
        PIPELINE.figure2_runs("trajectories.json"),
    output:
        md="reports/figure2.md",
        json="reports/figure2.json",
        png="reports/figure2.png",
    params:
        figure2=config["figure2"],
    shell:
        "{PYTHON} -m phased_dmd.reports.figure2 --params params.yaml --results results/figure2 --out reports/figure2"


rule toy2d_pretrain:
    output:
        weights="results/toy2d/pretrained/seed{seed}/model.safetensors",
        baselines="results/toy2d/pretrained/seed{seed}/baselines.json",
    params:
        run=PIPELINE.command("phased_dmd.toy.toy2d", "results/toy2d/pretrained/seed{seed}/submitit"),
        knobs=lambda w: PIPELINE.toy2d_knobs("pretrained"),
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
        run=PIPELINE.command("phased_dmd.toy.toy2d", "results/toy2d/{method}/seed{seed}/submitit"),
        knobs=lambda w: PIPELINE.toy2d_knobs(w.method),
    log:
        "results/toy2d/{method}/seed{seed}/run.log",
    threads: 1
    shell:
        "OMP_NUM_THREADS=1 {params.run} stage=distill "
        "distill.method={wildcards.method} seed={wildcards.seed} init={input.init} "
        "out_dir=results/toy2d/{wildcards.method}/seed{wildcards.seed} > {log} 2>&1"


rule toy2d_report:
    input:
        PIPELINE.toy2d_runs(),
    output:
        md="reports/toy2d.md",
        json="reports/toy2d.json",
        png="reports/toy2d.png",
    params:
        toy2d=config["toy2d"],
    shell:
        "{PYTHON} -m phased_dmd.reports.toy2d --params params.yaml --results results/toy2d --out reports/toy2d"
