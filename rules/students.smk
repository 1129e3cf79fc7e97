# Students: one job per phase (jobs/student.py); phase p starts from the saved generators of phases 1..p-1.


rule student_phase:
    input:
        FASHION_MNIST,
        teacher="results/teachers/{teacher}/teacher.json",
        earlier=PIPELINE.earlier_phase,
    output:
        "results/students/{teacher}/{student}/seed{seed}/phase{phase}/generator/teacher.json",
    params:
        run=PIPELINE.command("phased_dmd.jobs.student", "results/students/{teacher}/{student}/seed{seed}/phase{phase}/submitit"),
        dir=PIPELINE.student_dir,
        knobs=PIPELINE.student_knobs,  # the job reads them from params.yaml; here they only rerun it when they change
    log:
        "results/students/{teacher}/{student}/seed{seed}/phase{phase}/train.log",
    threads: 1
    shell:
        "OMP_NUM_THREADS=1 {params.run} teacher=results/teachers/{wildcards.teacher} "
        "data_dir=data/fashion-mnist out_dir={params.dir} student={wildcards.student} phase={wildcards.phase} "
        "seed={wildcards.seed} > {log} 2>&1"


rule students:  # every method of students.methods for every teacher of students.teachers
    input:
        PIPELINE.all_students(),


rule shown_students:  # those of students.teachers that a table or figure shows (DVC's students stage)
    input:
        PIPELINE.shown_students(),
