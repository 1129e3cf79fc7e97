"""What the ablation figures (5, 9, 10) share at embedded scale: two students of one teacher sampled with the
same prompts and noise, shown side by side, with their quality measured over seeds and one line per claim."""

from __future__ import annotations

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
from phased_dmd.reports.common import fmt, git_revision  # noqa: E402
from phased_dmd.reports.fidelity import with_teacher_measures  # noqa: E402
from phased_dmd.reports.tables import (  # noqa: E402
    FRECHET_TEACHER,
    GRID_PROMPTS,
    PIXEL,
    RECALL_TEACHER,
    Metric,
    cells,
    generator_md5,
    measurement,
    paired_claim,
    verdict_text,
)

# the primary measure of every figure's claim first (chosen before the claims were run): closeness to the base
# teacher's samples
QUALITY = (FRECHET_TEACHER, RECALL_TEACHER, Metric("frechet", "lower", "Frechet distance to held-out data"),
           Metric("adherence", "higher", "prompt adherence"),
           Metric("cosine", "lower", "feature cosine within a prompt (lower = more diverse)"), PIXEL)


@dataclass(frozen=True)
class Figure:
    name: str  # figure5 | figure9 | figure10
    number: int
    title: str
    labels: tuple[str, str]  # what distinguishes the two students, in params.yaml's order
    paper: str  # what the paper's figure shows


def samples(results: Path, teacher: str, source: str) -> dict:
    return load_file(str(results / "evaluation" / teacher / source / "samples.safetensors"))


def images(x) -> np.ndarray:
    """Samples (N, 1, H, W), or videos (N, 1, F, H, W) as their first frame -> (N, H, W)."""
    x = x.float()
    return (x[:, 0] if x.ndim == 4 else x[:, 0, 0]).numpy()


def first_seed(tensors: dict) -> tuple[np.ndarray, np.ndarray]:
    """The images of the first distillation seed and their prompt ids."""
    return images(tensors[sorted(k for k in tensors if k.startswith("seed"))[0]]), tensors["prompt_ids"].numpy()


def pair_grid(results: Path, figure: Figure, teacher: str, students: list[str], out: Path, group: int) -> None:
    """Two prompts; for each, the two students' samples of distillation seed 0 (rows) over `group` noises
    (columns, the same noise in a column); videos: their first frame."""
    fig, axes = plt.subplots(len(GRID_PROMPTS), 1, figsize=(1.0 + 0.7 * group, 1.6 * len(GRID_PROMPTS)), dpi=100)
    for ax, prompt in zip(np.atleast_1d(axes), GRID_PROMPTS):
        rows = []
        for s in students:
            x, ids = first_seed(samples(results, teacher, s))
            rows.append(np.concatenate(list(x[np.flatnonzero(ids == prompt)[:group]]), axis=1))
        ax.imshow(np.concatenate(rows, axis=0), cmap="gray", vmin=-1, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([x.shape[-1] / 2, 3 * x.shape[-1] / 2])
        ax.set_yticklabels(figure.labels, fontsize=8)
    fig.suptitle(f"Figure {figure.number} at embedded scale: {figure.title}", fontsize=9)
    fig.tight_layout()
    save_figure(fig, out)


def comparison_lines(figure: Figure, rows: dict, students: list[str], details: dict) -> list[str]:
    """Per quality metric: both students' cells and the paired verdict of the first over the second."""
    per_metric = details["per_metric"]
    lines = ["| measure | " + " | ".join(f"{label} (`{s}`)" for label, s in zip(figure.labels, students))
             + f" | `{students[0]}` better than `{students[1]}` (paired) |", "|---|---|---|---|"]
    for m in QUALITY:
        a, b = (rows[s] for s in students)
        lines.append(f"| {m.heading} | {fmt(a[m.key])} | {fmt(b[m.key])} | {verdict_text(per_metric[m.key])} |")
    return lines


def write_figure(figure: Figure, params, results: Path, out: Path,
                 extra: Callable[[Path, str, list[str], list[int]], dict],
                 claims: Callable[[dict, dict, list[str]], dict], markdown: Callable[[dict], list[str]],
                 picture: Callable[[dict, Path, Path], None] | None = None) -> None:
    """Measure the figure's students (and held-out data and the base teacher for scale), compare its first two,
    judge its claims, write out.{md,json,png}. extra(results, teacher, the two students, seeds): the figure's own
    measurements; claims(data so far, extra, the two students) -> {claim: {verdict, ...}}; markdown(data): the
    figure's lines between its description and the comparison table; picture(data, results, png): the PNG
    (default: the two students side by side)."""
    spec, seeds = getattr(params.evaluation, figure.name), params.report_seeds(figure.name)
    pair = spec.students[:2]
    raw = {s: {spec.teacher: measurement(results, spec.teacher, s, seeds)} for s in ("real", "base", *spec.students)}
    measured = with_teacher_measures(results, raw)
    rows = {s: cells(per_teacher[spec.teacher], QUALITY) for s, per_teacher in measured.items()}
    comparison = paired_claim(measured, [spec.teacher], *pair, QUALITY)[spec.teacher]
    own = extra(results, spec.teacher, pair, seeds)
    data = {"rows": rows, "per_seed": {s: {m.key: [r[m.key] for r in per_teacher[spec.teacher]] for m in QUALITY}
                                       for s, per_teacher in measured.items()},
            "extra": own, "comparison": comparison, "backend": raw[pair[0]][spec.teacher]["backend"],
            "config": {"teacher": spec.teacher,
                       "students": {s: dict(params.students.methods[s]) for s in spec.students},
                       "seeds": seeds, "per_prompt": params.evaluation.per_prompt,
                       "distill": dict(params.students.distill)},
            "paper": figure.paper,
            "provenance": {"git": git_revision(), "seconds": sum(r[spec.teacher]["seconds"] for r in raw.values()),
                           "checkpoints_md5": {k: v for s in spec.students
                                               for k, v in generator_md5(results, spec.teacher, s, seeds).items()}}}
    data["claim_details"] = claims(data, own, pair)
    data["claims"] = {name: c["verdict"] for name, c in data["claim_details"].items()}
    text = [f"# Figure {figure.number} at embedded scale: {figure.title}", "",
            f"Scale: embedded (tiny {spec.teacher} teacher, Fashion-MNIST 16x16). The two students are "
            f"`{pair[0]}` ({figure.labels[0]}) and `{pair[1]}` ({figure.labels[1]}), each distilled "
            f"with seeds {seeds} and sampled with the same prompts and noise ({params.evaluation.per_prompt} samples "
            f"per class prompt and seed). Cells: mean [95% t-interval] over the seeds; verdicts on the paired "
            f"difference over seeds. Backend: {data['backend']['features']}. The paper: {figure.paper} Regenerate: "
            f"`snakemake reports/{figure.name}.md --cores 2`.", ""]
    text += markdown(data) + [""] + comparison_lines(figure, rows, pair, comparison)
    text += ["", f"For scale: the base teacher's floor (two sets of its own samples) "
             f"{fmt(rows['base']['frechet_teacher'])}; held-out data: Frechet distance to the teacher's samples "
             f"{fmt(rows['real']['frechet_teacher'])}, to other held-out data {fmt(rows['real']['frechet'])}, "
             f"adherence {fmt(rows['real']['adherence'])}.", "",
             f"![the two students, same noise per column, two prompts]({figure.name}.png)", "",
             f"Git revision {data['provenance']['git']}; evaluation took {data['provenance']['seconds']:.0f} s; "
             "checkpoint hashes in the JSON.", ""]
    write_json(out.with_suffix(".json"), data)
    write_text(out.with_suffix(".md"), "\n".join(text))
    if picture is None:
        pair_grid(results, figure, spec.teacher, pair, out.with_suffix(".png"), params.evaluation.group)
    else:
        picture(data, results, out.with_suffix(".png"))


def closer_to_teacher(data: dict, winner: int) -> dict:
    """The claim that student `winner` (0 or 1, in params.yaml's order) is closer to the base teacher's samples
    than the other: the paired comparison (first over second) on the primary measure, turned around for 1."""
    effect = dict(data["comparison"]["effect"])
    if winner == 1:
        lo, hi = effect["ci95"]
        effect.update(mean=-effect["mean"], ci95=[-hi, -lo],
                      verdict={"held": "reversed", "reversed": "held"}.get(effect["verdict"], effect["verdict"]))
    return {"verdict": effect["verdict"], "measure": data["comparison"]["measure"], "effect": effect}


def quality_report(figure: Figure, claim: str, winner: int, sentence: Callable[[dict], str],
                   more: Callable[[dict], list[str]] = lambda data: [],
                   picture: Callable[[dict, Path, Path], None] | None = None):
    """The write_report of a figure whose one claim is that student `winner` (0 or 1, in params.yaml's order)
    is closer to the base teacher's samples; sentence(data) states the claim, more(data) adds lines after it."""
    def claims(data: dict, extra: dict, students: list[str]) -> dict:
        return {claim: closer_to_teacher(data, winner)}

    def markdown(data: dict) -> list[str]:
        c = data["claim_details"][claim]
        return [f"- {sentence(data)}, on {c['measure']}: {verdict_text(c['effect'])}; in the paper: held (by eye).",
                *more(data)]

    return lambda params, results, out: write_figure(figure, params, results, out, lambda *_: {}, claims, markdown,
                                                     picture)
