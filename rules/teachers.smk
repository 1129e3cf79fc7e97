# Teachers: tiny ones trained at embedded scale (jobs/teacher.py), or the paper's pipelines fetched from the hub
# at paper scale (teachers/hub.py), by params.yaml teachers.scale; the feature network that measures them, and
# how often it recognises the prompted class in their samples.


rule teacher:
    input:
        PIPELINE.teacher_inputs(),
    output:
        **PIPELINE.teacher_outputs(),
    params:
        run=PIPELINE.command(PIPELINE.teacher_module(), "results/teachers/{teacher}/submitit"),
        args=PIPELINE.teacher_args,
        knobs=PIPELINE.teacher_knobs,  # the job reads them from params.yaml; here they only rerun it when they change
    log:
        PIPELINE.teacher_log(),
    threads: 1
    shell:
        "OMP_NUM_THREADS=1 {params.run} {params.args} > {log} 2>&1"


rule classifier:
    input:
        FASHION_MNIST,
    output:
        "results/classifier/model/config.json",
        metrics="results/classifier/metrics.json",
    params:
        run=PIPELINE.command("phased_dmd.metrics.classifier", "results/classifier/submitit"),
        knobs=PIPELINE.data_knobs(),
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
        run=PIPELINE.command("phased_dmd.jobs.recognition", "results/teachers/{teacher}/recognition/submitit"),
        knobs=PIPELINE.recognition_knobs(),
    log:
        "results/teachers/{teacher}/recognition/run.log",
    threads: 1
    shell:
        "OMP_NUM_THREADS=1 {params.run} teacher=results/teachers/{wildcards.teacher} "
        "classifier=results/classifier/model data_dir=data/fashion-mnist "
        "out_dir=results/teachers/{wildcards.teacher}/recognition > {log} 2>&1"
