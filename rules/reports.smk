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
