"""reports/table2.{md,json,png}: diversity of text-to-image students (paper Table 2) at embedded scale.

    python -m phased_dmd.reports.table2 --params params.yaml --results results --out reports/table2
"""

from __future__ import annotations

import sys
from pathlib import Path

from phased_dmd.reports.common import report_main
from phased_dmd.reports.fidelity import with_teacher_measures
from phased_dmd.reports.tables import (
    FIDELITY,
    PIXEL,
    RECALL_TEACHER,
    Metric,
    Table,
    claim_lines,
    metric_sections,
    paired_claim,
    provenance_line,
    write_table,
)

TABLE = Table(
    name="table2", number=2, title="diversity of text-to-image students",
    metrics=(Metric("cosine", "lower", "feature cosine (lower = more diverse)"),
             Metric("perceptual", "higher", "perceptual distance (higher = more diverse)"), PIXEL, *FIDELITY,
             Metric("adherence", "higher", "prompt adherence"),
             Metric("frechet", "lower", "Frechet distance to held-out data")),
    # paper Table 2: DINOv3 mean pairwise cosine and LPIPS mean pairwise distance (21 prompts x 8 seeds)
    paper={"base": {"wan2.1": {"cosine": 0.708, "perceptual": 0.607}, "wan2.2": {"cosine": 0.732, "perceptual": 0.531},
                    "qwen-image": {"cosine": 0.907, "perceptual": 0.483}},
           "dmd": {"wan2.1": {"cosine": 0.825, "perceptual": 0.522}},
           "sgts": {"wan2.1": {"cosine": 0.826, "perceptual": 0.521}, "wan2.2": {"cosine": 0.828, "perceptual": 0.447},
                    "qwen-image": {"cosine": 0.941, "perceptual": 0.309}},
           "phased": {"wan2.1": {"cosine": 0.782, "perceptual": 0.544},
                      "wan2.2": {"cosine": 0.768, "perceptual": 0.481},
                      "qwen-image": {"cosine": 0.958, "perceptual": 0.322}}},
    paper_metrics="DINOv3 cosine / LPIPS")
# The primary measure of diversity, chosen before the claims were run: per-prompt recall of the base teacher's
# samples (a student distilled from it is judged first against it); the paper's pairwise measures beside it.
DIVERSITY = (RECALL_TEACHER, *TABLE.metrics[:3])
CLAIMS = {"phased_more_diverse_than_sgts": "Phased DMD more diverse than DMD with SGTS",
          "phased_more_diverse_than_dmd": "Phased DMD more diverse than one-step DMD",
          "sgts_more_diverse_than_dmd": "DMD with SGTS more diverse than one-step DMD (the paper: no, it falls to the "
                                        "one-step level)",
          "phased_more_diverse_than_sgts_renoise": "Phased DMD more diverse than DMD with SGTS re-noising between "
                                                   "its steps (the step rule of DMD2 and Self-Forcing)",
          "phased_more_diverse_than_phased_lora": "Phased DMD with full experts more diverse than with LoRA experts "
                                                  "over the shared teacher (what LoRA costs; no claim of the paper)"}
PAIRS = {"phased_more_diverse_than_sgts": ("phased", "sgts"), "phased_more_diverse_than_dmd": ("phased", "dmd"),
         "sgts_more_diverse_than_dmd": ("sgts", "dmd"),
         "phased_more_diverse_than_sgts_renoise": ("phased", "sgts_renoise"),
         "phased_more_diverse_than_phased_lora": ("phased", "phased_lora")}


def claims(measured: dict, teachers: list[str]) -> dict:
    return {name: paired_claim(measured, teachers, a, b, DIVERSITY, TABLE) for name, (a, b) in PAIRS.items()
            if {a, b} <= set(measured)}


def markdown(data: dict) -> str:
    cfg = data["config"]
    lines = [
        f"# Table 2 at embedded scale: {TABLE.title}",
        "",
        f"Scale: embedded (tiny teachers of the paper's architectures, Fashion-MNIST 16x16, the 10 class names as "
        f"prompts). {cfg['per_prompt']} samples per prompt and seed, measured in groups of {cfg['group']} seeds "
        f"(the paper: 21 prompts x 8 seeds). Each cell: mean [95% t-interval] over distillation seeds "
        f"{cfg['seeds']} (n per cell as in the JSON; the base teacher: its sampling noise with the same seeds; "
        "held-out data: one draw), then the paper's number in parentheses. Backend: "
        f"{data['backend']['features']}; perceptual distance: {data['backend']['perceptual']}; adherence: "
        f"{data['backend']['adherence']}. " + ("These are not DINOv3 or LPIPS: " if data["backend"]["name"] ==
                                               "embedded" else "") + "the paper's numbers are beside ours for the "
        "direction of effects, not their size. Fidelity first to the teacher: each row is also measured against "
        "the base teacher's own samples of another seed (Frechet distance; per-prompt precision, recall and "
        "coverage, Naeem et al. 2020, k = 5), and against another split of each prompt's held-out data. The "
        "claims are judged on the paired difference over seeds of the primary measure, per-prompt recall of the "
        "base teacher's samples. Regenerate: `snakemake reports/table2.md --cores 2`.",
        ""]
    lines += metric_sections(TABLE, data) + claim_lines(data["claim_details"], CLAIMS)
    lines += ["![8 seeds of two prompts per method and teacher](table2.png)", "", provenance_line(data), ""]
    return "\n".join(lines)


def write_report(params, results: Path, out: Path) -> None:
    write_table(TABLE, params, results, out, lambda raw: with_teacher_measures(results, raw), claims, markdown)


def main(argv: list[str] | None = None) -> int:
    return report_main("table2", __doc__, write_report, argv, section=None)


if __name__ == "__main__":
    sys.exit(main())
