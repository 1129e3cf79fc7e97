"""reports/table2.{md,json,png}: diversity of text-to-image students (paper Table 2) at embedded scale.

    python -m phased_dmd.reports.table2 --params params.yaml --results results --out reports/table2
"""

from __future__ import annotations

import sys
from pathlib import Path

from phased_dmd.reports.common import report_main
from phased_dmd.reports.tables import (
    Metric,
    Table,
    claim,
    claim_lines,
    metric_sections,
    provenance_line,
    seed_measurements,
    write_table,
)

TABLE = Table(
    name="table2", number=2, title="diversity of text-to-image students",
    metrics=(Metric("cosine", "lower", "feature cosine (lower = more diverse)"),
             Metric("perceptual", "higher", "perceptual distance (higher = more diverse)"),
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
DIVERSITY = TABLE.metrics[:2]
CLAIMS = {"phased_more_diverse_than_sgts":
          "Phased DMD more diverse than DMD with SGTS (lower cosine and higher perceptual distance)"}


def claims(rows: dict, teachers: list[str]) -> dict:
    if not {"phased", "sgts"} <= set(rows):
        return {}
    return {"phased_more_diverse_than_sgts": claim(TABLE, rows, teachers, "phased", "sgts", DIVERSITY)}


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
        "direction of effects, not their size. Regenerate: `snakemake reports/table2.md --cores 2`.",
        ""]
    lines += metric_sections(TABLE, data) + claim_lines(data["claim_details"], CLAIMS)
    lines += ["![8 seeds of two prompts per method and teacher](table2.png)", "", provenance_line(data), ""]
    return "\n".join(lines)


def write_report(params, results: Path, out: Path) -> None:
    write_table(TABLE, params, results, out, seed_measurements, claims, markdown)


def main(argv: list[str] | None = None) -> int:
    return report_main("table2", __doc__, write_report, argv, section=None)


if __name__ == "__main__":
    sys.exit(main())
