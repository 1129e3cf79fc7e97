# Evaluation (jobs/evaluate.py): each source (held-out data, the base teacher, a student over its seeds) sampled
# and measured by the metric backend (embedded: the pipeline's feature network; paper: DINOv3, LPIPS, RAFT, ...).


rule metric_weights:  # backend=paper: the weights of DINOv3, LPIPS's AlexNet, RAFT, Inception and I3D
    output:
        directory(PARAMS.evaluation.weights),
    shell:
        "{PYTHON} -m phased_dmd.metrics.pretrained {output}"


rule evaluate:
    input:
        PIPELINE.evaluation_inputs(),
        weights=[ancient(path) for path in PIPELINE.metric_weights()],
        teacher="results/teachers/{teacher}/teacher.json",
        students=PIPELINE.evaluated_students,
    output:
        metrics="results/evaluation/{teacher}/{source}/metrics.json",
        samples="results/evaluation/{teacher}/{source}/samples.safetensors",
        features="results/evaluation/{teacher}/{source}/features.safetensors",
    params:
        run=PIPELINE.command("phased_dmd.jobs.evaluate", "results/evaluation/{teacher}/{source}/submitit"),
        args=PIPELINE.evaluation_args,
        knobs=PIPELINE.evaluation_knobs,  # the job reads them from params.yaml; here they only rerun it when they change
    log:
        "results/evaluation/{teacher}/{source}/run.log",
    threads: 1
    shell:
        "OMP_NUM_THREADS=1 {params.run} {params.args} > {log} 2>&1"


rule evaluations:  # every table's and figure's samples and measurements (DVC's evaluation stage)
    input:
        PIPELINE.all_evaluations(),


rule calibrate:  # the base teacher at one CFG scale, measured as the tables' rows are (reports/calibration.md)
    input:
        PIPELINE.evaluation_inputs(),
        teacher="results/teachers/{teacher}/teacher.json",
    output:
        metrics="results/calibration/{teacher}/cfg{scale}/metrics.json",
        samples="results/calibration/{teacher}/cfg{scale}/samples.safetensors",
        features="results/calibration/{teacher}/cfg{scale}/features.safetensors",
    params:
        run=PIPELINE.command("phased_dmd.jobs.evaluate", "results/calibration/{teacher}/cfg{scale}/submitit"),
        args=PIPELINE.calibration_args,
        knobs=PIPELINE.calibration_knobs,  # the job reads them from params.yaml; here they only rerun it when they change
    log:
        "results/calibration/{teacher}/cfg{scale}/run.log",
    threads: 1
    shell:
        "OMP_NUM_THREADS=1 {params.run} {params.args} > {log} 2>&1"
