"""What the paper's tables share at embedded scale: their measurements over seeds, the cells with their
intervals, per-column claims, a sample grid and provenance. Each table's module says which metrics,
paper numbers and claims it has."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

from phased_dmd.io import (  # noqa: E402
    save_figure,  # noqa: E402
    write_json,
    write_text,
)
from phased_dmd.kinds import KINDS  # noqa: E402
from phased_dmd.reports.common import fmt, git_revision  # noqa: E402
from phased_dmd.stats import paired, summary  # noqa: E402

ROW_NAMES = {"real": "held-out data", "base": "base teacher, 40 steps + CFG", "dmd": "DMD, 1 step",
             "sgts": "DMD with SGTS, 4 steps", "phased": "Phased DMD, 4 steps 2 phases",
             "phased4": "Phased DMD, 4 steps 4 phases", "sgts_renoise": "DMD with SGTS re-noising, 4 steps",
             "phased_lora": "Phased DMD, 4 steps 2 phases, LoRA experts"}
SHARES = ("adherence", "dynamic", "precision_teacher", "recall_teacher", "coverage_teacher", "precision_data",
          "recall_data", "coverage_data")  # shares of samples: their intervals are kept in [0, 1]
NON_NEGATIVE = ("frechet", "frechet_teacher", "pixel", "density_teacher", "density_data", "fid", "fvd", "flow",
                "perceptual", "subject_consistency_gap", "temporal_flickering_gap",
                "motion_smoothness_gap")  # distances and magnitudes: intervals kept >= 0
GRID_PROMPTS = (0, 3)  # T-shirt/top, Dress


@dataclass(frozen=True)
class Metric:
    key: str  # as in the evaluation's metrics.json
    better: str  # lower | higher: the direction that means more diverse, more motion or closer
    heading: str


@dataclass(frozen=True)
class Table:
    """One of the paper's tables: its metrics, the paper's numbers {row: {teacher: {metric: value}}} and how
    they were measured there."""

    name: str  # table2 | table3 | table6
    number: int
    title: str
    metrics: tuple[Metric, ...]
    paper: dict
    paper_metrics: str  # what the paper measured, e.g. "DINOv3 cosine / LPIPS"


PIXEL = Metric("pixel", "higher",
               "pixel distance within a prompt (mean pairwise RMS difference; higher = more diverse)")
FRECHET_TEACHER = Metric("frechet_teacher", "lower", "Frechet distance to the base teacher's samples (base row: "
                         "the floor, two independent sets of its samples)")
RECALL_TEACHER = Metric("recall_teacher", "higher", "per-prompt recall of the base teacher's samples (how much of "
                        "its variety a source reaches)")
PRECISION_TEACHER = Metric("precision_teacher", "higher", "per-prompt precision against the base teacher's samples")
COVERAGE_TEACHER = Metric("coverage_teacher", "higher", "per-prompt coverage of the base teacher's samples")
RECALL_DATA = Metric("recall_data", "higher", "per-prompt recall of held-out data")
COVERAGE_DATA = Metric("coverage_data", "higher", "per-prompt coverage of held-out data")
FIDELITY = (FRECHET_TEACHER, RECALL_TEACHER, PRECISION_TEACHER, COVERAGE_TEACHER, RECALL_DATA, COVERAGE_DATA)


def sources(table_params, scale: str = "embedded") -> list[str]:
    """The rows of a table: held-out data (embedded scale only), the base teacher, the students."""
    return [*(["real"] if scale == "embedded" else []), "base", *table_params.students]


def measurement(results: Path, teacher: str, source: str, seeds: list[int]) -> dict:
    """An evaluation's metrics.json with the report's seeds only (an evaluation holds every seed of every report
    that shows its source; held-out data has one draw, seed 0)."""
    data = json.loads((results / "evaluation" / teacher / source / "metrics.json").read_text())
    if source == "real":
        return data
    missing = [s for s in seeds if str(s) not in data["seeds"]]
    if missing:
        raise ValueError(f"{results}/evaluation/{teacher}/{source}/metrics.json has no seeds {missing}: rerun its "
                         "evaluation (the workflow does when a report's seeds change)")
    return {**data, "seeds": {str(s): data["seeds"][str(s)] for s in seeds}}


def load_measurements(results: Path, table_params, seeds: list[int], scale: str = "embedded") -> dict:
    """{source: {teacher: metrics.json over `seeds`}} of every source and teacher of a table (a student only for
    the teachers that show it)."""
    return {s: {t: measurement(results, t, s, seeds) for t in table_params.teachers
                if s in ("real", "base") or s in table_params.students_of(t)}
            for s in sources(table_params, scale)}


def cells(per_seed: list[dict], metrics: tuple[Metric, ...]) -> dict:
    """Mean, 95% interval and n over seeds, per metric measured (paper scale has no adherence and no distance
    to held-out data)."""
    out = {}
    for m in (m for m in metrics if m.key in per_seed[0]):
        out[m.key] = summary([s[m.key] for s in per_seed])
        lo, hi = out[m.key]["ci95"]
        if m.key in SHARES:
            out[m.key]["ci95"] = [max(lo, 0.0), min(hi, 1.0)]
        elif m.key in NON_NEGATIVE:
            out[m.key]["ci95"] = [max(lo, 0.0), hi]
    return out


def beats(x: float, y: float, metric: Metric) -> bool:
    """x is better than y in the metric's direction."""
    return x < y if metric.better == "lower" else x > y


def paper_better(table: Table, a: str, b: str, teacher: str, metric: Metric) -> bool | None:
    """Whether row a beat row b in the paper (None where the paper has no number)."""
    va, vb = (table.paper.get(r, {}).get(teacher, {}).get(metric.key) for r in (a, b))
    return None if va is None or vb is None else beats(va, vb, metric)


def paired_claim(measured: dict, teachers: list[str], a: str, b: str, metrics: tuple[Metric, ...],
                 table: Table | None = None) -> dict:
    """Per column: "row a is better than row b", judged on the paired difference a - b over the seeds (the same
    distillation seed and sampling noise) of each metric; the claim's verdict is that of its first metric, the
    primary measure (chosen before any claim was run), the others are shown beside it. `paper_held`: whether
    a beat b in the paper on every metric it has a number for (None where it has none)."""
    out = {}
    for t in teachers:
        rows_a, rows_b = measured[a][t], measured[b][t]
        per_metric = {m.key: {**paired([r[m.key] for r in rows_a], [r[m.key] for r in rows_b], m.better),
                              "better": m.better}
                      for m in metrics if m.key in rows_a[0]}
        paper = [v for v in (paper_better(table, a, b, t, m) for m in metrics) if v is not None] if table else []
        primary = metrics[0].key
        out[t] = {"verdict": per_metric[primary]["verdict"], "measure": primary, "effect": per_metric[primary],
                  "per_metric": per_metric, "paper_held": all(paper) if paper else None}
    return out


def verdict_text(effect: dict) -> str:
    """A paired verdict in words: the difference with its interval, and for undecided the smallest effect the
    run could have seen."""
    lo, hi = effect["ci95"]
    text = f"**{effect['verdict']}**, difference {effect['mean']:+.4g} [{lo:+.4g}, {hi:+.4g}] (n = {effect['n']})"
    if effect["verdict"] == "undecided" and effect["mde"] is not None:
        text += f"; smallest effect this run could see: {effect['mde']:.3g}"
    return text


def claim_lines(details: dict, sentences: dict[str, str]) -> list[str]:
    """One line per claim and column: the paired verdict on its primary measure, the other measures' verdicts,
    and the paper's."""
    lines = ["## Claims (paired differences over seeds)", ""]
    for name, per_column in details.items():
        for t, c in per_column.items():
            paper = {True: "held", False: "did not hold", None: "no number"}[c["paper_held"]]
            others = ", ".join(f"{k} {v['verdict']}" for k, v in c["per_metric"].items() if k != c["measure"])
            lines.append(f"- {t}: {sentences[name]}, on {c['measure']}: {verdict_text(c['effect'])}. Other "
                         f"measures: {others or 'none'}. In the paper: {paper}.")
    return lines + [""]


def column_verdicts(details: dict) -> dict:
    """{claim: {column: verdict}}: one verdict per claim and column."""
    return {name: {t: c["verdict"] for t, c in per_column.items()} for name, per_column in details.items()}


def generator_md5(results: Path, teacher: str, student: str, seeds: list[int], phase: int | None = None) -> dict:
    """MD5 (DVC's hash) of a student's generator weight files over its seeds (one phase, or all)."""
    pattern = f"phase{phase or '*'}/generator/**/*.safetensors"
    return {str(p): hashlib.md5(p.read_bytes()).hexdigest() for seed in seeds
            for p in sorted((results / "students" / teacher / student / f"seed{seed}").glob(pattern))}


def paper_cell(table: Table, row: str, teacher: str, metric: str) -> str:
    value = table.paper.get(row, {}).get(teacher, {}).get(metric)
    return f"{value:.4g}" if value is not None else "-"


def metric_sections(table: Table, data: dict) -> list[str]:
    """One markdown table per metric: rows as the paper's, a column per teacher, the paper's number beside ours."""
    teachers, lines = data["config"]["teachers"], []
    for m in (m for m in table.metrics if m.key in next(iter(data["rows"]["base"].values()))):
        lines += [f"## {m.heading[0].upper()}{m.heading[1:]}", "",
                  "| method | " + " | ".join(f"{t} ({KINDS[t].paper_model})" for t in teachers) + " |",
                  "|---|" + "---|" * len(teachers)]
        for row, per_teacher in data["rows"].items():
            values = [f"{fmt(per_teacher[t][m.key])} ({paper_cell(table, row, t, m.key)})" for t in teachers]
            lines.append(f"| {ROW_NAMES.get(row, row)} | " + " | ".join(values) + " |")
        lines.append("")
    return lines


def provenance_line(data: dict) -> str:
    return (f"Git revision {data['provenance']['git']}; evaluation took {data['provenance']['seconds']:.0f} s "
            f"(sampling and measuring, summed over jobs), of which measuring "
            f"{data['provenance']['seconds_measuring']:.0f} s; checkpoint hashes in the JSON.")


def sample_grid(results: Path, teachers: list[str], rows: list[str], out: Path, group: int) -> None:
    """Per teacher (columns) and source (rows), distillation seed 0, two prompts: images as `group` seeds side
    by side; videos as the frames of one sample, left to right."""
    fig, axes = plt.subplots(len(rows), len(teachers), figsize=(3.0 * len(teachers) + 1.2, 0.85 * len(rows)),
                             dpi=100, squeeze=False)
    for c, t in enumerate(teachers):
        for r, s in enumerate(rows):
            tensors = load_file(str(results / "evaluation" / t / s / "samples.safetensors"))
            seed = sorted(k for k in tensors if k.startswith("seed"))[0]
            samples, ids = tensors[seed].float(), tensors["prompt_ids"]
            video = samples.ndim == 5
            x = samples[:, 0] if samples.shape[1] == 1 else samples.movedim(1, -1)  # grey (N, [F,] H, W) or RGB
            strips = []
            for p in [p for p in GRID_PROMPTS if p in ids] or sorted(set(ids.tolist()))[:2]:
                idx = (ids == p).nonzero().squeeze(1)
                chosen = x[idx[0]] if video else x[idx[:group]]  # the frames of one video, or seeds
                strips.append(np.concatenate(list(chosen.numpy()), axis=1))
            ax = axes[r, c]
            grid = np.concatenate(strips, axis=0)
            ax.imshow(grid if grid.ndim == 2 else (grid + 1) / 2, cmap="gray", vmin=-1, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(ROW_NAMES.get(s, s).split(",")[0], rotation=0, ha="right", va="center", fontsize=8)
            if r == 0:
                ax.set_title(t, fontsize=9)
    fig.tight_layout()
    save_figure(fig, out)


def write_table(table: Table, params, results: Path, out: Path, per_seed: Callable[[dict], dict],
                claims: Callable[[dict, list[str]], dict], markdown: Callable[[dict], str]) -> None:
    """Measure the table's rows (per_seed: {source: {teacher: [per-seed metric dicts]}} from the raw
    measurements), judge its claims (claims(those per-seed dicts, teachers)), and write out.{md,json,png}."""
    table_params, evaluation = getattr(params.evaluation, table.name), params.evaluation
    seeds = params.report_seeds(table.name)
    raw = load_measurements(results, table_params, seeds, params.teachers.scale)
    measured = per_seed(raw)
    rows = {s: {t: cells(seed_rows, table.metrics) for t, seed_rows in per_teacher.items()}
            for s, per_teacher in measured.items()}
    details = claims(measured, table_params.teachers)
    config = {"teachers": table_params.teachers,
              "students": {s: dict(params.students.methods[s]) for s in table_params.students},
              "seeds": seeds, "per_prompt": evaluation.per_prompt, "group": evaluation.group,
              "teacher_steps": evaluation.teacher_steps, "teacher_cfg_scale": evaluation.teacher_cfg_scale,
              "teacher_cfg_form": evaluation.teacher_cfg_form,
              "distill": dict(params.students.distill),
              "per_teacher": {t: dict(v) for t, v in params.students.per_teacher.items()
                              if t in table_params.teachers}}
    data = {"rows": rows, "claims": column_verdicts(details),
            "claim_details": details, "backend": raw["base"][table_params.teachers[0]]["backend"], "config": config,
            "paper": {"table": table.number, "metrics": table.paper_metrics, "values": table.paper},
            "provenance": {"git": git_revision(),
                           "seconds": sum(r["seconds"] for v in raw.values() for r in v.values()),
                           "seconds_measuring": sum(r["seconds_measuring"] for v in raw.values() for r in v.values()),
                           "checkpoints_md5": {k: v for t in table_params.teachers for s in table_params.students
                                               for k, v in generator_md5(results, t, s, seeds).items()}}}
    write_json(out.with_suffix(".json"), data)
    write_text(out.with_suffix(".md"), markdown(data))
    sample_grid(results, table_params.teachers, sources(table_params, params.teachers.scale), out.with_suffix(".png"),
                evaluation.group)
