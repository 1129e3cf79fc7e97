# Benchmark (jobs/bench.py): one generator update per method, and sampling, on one tiny teacher.


rule bench_run:
    input:
        teacher=f"results/teachers/{PARAMS.bench.teacher}/teacher.json",
    output:
        "results/bench/measurements.json",
    params:
        run=PIPELINE.command("phased_dmd.jobs.bench", "results/bench/submitit"),
        knobs=PIPELINE.bench_knobs(),  # the job reads them from params.yaml; here they only rerun it when they change
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
