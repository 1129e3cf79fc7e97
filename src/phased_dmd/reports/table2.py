"""reports/table2.{md,json,png}: diversity of text-to-image students (paper Table 2) at embedded scale.

    python -m phased_dmd.reports.table2 --params params.yaml --results results --out reports/table2
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import asdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

from phased_dmd.io import write_json, write_text  # noqa: E402
from phased_dmd.reports.common import fmt, git_revision, report_main, save_figure  # noqa: E402
from phased_dmd.stats import summary  # noqa: E402
from phased_dmd.teachers.kinds import KINDS  # noqa: E402

# (metric, direction that means more diverse or better, heading)
METRICS = [("cosine", "lower", "feature cosine (lower = more diverse)"),
           ("perceptual", "higher", "perceptual distance (higher = more diverse)"),
           ("adherence", "higher", "prompt adherence"),
           ("frechet", "lower", "Frechet distance to held-out data")]
ROW_NAMES = {"real": "held-out data", "base": "base teacher, 40 steps + CFG", "dmd": "DMD, 1 step",
             "sgts": "DMD with SGTS, 4 steps", "phased": "Phased DMD, 4 steps 2 phases",
             "phased4": "Phased DMD, 4 steps 4 phases"}
# Paper Table 2: DINOv3 mean pairwise cosine and LPIPS mean pairwise distance (21 prompts x 8 seeds)
PAPER = {"base": {"wan2.1": (0.708, 0.607), "wan2.2": (0.732, 0.531), "qwen-image": (0.907, 0.483)},
         "dmd": {"wan2.1": (0.825, 0.522)},
         "sgts": {"wan2.1": (0.826, 0.521), "wan2.2": (0.828, 0.447), "qwen-image": (0.941, 0.309)},
         "phased": {"wan2.1": (0.782, 0.544), "wan2.2": (0.768, 0.481), "qwen-image": (0.958, 0.322)}}
PAPER_METRIC = {"cosine": 0, "perceptual": 1}


def cells(metrics: dict) -> dict:
    """Mean, 95% interval and n over the seeds of one source, per metric (a share's interval kept in [0, 1])."""
    per_seed = list(metrics["seeds"].values())
    out = {m: summary([s[m] for s in per_seed]) for m, _, _ in METRICS}
    lo, hi = out["adherence"]["ci95"]
    out["adherence"]["ci95"] = [max(lo, 0.0), min(hi, 1.0)]
    return out


def more_diverse(a: dict, b: dict) -> bool:
    """a more diverse than b on both measures (means): lower cosine and higher perceptual distance."""
    return a["cosine"]["mean"] < b["cosine"]["mean"] and a["perceptual"]["mean"] > b["perceptual"]["mean"]


def separated(a: dict, b: dict, metric: str) -> bool:
    lo_a, hi_a = a[metric]["ci95"]
    lo_b, hi_b = b[metric]["ci95"]
    return hi_a < lo_b or hi_b < lo_a


def checkpoint_hashes(students: Path, table, seeds: list[int]) -> dict:
    """MD5 (DVC's hash) of every generator weight file the table's students use."""
    out = {}
    for path in sorted(p for t in table.teachers for s in table.students for seed in seeds
                       for p in (students / t / s / f"seed{seed}").glob("phase*/generator/**/*.safetensors")):
        out[str(path)] = hashlib.md5(path.read_bytes()).hexdigest()
    return out


def claim_details(rows: dict, teachers: list[str]) -> dict:
    """Per paper claim that this table can test: per column, whether it held here and in the paper."""
    out = {}
    if {"phased", "sgts"} <= set(rows):
        per_column = {}
        for t in teachers:
            p, s = rows["phased"][t], rows["sgts"][t]
            paper = PAPER["phased"][t][0] < PAPER["sgts"][t][0] and PAPER["phased"][t][1] > PAPER["sgts"][t][1]
            per_column[t] = {"held": more_diverse(p, s), "paper_held": paper,
                             "intervals_separated": {m: separated(p, s, m) for m in ("cosine", "perceptual")}}
        out["phased_more_diverse_than_sgts"] = per_column
    return out


def paper_cell(row: str, teacher: str, metric: str) -> str:
    value = PAPER.get(row, {}).get(teacher)
    return f"{value[PAPER_METRIC[metric]]:.3f}" if value and metric in PAPER_METRIC else "-"


def markdown(data: dict) -> str:
    cfg, teachers = data["config"], data["config"]["teachers"]
    lines = [
        "# Table 2 at embedded scale: diversity of text-to-image students",
        "",
        f"Scale: embedded (tiny teachers of the paper's architectures, Fashion-MNIST 16x16, the 10 class names as "
        f"prompts). {cfg['per_prompt']} samples per prompt and seed, measured in groups of {cfg['group']} seeds "
        f"(the paper: 21 prompts x 8 seeds). Each cell: mean [95% t-interval] over distillation seeds "
        f"{cfg['seeds']} (n per cell as in the JSON; the base teacher: its sampling noise with the same seeds; "
        "held-out data: one draw), then the paper's number in parentheses. Backend: "
        f"{data['backend']['features']}; perceptual distance: {data['backend']['perceptual']}; adherence: "
        f"{data['backend']['adherence']}. These are not DINOv3 or LPIPS: the paper's numbers are beside ours "
        "for the direction of effects, not their size. Regenerate: `snakemake reports/table2.md --cores 2`.",
        ""]
    for metric, better, heading in METRICS:
        lines += [f"## {heading[0].upper()}{heading[1:]}", "",
                  "| method | " + " | ".join(f"{t} ({KINDS[t].paper_model})" for t in teachers) + " |",
                  "|---|" + "---|" * len(teachers)]
        for row, per_teacher in data["rows"].items():
            values = [f"{fmt(per_teacher[t][metric])} ({paper_cell(row, t, metric)})" for t in teachers]
            lines.append(f"| {ROW_NAMES.get(row, row)} | " + " | ".join(values) + " |")
        lines.append("")
    lines += ["## Claims", ""]
    for t, c in data["claim_details"].get("phased_more_diverse_than_sgts", {}).items():
        verdict = "held" if c["held"] else "did NOT hold"
        sep = [m for m, s in c["intervals_separated"].items() if s]
        lines.append(
            f"- {t}: Phased DMD more diverse than DMD with SGTS (lower cosine and higher perceptual distance): "
            f"**{verdict}** here; in the paper: {'held' if c['paper_held'] else 'did not hold'}. 95% intervals "
            f"separated for: {', '.join(sep) if sep else 'neither measure'}.")
    lines += ["", "![8 seeds of two prompts per method and teacher](table2.png)", "",
              f"Git revision {data['provenance']['git']}; evaluation took {data['provenance']['seconds']:.0f} s "
              f"(sampling and measuring); checkpoint hashes in the JSON.", ""]
    return "\n".join(lines)


def sample_grid(results: Path, teachers: list[str], sources: list[str], out: Path, group: int) -> None:
    """Per teacher and source: `group` seeds (columns) of two prompts (rows), distillation seed 0."""
    fig, axes = plt.subplots(len(sources), len(teachers), figsize=(3.0 * len(teachers) + 1.2, 0.85 * len(sources)),
                             dpi=100, squeeze=False)
    for c, t in enumerate(teachers):
        for r, s in enumerate(sources):
            tensors = load_file(str(results / "evaluation" / t / s / "samples.safetensors"))
            seed = sorted(k for k in tensors if k.startswith("seed"))[0]
            x, ids = tensors[seed].float(), tensors["prompt_ids"]
            x = x[:, 0] if x.ndim == 4 else x[:, 0, 0]  # images, or the first frame of videos
            rows = [np.concatenate([x[i].numpy() for i in (ids == p).nonzero().squeeze(1)[:group]], axis=1)
                    for p in (0, 3)]  # T-shirt/top, Dress
            ax = axes[r, c]
            ax.imshow(np.concatenate(rows, axis=0), cmap="gray", vmin=-1, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(ROW_NAMES.get(s, s).split(",")[0], rotation=0, ha="right", va="center", fontsize=8)
            if r == 0:
                ax.set_title(t, fontsize=9)
    fig.tight_layout()
    save_figure(fig, out)


def write_report(params, results: Path, out: Path) -> None:
    table, evaluation = params.evaluation.table2, params.evaluation
    sources = ["real", "base", *table.students]
    raw = {s: {t: json.loads((results / "evaluation" / t / s / "metrics.json").read_text()) for t in table.teachers}
           for s in sources}
    rows = {s: {t: cells(raw[s][t]) for t in table.teachers} for s in sources}
    config = {"teachers": table.teachers, "students": {s: asdict(params.students.methods[s]) for s in table.students},
              "seeds": params.students.seeds, "per_prompt": evaluation.per_prompt, "group": evaluation.group,
              "teacher_steps": evaluation.teacher_steps, "teacher_cfg_scale": evaluation.teacher_cfg_scale,
              "distill": asdict(params.students.distill)}
    details = claim_details(rows, table.teachers)
    data = {"rows": rows, "claims": {k: all(c["held"] for c in v.values()) for k, v in details.items()},
            "claim_details": details,
            "backend": raw["base"][table.teachers[0]]["backend"], "config": config,
            "paper": {"table": 2, "metrics": "DINOv3 cosine / LPIPS", "values": PAPER},
            "provenance": {"git": git_revision(),
                           "seconds": sum(r["seconds"] for v in raw.values() for r in v.values()),
                           "checkpoints_md5": checkpoint_hashes(results / "students", table, params.students.seeds)}}
    write_json(out.with_suffix(".json"), data)
    write_text(out.with_suffix(".md"), markdown(data))
    sample_grid(results, table.teachers, sources, out.with_suffix(".png"), evaluation.group)


def main(argv: list[str] | None = None) -> int:
    return report_main("table2", __doc__, write_report, argv, section=None)


if __name__ == "__main__":
    sys.exit(main())
