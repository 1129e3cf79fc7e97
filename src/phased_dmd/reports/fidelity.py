"""Fidelity to the base teacher: each source's samples measured against its base teacher's own samples (the
distribution a student was distilled to), beside the evaluation's distances to held-out data.

Per seed s, a source is compared with the base teacher's samples of the next seed (another sampling noise):
the base teacher against its own next seed is then the floor, the distance between two independent sets of
its samples that no student can beat. Measures: the Frechet distance of the evaluation's features and,
prompt by prompt, precision, recall, density and coverage (metrics.prdc) against the teacher's samples of
that prompt.
"""

from __future__ import annotations

from pathlib import Path

from safetensors.torch import load_file
from torch import Tensor

from phased_dmd.metrics.frechet import feature_frechet
from phased_dmd.metrics.prdc import neighbours, per_prompt_prdc

TEACHER_KEYS = ("frechet_teacher", "precision_teacher", "recall_teacher", "density_teacher", "coverage_teacher")


def seed_features(results: Path, teacher: str, source: str) -> tuple[dict[str, Tensor], Tensor]:
    """{seed: the evaluation's features averaged over frames (N, D)} and the samples' prompt ids (N,)."""
    folder = results / "evaluation" / teacher / source
    tensors = load_file(str(folder / "features.safetensors"))
    ids = load_file(str(folder / "samples.safetensors"))["prompt_ids"]
    return {k.split("/")[0][len("seed"):]: v.float().mean(dim=1) for k, v in tensors.items()
            if k.endswith("/frames")}, ids


def against_teacher(mine: Tensor, theirs: Tensor, ids: Tensor) -> dict[str, float]:
    """A set of samples against the teacher's samples of the same prompts (ids for both, in the same order)."""
    prdc = per_prompt_prdc(theirs, ids, mine, ids, neighbours(int(ids.bincount().max())))
    return {"frechet_teacher": max(feature_frechet(mine.numpy(), theirs.numpy()), 0.0),
            **{f"{name}_teacher": value for name, value in prdc.items()}}


def with_teacher_measures(results: Path, raw: dict) -> dict:
    """{source: {teacher: [per-seed metrics of the evaluation + TEACHER_KEYS]}} of raw {source: {teacher:
    metrics.json}}, which holds the base teacher of every teacher (a student only of the teachers that show it)."""
    out = {}
    for t in raw["base"]:
        base, ids = seed_features(results, t, "base")
        order = [s for s in base if s in raw["base"][t]["seeds"]]  # the report's seeds
        for source, per_teacher in raw.items():
            if t not in per_teacher:
                continue
            mine, _ = seed_features(results, t, source)
            rows = []
            for seed, metrics in per_teacher[t]["seeds"].items():
                other = order[(order.index(seed) + 1) % len(order)] if seed in order else order[0]
                rows.append({**metrics, **against_teacher(mine[seed], base[other], ids)})
            out.setdefault(source, {})[t] = rows
    return out
