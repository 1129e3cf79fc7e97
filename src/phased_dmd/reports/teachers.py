"""reports/teachers.{md,json}: the embedded teachers, their cost, and whether their samples show the prompt.

    python -m phased_dmd.reports.teachers --params params.yaml --results results --out reports/teachers
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from phased_dmd.io import write_json, write_text
from phased_dmd.kinds import KINDS
from phased_dmd.reports.common import git_revision, report_main

EVERY_CLASS = 0.5  # a class counts as recognisable when the classifier names it in at least half its samples


def row(kind: str, results: Path) -> dict:
    folder = results / "teachers" / kind
    training = json.loads((folder / "training.json").read_text())
    rec = json.loads((folder / "recognition" / "recognition.json").read_text())
    weakest = min(rec["per_class"], key=rec["per_class"].get)
    return {"kind": kind, "paper_model": KINDS[kind].paper_model, "experts": KINDS[kind].num_experts,
            "task": KINDS[kind].task, "parameters": training["parameters"], "train_seconds": training["seconds"],
            "iterations": training["iterations"], "batch_size": training["batch_size"],
            "recognised": rec["accuracy"], "per_class": rec["per_class"], "samples": rec["samples"],
            "real_recognised": rec["real"]["accuracy"], "real_per_class": rec["real"]["per_class"],
            "weakest_class": weakest, "every_class_recognisable": min(rec["per_class"].values()) >= EVERY_CLASS,
            "sampler": f"{rec['steps']} Euler steps, CFG {rec['cfg_scale']}"}


def markdown(data: dict) -> str:
    clf = data["classifier"]["held_out_accuracy"]
    lines = [
        "# Embedded teachers: cost and prompt adherence",
        "",
        "Scale: embedded (Fashion-MNIST, 16x16; videos: 5 frames of a 10x10 item moving on the 16x16 canvas). "
        "Each teacher is trained once (seed 0) on one core. Recognised: share of samples (20 per class prompt, "
        "40 Euler steps with standard CFG 4) whose prompted class the embedded feature network names (videos: "
        "its probabilities averaged over frames); real data: the same for the held-out items the samples were "
        "conditioned on (videos: rendered as moving clips the same way). The feature network is a small CNN "
        f"the pipeline trains on Fashion-MNIST: held-out accuracy {clf['images']:.1%} on real test images and "
        f"{clf['moving_frames']:.1%} on single frames of moving test items. The paper has no such table; its "
        "teachers are the hub models named here. Regenerate: `snakemake reports/teachers.md --cores 2`.",
        "",
        "| teacher | stands in for | experts | parameters | training | recognised | real data | weakest class "
        "(real) | grid |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in data["rows"].values():
        lines.append(
            f"| {r['kind']} ({r['task']}) | {r['paper_model']} | {r['experts']} | {r['parameters']:,} | "
            f"{r['train_seconds']:.0f} s ({r['iterations']} it, batch {r['batch_size']}) | {r['recognised']:.1%} | "
            f"{r['real_recognised']:.1%} | {r['weakest_class']} {r['per_class'][r['weakest_class']]:.0%} "
            f"({r['real_per_class'][r['weakest_class']]:.0%}) | "
            f"[png](teacher_{r['kind']}.png) |")
    lines.append("")
    for r in data["rows"].values():
        verdict = "held" if r["every_class_recognisable"] else "did NOT hold"
        lines.append(f"- {r['kind']}: every class recognised in at least {EVERY_CLASS:.0%} of its samples: "
                     f"**{verdict}**.")
    lines += ["", f"Git revision {data['provenance']['git']}.", ""]
    return "\n".join(lines)


def write_report(params, results: Path, out: Path) -> None:
    data = {"rows": {kind: row(kind, results) for kind in params.names},
            "classifier": json.loads((results / "classifier" / "metrics.json").read_text()),
            "threshold_every_class": EVERY_CLASS, "provenance": {"git": git_revision()}}
    write_json(out.with_suffix(".json"), data)
    write_text(out.with_suffix(".md"), markdown(data))


def main(argv: list[str] | None = None) -> int:
    return report_main("teachers", __doc__, write_report, argv)


if __name__ == "__main__":
    sys.exit(main())
