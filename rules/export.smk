# Export (export.py): a student of a paper-scale teacher as a diffusers pipeline folder, with LoRA files when its
# transformers carry adapters. Only students of paper-scale teachers (teachers.scale: paper): the embedded ones have
# no text encoder or VAE a pipeline could run, so at the embedded scale this target stops the DAG with that message.


rule export:
    input:
        PIPELINE.exported_student,
    output:
        directory("results/export/{teacher}/{student}/seed{seed}"),
    params:
        run=PIPELINE.command("phased_dmd.export", "results/export/{teacher}/{student}/seed{seed}.submitit"),
        dir=PIPELINE.student_dir,
    log:
        "results/export/{teacher}/{student}/seed{seed}.log",
    threads: 1
    shell:
        "{params.run} --student {params.dir} --out {output} > {log} 2>&1"
