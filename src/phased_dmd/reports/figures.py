"""What the ablation figures (5, 9, 10) share at embedded scale: two students of one teacher sampled with the
same prompts and noise, shown side by side, with their quality measured over seeds and one line per claim."""

from __future__ import annotations

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
from phased_dmd.reports.common import fmt, git_revision  # noqa: E402
from phased_dmd.reports.tables import GRID_PROMPTS, Metric, better, cells, generator_md5, separated  # noqa: E402

QUALITY = (Metric("frechet", "lower", "Frechet distance to held-out data"),
           Metric("adherence", "higher", "prompt adherence"),
           Metric("cosine", "lower", "feature cosine within a prompt (lower = more diverse)"))


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


def comparison_lines(figure: Figure, rows: dict, students: list[str]) -> list[str]:
    """Per quality metric: both students' cells and whether their intervals separate."""
    lines = ["| measure | " + " | ".join(f"{label} (`{s}`)" for label, s in zip(figure.labels, students))
             + " | intervals separated |", "|---|---|---|---|"]
    for m in QUALITY:
        a, b = (rows[s] for s in students)
        lines.append(f"| {m.heading} | {fmt(a[m.key])} | {fmt(b[m.key])} | {'yes' if separated(a, b, m.key) else 'no'} |")
    return lines


def write_figure(figure: Figure, params, results: Path, out: Path,
                 extra: Callable[[Path, str, list[str], list[int]], dict],
                 claims: Callable[[dict, dict, list[str]], dict], markdown: Callable[[dict], list[str]]) -> None:
    """Measure the figure's two students (and held-out data for scale), judge its claims, write out.{md,json,png}.
    extra(results, teacher, students, seeds): the figure's own measurements; claims(rows, extra, students) ->
    {claim: bool};
    markdown(data): the figure's lines between its description and the comparison table."""
    spec, seeds = getattr(params.evaluation, figure.name), params.students.seeds
    raw = {s: json.loads((results / "evaluation" / spec.teacher / s / "metrics.json").read_text())
           for s in ("real", *spec.students)}
    rows = {s: cells(list(m["seeds"].values()), QUALITY) for s, m in raw.items()}
    own = extra(results, spec.teacher, spec.students, seeds)
    data = {"rows": rows, "extra": own, "claims": claims(rows, own, spec.students), "backend": raw[spec.students[0]]["backend"],
            "config": {"teacher": spec.teacher, "students": {s: dict(params.students.methods[s]) for s in spec.students},
                       "seeds": seeds, "per_prompt": params.evaluation.per_prompt,
                       "distill": dict(params.students.distill)},
            "paper": figure.paper,
            "provenance": {"git": git_revision(), "seconds": sum(r["seconds"] for r in raw.values()),
                           "checkpoints_md5": {k: v for s in spec.students
                                               for k, v in generator_md5(results, spec.teacher, s, seeds).items()}}}
    text = [f"# Figure {figure.number} at embedded scale: {figure.title}", "",
            f"Scale: embedded (tiny {spec.teacher} teacher, Fashion-MNIST 16x16). The two students are "
            f"`{spec.students[0]}` ({figure.labels[0]}) and `{spec.students[1]}` ({figure.labels[1]}), each distilled "
            f"with seeds {seeds} and sampled with the same prompts and noise ({params.evaluation.per_prompt} samples "
            f"per class prompt and seed). Cells: mean [95% t-interval] over the seeds. Backend: "
            f"{data['backend']['features']}. The paper: {figure.paper} Regenerate: "
            f"`snakemake reports/{figure.name}.md --cores 2`.", ""]
    text += markdown(data) + [""] + comparison_lines(figure, rows, spec.students)
    text += ["", f"Held-out data for scale: Frechet distance {fmt(rows['real']['frechet'])}, adherence "
             f"{fmt(rows['real']['adherence'])}.", "",
             f"![the two students, same noise per column, two prompts]({figure.name}.png)", "",
             f"Git revision {data['provenance']['git']}; evaluation took {data['provenance']['seconds']:.0f} s; "
             "checkpoint hashes in the JSON.", ""]
    write_json(out.with_suffix(".json"), data)
    write_text(out.with_suffix(".md"), "\n".join(text))
    pair_grid(results, figure, spec.teacher, spec.students, out.with_suffix(".png"), params.evaluation.group)


def quality_claim(rows: dict, a: str, b: str, metric: str = "frechet") -> bool:
    """Student a closer to the data than student b (lower mean Frechet distance)."""
    return better(rows[a], rows[b], next(m for m in QUALITY if m.key == metric))


def quality_report(figure: Figure, claim: str, winner: int, sentence: Callable[[dict], str]):
    """The write_report of a figure whose one claim is that student `winner` (0 or 1, in params.yaml's order)
    is closer to the data; sentence(data) states the claim."""
    def claims(rows: dict, extra: dict, students: list[str]) -> dict:
        return {claim: quality_claim(rows, students[winner], students[1 - winner])}

    def markdown(data: dict) -> list[str]:
        held = data["claims"][claim]
        return [f"- {sentence(data)}: **{'held' if held else 'did NOT hold'}** here; in the paper: held (by eye)."]

    return lambda params, results, out: write_figure(figure, params, results, out, lambda *_: {}, claims, markdown)
