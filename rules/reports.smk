# Reports: the tables and figures made from the evaluations, one writer module each (the registry:
# configs/reports.yaml); an edit of a writer reruns its report only.


rule table:
    input:
        lambda w: PIPELINE.report_inputs(w.table),
        "src/phased_dmd/reports/{table}.py",
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
        lambda w: PIPELINE.report_inputs(w.figure),
        "src/phased_dmd/reports/{figure}.py",
        "src/phased_dmd/reports/figures.py",
        "src/phased_dmd/reports/tables.py",
    output:
        md="reports/{figure}.md",
        json="reports/{figure}.json",
        png="reports/{figure}.png",
    shell:
        "{PYTHON} -m phased_dmd.reports.{wildcards.figure} --params params.yaml --results results "
        "--out reports/{wildcards.figure}"


rule teachers_report:
    input:
        PIPELINE.teachers_report_inputs(),
    output:
        md="reports/teachers.md",
        json="reports/teachers.json",
    shell:
        "{PYTHON} -m phased_dmd.reports.teachers --params params.yaml --results results --out reports/teachers"


rule calibration_report:  # the base teachers against the CFG scale, and the time map
    input:
        PIPELINE.calibration_report_inputs(),
        "src/phased_dmd/reports/calibration.py",
    output:
        md="reports/calibration.md",
        json="reports/calibration.json",
        png="reports/calibration.png",
    shell:
        "{PYTHON} -m phased_dmd.reports.calibration --params params.yaml --results results --out reports/calibration"


rule paper_scale_report:  # the cost model: the paper's transformers on the meta device (CPU, minutes)
    input:
        "configs/paper_scale.yaml",
        "src/phased_dmd/reports/paper_scale.py",
        "src/phased_dmd/cost",
    output:
        md="reports/paper_scale.md",
        json="reports/paper_scale.json",
        png="reports/paper_scale.png",
    params:
        knobs=lambda w: PIPELINE.paper_scale_knobs(),  # reruns it when params.yaml's paper_scale or the recipe changes
    shell:
        "{PYTHON} -m phased_dmd.reports.paper_scale --params params.yaml --out reports/paper_scale"


rule claims_report:  # every claim of the paper with its verdict, from the other reports
    input:
        PIPELINE.claims_report_inputs(),
        "src/phased_dmd/reports/claims.py",
    output:
        md="reports/claims.md",
        json="reports/claims.json",
    shell:
        "{PYTHON} -m phased_dmd.reports.claims --params params.yaml --results reports --out reports/claims"
