"""reports/claims.{md,json}: every claim of the paper (METHOD.md's C1-C9), the test that decides it here, our
verdict with its effect and interval, the paper's evidence, and what could change the verdict. Made from the
other reports' JSON, so it is as current as they are.

    python -m phased_dmd.reports.claims --results reports --out reports/claims
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from phased_dmd.io import write_json, write_text
from phased_dmd.reports.common import git_revision, report_main


@dataclass(frozen=True)
class Claim:
    id: str  # METHOD.md's number, with a suffix where the paper's claim has several parts
    statement: str
    report: str  # the report that decides it
    key: str  # its claim in that report's JSON
    paper: str  # the paper's evidence
    could_change: str  # what could change our verdict


CLAIMS = (
    Claim("C1", "The subinterval objective recovers the full-interval field; the naive one is biased", "figure2", "",
          "Fig. 2 (1-D toy, by eye)", "nothing at this scale: the teacher is exact; a different mixture or s could "
          "move the ratios, not the sign"),
    Claim("C2", "Phased DMD keeps more diversity than DMD with SGTS", "table2", "phased_more_diverse_than_sgts",
          "Table 2: DINOv3 cosine 0.782 vs 0.826 (Wan2.1), 0.768 vs 0.828 (Wan2.2); Qwen-Image reversed (0.958 vs "
          "0.941)", "more seeds, another teacher or the training length (convergence.md judges it on wan2.1 at 40 "
          "to 320 updates)"),
    Claim("C2-dmd", "Phased DMD keeps more diversity than one-step DMD", "table2", "phased_more_diverse_than_dmd",
          "Table 2: DINOv3 cosine 0.782 vs 0.825 (Wan2.1 only)", "longer distillation: one-step DMD's recall still "
          "rises with updates on wan2.1 and the gap shrinks (convergence.md judges it at 40 to 320 updates)"),
    Claim("C2-sgts", "DMD with SGTS keeps more diversity than one-step DMD (the paper: no, it falls to the one-step "
          "level)", "table2", "sgts_more_diverse_than_dmd", "Table 2: 0.826 vs 0.825 (Wan2.1): equal",
          "longer distillation: the gap shrinks as one-step DMD's recall rises with updates (convergence.md "
          "judges it on wan2.1 at 40 to 320 updates)"),
    Claim("C2-renoise", "Phased DMD keeps more diversity than DMD with SGTS that re-noises between its steps (the "
          "rule of DMD2 and Self-Forcing, which the paper's SGTS baseline cites; our `sgts` steps with Euler, as the "
          "authors' trainer)", "table2", "phased_more_diverse_than_sgts_renoise",
          "none: the paper does not say which rule its SGTS row uses", "longer distillation and more seeds"),
    Claim("C3", "Phased DMD keeps the motion that SGTS loses", "table3", "phased_keeps_more_motion_than_sgts",
          "Table 3: optical flow 7.57 vs 3.23 (T2V), 9.84 vs 7.87 (I2V)",
          "5-frame 16x16 clips move an item by at most 6 pixels: little motion to lose"),
    Claim("C4", "4 steps in 4 phases are at least as good as 2 phases (tested: better)", "table6",
          "four_phases_better_than_two", "Table 6: FID to the base 45.40 vs 47.24, FVD 578.2 vs 700.9",
          "undecided is consistent with 'at least as good' only within the smallest effect the run could see"),
    Claim("C5", "Reverse nested re-noise intervals beat disjoint ones", "figure9",
          "nested_closer_to_teacher_than_disjoint", "Fig. 9 (Wan2.2 T2V, by eye)",
          "the embedded figure uses Wan2.1's image teacher, where the phase-2 interval is shorter than at Wan2.2's "
          "boundary"),
    Claim("C6", "DMD needs high-noise re-noising: t fixed at 0.357 fails, at 0.882 works (mapped: 0.1 and 0.6)",
          "figure10", "high_t_closer_to_teacher_than_low_t", "Fig. 10 (Wan2.1 T2I, by eye)",
          "the time map (calibration.md): with the paper's raw times the verdict reverses at this resolution"),
    Claim("C8", "Phased DMD stays closer to the base model than SGTS (text-to-video)", "table4",
          "phased_closer_to_base_than_sgts", "Table 4: VBench dimensions closer to the base (text-to-video)",
          "longer distillation: on the image teacher SGTS's distance to the teacher still falls after 80 updates, "
          "Phased's does not (convergence.md); VBench's own networks are absent at this scale"),
    Claim("C8-i2v", "Phased DMD stays closer to the base model than SGTS (image-to-video)", "table5",
          "phased_closer_to_base_than_sgts", "Table 5: VBench dimensions closer to the base (image-to-video)",
          "VBench's own networks (aesthetic, imaging quality) are absent at this scale"),
    Claim("C9-composition", "The high-SNR phase keeps the composition set by the low-SNR phase", "figure5",
          "composition_kept", "Fig. 5 (by eye)", "a finer or coarser layout measure than 4x4 pooling"),
    Claim("C9-detail", "More high-SNR iterations improve detail", "figure5", "detail_improved", "Fig. 5 (by eye)",
          "phase 2 at 80 iterations may already be converged at this scale"),
    Claim("C7", "A phased generator update costs about the memory of a one-step update", "bench",
          "phased_peak_at_most_1.2x_dmd", "Sec. 4 (argument, no number)",
          "a larger network, where activations dominate the peak differently"),
)


def evaluated(data: dict, claim: Claim) -> dict[str, dict]:
    """{column: verdict, effect, measure} of a table's (per teacher) or a figure's (its one teacher) claim."""
    details = data["claim_details"][claim.key]
    if "verdict" in details:  # a figure: one teacher
        details = {data["config"]["teacher"]: details}
    return {column: {"verdict": c["verdict"], "effect": {k: c["effect"][k] for k in ("mean", "ci95", "n", "mde")},
                     "measure": c["measure"]} for column, c in details.items()}


def figure2(data: dict, claim: Claim) -> dict[str, dict]:
    """C1 from the 1-D toy: the naive objective's velocity error minus the subinterval one's (their intervals
    combined conservatively; the runs are not paired), held when both of figure2's thresholds hold."""
    naive, sub = (data["objectives"][k]["velocity_mse"] for k in ("naive", "subinterval"))
    held = all(c["held"] for c in data["claims"].values())
    effect = {"mean": naive["mean"] - sub["mean"], "ci95": [naive["ci95"][0] - sub["ci95"][1],
                                                            naive["ci95"][1] - sub["ci95"][0]],
              "n": naive["n"], "mde": None}
    return {"": {"verdict": "held" if held else "undecided", "effect": effect,
                 "measure": "velocity MSE to the exact field, naive minus subinterval (ratios: figure2.md)"}}


def bench(data: dict, claim: Claim) -> dict[str, dict]:
    """C7: Phased DMD's peak memory per generator update over one-step DMD's (one deterministic measurement)."""
    ratio = data["generator_update"]["phased_2"]["peak_ratio"]
    held = data["targets"][claim.key]["held"]
    return {"": {"verdict": "held" if held else "reversed", "effect": {"mean": ratio, "ci95": [ratio, ratio], "n": 1,
                                                                         "mde": None},
                 "measure": "peak memory of a Phased (2-phase) generator update / one-step DMD's (target <= 1.2)"}}


EXTRACT: dict[str, Callable[[dict, Claim], dict[str, dict]]] = {"figure2": figure2, "bench": bench}


def judged(data: dict, claim: Claim) -> bool:
    """Whether the report holds paired verdicts for the claim (a report written before them has none)."""
    if claim.report in EXTRACT:
        return True
    details = data.get("claim_details", {}).get(claim.key, {})
    return "verdict" in details or all("verdict" in c for c in details.values()) and bool(details)


def pending(reports: Path) -> dict:
    """{claim id: why it has no verdict}: its report was made before the claim's test (not regenerated since)."""
    out = {}
    for claim in CLAIMS:
        data = json.loads((reports / f"{claim.report}.json").read_text())
        if not judged(data, claim):
            out[claim.id] = {"statement": claim.statement, "report": f"reports/{claim.report}.md",
                             "revision": data.get("provenance", {}).get("git", "unknown"), "paper": claim.paper}
    return out


def collect(reports: Path) -> dict:
    """claims.json's claims: {"<id>[/<column>]": {statement, verdict, effect, measure, report, paper,
    could_change}} of every claim whose report holds paired verdicts."""
    out = {}
    for claim in CLAIMS:
        data = json.loads((reports / f"{claim.report}.json").read_text())
        if not judged(data, claim):
            continue
        for column, found in EXTRACT.get(claim.report, evaluated)(data, claim).items():
            out[f"{claim.id}/{column}" if column else claim.id] = {
                "statement": claim.statement, **found, "report": f"reports/{claim.report}.md", "paper": claim.paper,
                "could_change": claim.could_change}
    return out


def effect_text(effect: dict) -> str:
    lo, hi = effect["ci95"]
    text = f"{effect['mean']:+.4g} [{lo:+.4g}, {hi:+.4g}], n = {effect['n']}"
    return text + (f"; detectable: {effect['mde']:.3g}" if effect.get("mde") is not None else "")


def markdown(claims: dict, waiting: dict, git: str) -> str:
    counts = {v: sum(c["verdict"] == v for c in claims.values()) for v in ("held", "reversed", "undecided")}
    lines = ["# The paper's claims at embedded scale", "",
             "Each claim of the paper (METHOD.md numbers them), the report that tests it, our verdict and the "
             "effect behind it: the mean paired difference over distillation seeds (the same seed and sampling "
             "noise on both sides) in the claim's primary measure, with its 95% t-interval; **held** where the "
             "interval lies on the claim's side of 0, **reversed** on the other side, **undecided** otherwise, "
             "then with the smallest effect the run could have detected (80% power). The primary measures were "
             "chosen before the runs: closeness to and recall of the base teacher's own samples, optical flow for "
             "motion. Scale: embedded (tiny teachers, Fashion-MNIST 16x16); every number comes from the linked "
             f"report. Verdicts: {counts['held']} held, {counts['reversed']} reversed, {counts['undecided']} "
             "undecided. Regenerate: `snakemake reports/claims.md --cores 2`.", "",
             "| claim | statement | measure | verdict | effect [95% interval] | the paper | what could change it |",
             "|---|---|---|---|---|---|---|"]
    for key, c in claims.items():
        lines.append(f"| [{key}]({Path(c['report']).name}) | {c['statement']} | {c['measure']} | **{c['verdict']}** "
                     f"| {effect_text(c['effect'])} | {c['paper']} | {c['could_change']} |")
    if waiting:
        lines += ["", "Not judged at this revision: their reports were made before their tests were (the paired "
                  "verdicts, or the rows they compare) and have not been regenerated since.", "",
                  "| claim | statement | report (its revision) | the paper |", "|---|---|---|---|"]
        lines += [f"| {key} | {c['statement']} | [{c['report']}]({Path(c['report']).name}) ({c['revision']}) | "
                  f"{c['paper']} |" for key, c in waiting.items()]
    lines += ["", f"Git revision {git}.", ""]
    return "\n".join(lines)


def write_report(params, reports: Path, out: Path) -> None:
    claims, waiting = collect(reports), pending(reports)
    git = git_revision()
    write_json(out.with_suffix(".json"), {"claims": claims, "pending": waiting, "provenance": {"git": git}})
    write_text(out.with_suffix(".md"), markdown(claims, waiting, git))


def main(argv: list[str] | None = None) -> int:
    return report_main("claims", __doc__, write_report, argv, section=None)


if __name__ == "__main__":
    sys.exit(main())
