"""reports/figure5.{md,json,png}: the same low-SNR expert (phase 1) with a high-SNR expert (phase 2) trained for
fewer vs more iterations (paper Fig. 5) at embedded scale: composition kept, detail improved?

    python -m phased_dmd.reports.figure5 --params params.yaml --results results --out reports/figure5
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from phased_dmd.reports.common import fmt, report_main
from phased_dmd.reports.figures import Figure, closer_to_teacher, images, samples, write_figure
from phased_dmd.reports.tables import generator_md5, verdict_text
from phased_dmd.stats import paired, summary

FIGURE = Figure("figure5", 5, "the high-SNR expert after fewer vs more iterations",
                ("fewer phase-2 iterations", "more phase-2 iterations"),
                paper="the same low-SNR expert with the high-SNR expert at 100 vs 400 iterations: composition and "
                      "identity unchanged, lighting, texture and detail improved (qualitative).")
POOL = 4  # composition: the images average-pooled to 4x4 pixels


def coarse(x: np.ndarray) -> np.ndarray:
    """Images (N, H, W) -> their coarse layout (N, H/POOL * W/POOL), each row centred."""
    n, h, w = x.shape
    c = x.reshape(n, h // POOL, POOL, w // POOL, POOL).mean(axis=(2, 4)).reshape(n, -1)
    return c - c.mean(axis=1, keepdims=True)


def correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of paired rows."""
    return (a * b).sum(axis=1) / np.sqrt((a ** 2).sum(axis=1) * (b ** 2).sum(axis=1) + 1e-12)


def composition(results: Path, teacher: str, students: list[str], seeds: list[int]) -> dict:
    """Per seed: the correlation of the coarse layouts of the two students' samples from the same noise, and,
    as the level of chance, of the same samples paired with another noise of the same prompt; whether the two
    students' phase-1 generators are byte-identical."""
    a, b = (samples(results, teacher, s) for s in students)
    ids = a["prompt_ids"].numpy()
    order = np.concatenate([np.flatnonzero(ids == p) for p in np.unique(ids)])
    other = np.concatenate([np.roll(np.flatnonzero(ids == p), 1) for p in np.unique(ids)])  # same prompt
    same_noise, shuffled = [], []
    for seed in seeds:
        xa, xb = (coarse(images(t[f"seed{seed}"])) for t in (a, b))
        same_noise.append(float(correlation(xa, xb).mean()))
        shuffled.append(float(correlation(xa[order], xb[other]).mean()))
    phase1 = [generator_md5(results, teacher, s, seeds, phase=1) for s in students]
    same = sorted(phase1[0].values()) == sorted(phase1[1].values()) and len(phase1[0]) > 0
    return {"same_noise": {**summary(same_noise), "values": same_noise},
            "other_noise": {**summary(shuffled), "values": shuffled}, "same_phase1": same, "phase1_md5": phase1}


def claims(data: dict, extra: dict, students: list[str]) -> dict:
    """Composition kept: the same-noise correlation above the other-noise one (paired over seeds); detail
    improved: more phase-2 iterations closer to the base teacher's samples."""
    kept = paired(extra["same_noise"]["values"], extra["other_noise"]["values"], "higher")
    return {"composition_kept": {"verdict": kept["verdict"], "measure": "coarse-layout correlation, same noise "
                                 "minus another noise", "effect": kept},
            "detail_improved": closer_to_teacher(data, winner=1)}


def markdown(data: dict) -> list[str]:
    e, c = data["extra"], data["claim_details"]
    iterations = {s: {p: v.get("iterations") for p, v in spec.get("phases", {}).items()} for s, spec in
                  data["config"]["students"].items()}
    return [f"Phase-2 iterations per student (unset: {data['config']['distill']['iterations']}): {iterations}. "
            f"Phase 1 (the low-SNR expert) byte-identical in both students for every seed: "
            f"**{'yes' if e['same_phase1'] else 'NO'}** (md5 in the JSON).", "",
            f"- Composition kept: the coarse layouts (4x4 pooled) of the two students' samples from the same noise "
            f"correlate by {fmt(e['same_noise'])}, against {fmt(e['other_noise'])} for another noise of the same "
            f"prompt: {verdict_text(c['composition_kept']['effect'])}; in the paper: held (by eye).",
            f"- Detail improved: more phase-2 iterations closer to the base teacher's samples, on "
            f"{c['detail_improved']['measure']}: {verdict_text(c['detail_improved']['effect'])}; in the paper: held "
            "(by eye)."]


def write_report(params, results: Path, out: Path) -> None:
    write_figure(FIGURE, params, results, out, composition, claims, markdown)


def main(argv: list[str] | None = None) -> int:
    return report_main("figure5", __doc__, write_report, argv, section=None)


if __name__ == "__main__":
    sys.exit(main())
