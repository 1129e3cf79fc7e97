"""reports/table6.{md,json,png}: Wan2.2 text-to-video students with 2 and 4 phases (paper Table 6) at embedded
scale: motion, and Frechet distances to the base teacher's own samples (FID and FVD there; base = 0).

    python -m phased_dmd.reports.table6 --params params.yaml --results results --out reports/table6
"""

from __future__ import annotations

import sys
from pathlib import Path

from safetensors.torch import load_file

from phased_dmd.metrics.frechet import feature_frechet, video_features
from phased_dmd.reports.common import report_main
from phased_dmd.reports.fidelity import with_teacher_measures
from phased_dmd.reports.table3 import DYNAMIC, FLOW, scale_text
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

FID = Metric("fid", "lower", "Frechet distance of frame features to the base teacher's samples (FID's role)")
FVD = Metric("fvd", "lower", "Frechet distance of video features to the base teacher's samples (FVD's role)")
TABLE = Table(
    name="table6", number=6, title="Wan2.2 text-to-video students with 2 and 4 phases",
    metrics=(FLOW, DYNAMIC, FID, FVD, Metric("adherence", "higher", "prompt adherence"), *FIDELITY),
    # paper Table 6 (T2V): optical flow, dynamic degree, FID and FVD against the base model's samples
    paper={"base": {"wan2.2-t2v": {"flow": 10.26, "dynamic": 0.7955, "fid": 0.0, "fvd": 0.0}},
           "sgts": {"wan2.2-t2v": {"flow": 3.23, "dynamic": 0.6545, "fid": 55.70, "fvd": 763.1}},
           "phased": {"wan2.2-t2v": {"flow": 9.30, "dynamic": 0.8227, "fid": 47.24, "fvd": 700.9}},
           "phased4": {"wan2.2-t2v": {"flow": 9.43, "dynamic": 0.8318, "fid": 45.40, "fvd": 578.2}}},
    paper_metrics="RAFT optical flow / VBench dynamic degree / FID (Inception) / FVD (I3D), FID and FVD against "
                  "the base model's samples")
CLAIMS = {"phased_keeps_more_motion_than_sgts":
          "Phased DMD (2 phases) keeps more motion than DMD with SGTS (primary measure: mean optical flow)",
          "four_phases_better_than_two":
          "4 phases better than 2 (primary measure: Frechet distance to the base teacher's samples; the paper's "
          "claim, at least as good, holds unless reversed)"}


def distances(mine: dict, theirs: dict) -> dict:
    """FID's and FVD's Frechet distances between two sets of features {"frames": (N, F, D), "motion": (N, F-1, 2),
    "video": (N, D') where the backend has video features}: of frame features (FID) and of video features (FVD;
    the embedded backend's: frame features averaged over frames, then the motion statistics)."""
    def videos(f: dict):
        return f["video"] if "video" in f else video_features(f["frames"], f["motion"])

    fid = feature_frechet(*(f["frames"].reshape(-1, f["frames"].shape[-1]) for f in (mine, theirs)))
    fvd = feature_frechet(videos(mine), videos(theirs))
    return {"fid": max(fid, 0.0), "fvd": max(fvd, 0.0)}


def per_seed(results: Path):
    """The evaluation's measurements of each seed, its fidelity to the base teacher (fidelity.py), and the two
    distances of its samples to the base teacher's samples of the same seed (same prompts and noise; held-out
    data: against the base's first seed)."""
    def features(teacher: str, source: str) -> dict:
        tensors = load_file(str(results / "evaluation" / teacher / source / "features.safetensors"))
        seeds = {name.split("/")[0] for name in tensors}
        return {s[len("seed"):]: {k.split("/")[1]: v.numpy() for k, v in tensors.items() if k.startswith(f"{s}/")}
                for s in seeds}

    def measure(raw: dict) -> dict:
        base = {t: features(t, "base") for t in raw["base"]}
        measured = with_teacher_measures(results, raw)
        for source, per_teacher in raw.items():
            for t, m in per_teacher.items():
                mine = features(t, source)
                for row, seed in zip(measured[source][t], m["seeds"]):
                    row.update(distances(mine[seed], base[t].get(seed, base[t][min(base[t])])))
        return measured

    return measure


def claims(measured: dict, teachers: list[str]) -> dict:
    out = {}
    if {"phased", "sgts"} <= set(measured):
        out["phased_keeps_more_motion_than_sgts"] = paired_claim(measured, teachers, "phased", "sgts", (FLOW, DYNAMIC),
                                                                 TABLE)
    if {"phased", "phased4"} <= set(measured):
        out["four_phases_better_than_two"] = paired_claim(measured, teachers, "phased4", "phased",
                                                          (FRECHET_TEACHER, FLOW, DYNAMIC, FID, FVD), TABLE)
    return out


def markdown(data: dict) -> str:
    lines = [f"# Table 6 at embedded scale: {TABLE.title}", "",
             scale_text(data) + " FID and FVD's roles: the Frechet distance to the base teacher's samples of the "
             f"same seed (same prompts and noise), of {data['backend']['fid']} (for FID) and of "
             f"{data['backend']['fvd']} (for FVD). Regenerate: `snakemake reports/table6.md --cores 2`.", ""]
    lines += metric_sections(TABLE, data) + claim_lines(data["claim_details"], CLAIMS)
    lines += ["![the frames of one video of two prompts per method](table6.png)", "", provenance_line(data), ""]
    return "\n".join(lines)


def write_report(params, results: Path, out: Path) -> None:
    write_table(TABLE, params, results, out, per_seed(results), claims, markdown)


def main(argv: list[str] | None = None) -> int:
    return report_main("table6", __doc__, write_report, argv, section=None)


if __name__ == "__main__":
    sys.exit(main())
