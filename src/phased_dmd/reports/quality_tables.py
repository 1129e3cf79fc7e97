"""What Tables 4 and 5 share: VBench's quality dimensions of the Wan2.2 base teacher, DMD with SGTS (the paper's
DMD2) and Phased DMD, and the paper's reading of them: Phased DMD stays closer to the base model than DMD2.

The paper itself calls these rankings unreliable (its human raters preferred the base model, which VBench
scores lowest); what it draws from them is the gap to the base model, and so does the claim here: per
dimension, the distance of a student's score to the base teacher's score of the same seed (same prompts
and noise).
"""

from __future__ import annotations

from pathlib import Path

from phased_dmd.reports.fidelity import with_teacher_measures
from phased_dmd.reports.tables import (
    FIDELITY,
    FRECHET_TEACHER,
    Metric,
    Table,
    claim_lines,
    metric_sections,
    paired_claim,
    provenance_line,
    write_table,
)

DIMENSIONS = (Metric("subject_consistency", "higher", "subject consistency"),
              Metric("temporal_flickering", "higher", "temporal flickering (higher = less flicker)"),
              Metric("motion_smoothness", "higher", "motion smoothness"))
GAPS = tuple(Metric(f"{m.key}_gap", "lower", f"{m.heading.split(' (')[0]}: distance to the base teacher's score")
             for m in DIMENSIONS)
CLAIMS = {"phased_closer_to_base_than_sgts":
          "Phased DMD closer to the base teacher than DMD with SGTS (primary measure: Frechet distance to the base "
          "teacher's samples; VBench's gaps beside it)"}
NOT_MEASURED = ("aesthetic quality (VBench: the LAION aesthetic predictor on CLIP), imaging quality (MUSIQ) and "
                "background consistency (CLIP features) need networks this scale does not have")


def quality_table(number: int, task: str, teacher: str, paper: dict[str, tuple[float, float, float]]) -> Table:
    """Table 4 or 5; paper: {row: (subject consistency, temporal flickering, motion smoothness)} as shares."""
    base = paper["base"]
    values = {row: {teacher: {**{m.key: v for m, v in zip(DIMENSIONS, vs)},
                              **{g.key: abs(v - b) for g, v, b in zip(GAPS, vs, base)}}} for row, vs in paper.items()}
    return Table(name=f"table{number}", number=number, title=f"VBench quality of Wan2.2 {task} students",
                 metrics=DIMENSIONS + GAPS + FIDELITY, paper=values,
                 paper_metrics="VBench subject consistency (DINO), temporal flickering, motion smoothness (AMT-S)")


def with_gaps(results: Path):
    """The measurements of each seed, its fidelity to the base teacher (fidelity.py) and, per dimension, the
    distance to the base teacher's score of that seed."""
    def measure(raw: dict) -> dict:
        measured = with_teacher_measures(results, raw)
        for source, per_teacher in raw.items():
            for t, m in per_teacher.items():
                base = raw["base"][t]["seeds"]
                for row, seed in zip(measured[source][t], m["seeds"]):
                    row.update({g.key: abs(row[d.key] - base[seed][d.key]) for d, g in zip(DIMENSIONS, GAPS)})
        return measured

    return measure


def write_quality_table(table: Table, params, results: Path, out: Path) -> None:
    def claims(measured: dict, teachers: list[str]) -> dict:
        if not {"phased", "sgts"} <= set(measured):
            return {}
        return {"phased_closer_to_base_than_sgts": paired_claim(measured, teachers, "phased", "sgts",
                                                                (FRECHET_TEACHER, *GAPS), table)}

    def markdown(data: dict) -> str:
        cfg, backend = data["config"], data["backend"]
        lines = [
            f"# Table {table.number} at embedded scale: {table.title}", "",
            "Scale: embedded (a tiny Wan2.2-like teacher with two experts, 5-frame 16x16 clips of a Fashion-MNIST "
            f"item moving across the canvas). {cfg['per_prompt']} videos per class prompt and seed. Each cell: mean "
            f"[95% t-interval] over distillation seeds {cfg['seeds']} (the base teacher: its sampling noise with the "
            "same seeds; held-out data: one draw of clips), then the paper's number in parentheses (its percentages "
            f"as shares). Backend: subject consistency by {backend['consistency']}; motion smoothness by "
            f"{backend['smoothness']}; temporal flickering needs no network. Not measured: {NOT_MEASURED}. VBench "
            "applies temporal flickering to static scenes; these clips all move, so lower scores here also mean "
            "more motion. The paper calls these rankings unreliable and reads only the gaps to the base model; so "
            f"does the claim below. Regenerate: `snakemake reports/table{table.number}.md --cores 2`.", ""]
        lines += metric_sections(table, data) + claim_lines(data["claim_details"], CLAIMS)
        lines += [f"![the frames of one video of two prompts per method](table{table.number}.png)", "",
                  provenance_line(data), ""]
        return "\n".join(lines)

    write_table(table, params, results, out, with_gaps(results), claims, markdown)

