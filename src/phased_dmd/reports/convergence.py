"""reports/convergence.{md,json,png}: are the students trained long enough? For DMD, SGTS and Phased DMD on
an image and a video teacher: the Frechet distance to the base teacher's samples, recall of them and adherence
against the generator updates per phase (a doubling series), each distance also as a multiple of the teacher's
floor (two independent sets of its own samples), and whether the last doubling still changed the distance.

    python -m phased_dmd.reports.convergence --params params.yaml --results results --out reports/convergence
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from phased_dmd.io import save_figure, write_json, write_text  # noqa: E402
from phased_dmd.reports.common import fmt, git_revision, report_main  # noqa: E402
from phased_dmd.reports.fidelity import with_teacher_measures  # noqa: E402
from phased_dmd.reports.table2 import CLAIMS, DIVERSITY, PAIRS  # noqa: E402
from phased_dmd.reports.tables import FRECHET_TEACHER, RECALL_TEACHER, Metric, cells, load_measurements  # noqa: E402
from phased_dmd.stats import paired, summary  # noqa: E402

METRICS = (FRECHET_TEACHER, RECALL_TEACHER, Metric("adherence", "higher", "prompt adherence"))
CONVERGED = 0.10  # converged: the last doubling of updates changed the distance to the teacher by less than this
NEAR_FLOOR = 3.0  # the target for the 4-step students: within this multiple of the teacher's floor
RULE = (f"a student counts as converged when the last doubling of generator updates changed its mean Frechet "
        f"distance to the teacher's samples by less than {CONVERGED:.0%}; the updates a method needs are the "
        f"fewest after which the next doubling changes it by less than that; the 4-step students (SGTS, Phased) "
        f"aim at {NEAR_FLOOR:g}x the teacher's floor or less")


def curves(params, spec) -> dict[str, dict[str, list[tuple[int, str]]]]:
    """{teacher: {method: [(generator updates per phase, student)], fewest updates first}} of the report's
    students, from their merged settings (students.methods, per_teacher, distill)."""
    out: dict[str, dict[str, list[tuple[int, str]]]] = {}
    for t in spec.teachers:
        for s in spec.students_of(t):
            cfg = params.students.settings(s, t)
            out.setdefault(t, {}).setdefault(cfg.method, []).append((cfg.iterations, s))
    return {t: {m: sorted(points) for m, points in per.items()} for t, per in out.items()}


def relative_change(before: list[dict], after: list[dict]) -> dict:
    """The change of the mean distance to the teacher from one point of a curve to the next, as a share of the
    first mean: the paired difference after - before over the seeds (mean and 95% interval) over the mean before
    (the rule's words; a mean of per-seed ratios would let one seed with a small distance dominate)."""
    key = FRECHET_TEACHER.key
    change = summary([a[key] - b[key] for b, a in zip(before, after)])
    scale = summary([b[key] for b in before])["mean"]
    return {"mean": change["mean"] / scale, "ci95": [v / scale for v in change["ci95"]], "n": change["n"]}


def floor_multiple(rows: list[dict], floor: list[dict]) -> dict | None:
    """The distance to the teacher's samples as a multiple of the teacher's floor, seed by seed (None with one
    sampling seed: the base teacher is then compared with itself, and has no floor)."""
    key = FRECHET_TEACHER.key
    if any(f[key] == 0 for f in floor):
        return None
    return summary([r[key] / f[key] for r, f in zip(rows, floor)])


def enough_updates(points: list[tuple[int, str]], measured: dict) -> int | None:
    """The fewest updates after which the next doubling changes the mean distance by less than CONVERGED
    (None: every step of the curve still changed it)."""
    for (n, before), (_, after) in zip(points, points[1:]):
        if abs(relative_change(measured[before], measured[after])["mean"]) < CONVERGED:
            return n
    return None


def method_summary(points: list[tuple[int, str]], measured: dict, floor: list[dict]) -> dict:
    """One method's curve on one teacher: its cells per point, its last step (None for a curve of one point)
    and where it ends."""
    curve = [{"iterations": n, "student": s, **cells(measured[s], METRICS),
              "floor_multiple": floor_multiple(measured[s], floor)} for n, s in points]
    last = None
    if len(points) > 1:
        (n0, s0), (n1, s1) = points[-2], points[-1]
        change = relative_change(measured[s0], measured[s1])
        last = {"from": n0, "to": n1, "change": change, "converged": abs(change["mean"]) < CONVERGED}
    return {"curve": curve, "last_doubling": last, "enough": enough_updates(points, measured),
            "final_floor_multiple": curve[-1]["floor_multiple"]}


def claims_by_length(per_method: dict[str, list[tuple[int, str]]], measured: dict) -> dict:
    """Table 2's paired claims between these methods, on its primary measure, at every number of updates that
    all of them were trained to: {claim: {updates: paired difference and verdict}}. Whether a verdict depends
    on how long the students trained (the claims themselves are judged in Table 2, at the recipe)."""
    student = {m: dict(points) for m, points in per_method.items()}
    lengths = sorted(set.intersection(*(set(s) for s in student.values())))
    key, better = DIVERSITY[0].key, DIVERSITY[0].better
    return {name: {n: paired([r[key] for r in measured[student[a][n]]], [r[key] for r in measured[student[b][n]]],
                             better) for n in lengths}
            for name, (a, b) in PAIRS.items() if a in student and b in student}


def recipe(cfg) -> str:
    """The distillation recipe of a teacher's students (its shared settings) in words."""
    return (f"{cfg.iterations} generator updates per phase, batch {cfg.batch_size}, {cfg.ttur} fake updates per "
            f"generator update, AdamW lr {cfg.lr_generator:g} (generator) and {cfg.lr_fake:g} (fake), betas "
            f"({cfg.beta1:g}, {cfg.beta2:g}), EMA {cfg.ema or 'none'}")


def markdown(data: dict) -> str:
    cfg = data["config"]
    lines = ["# Convergence of the students at embedded scale", "",
             f"Scale: embedded (tiny teachers {', '.join(cfg['teachers'])}; Fashion-MNIST 16x16). Each student "
             f"distilled with seeds {cfg['seeds']} at each number of generator updates per phase, sampled with the "
             f"same prompts and noise ({cfg['per_prompt']} samples per class prompt and seed) and measured against "
             "the base teacher's own samples of the next seed (fidelity.py). Cells: mean [95% t-interval] over the "
             f"seeds. The rule, stated before the runs: {RULE}. The paper trains for hundreds to thousands of "
             "updates at 14B; nothing of that transfers to the number needed here, which this report measures. "
             "Regenerate: `snakemake reports/convergence.md --cores 2`.", ""]
    for t, per_method in data["teachers"].items():
        floor = data["floor"][t]
        lines += [f"## {t}", "", f"The teacher's floor (two sets of its own samples): {fmt(floor)}.", "",
                  "| method | updates per phase | Frechet to the teacher | x floor | recall of the teacher | "
                  "adherence |", "|---|---|---|---|---|---|"]
        for method, found in per_method.items():
            lines += [f"| {method} | {p['iterations']} | {fmt(p['frechet_teacher'])} | "
                      f"{fmt(p['floor_multiple']) if p['floor_multiple'] else '-'} | {fmt(p['recall_teacher'])} | "
                      f"{fmt(p['adherence'])} |" for p in found["curve"]]
        lines.append("")
        for method, found in per_method.items():
            last, multiple = found["last_doubling"], found["final_floor_multiple"]
            if multiple is None:
                ends = "no floor to compare with (one seed)"
            else:
                ends = f"ends at {multiple['mean']:.2f}x the floor" + ("" if method == "dmd" else (
                    f"; {'within' if multiple['mean'] <= NEAR_FLOOR else 'beyond'} the {NEAR_FLOOR:g}x target"))
            if last is None:
                step = "one point only: convergence not measured"
            else:
                lo, hi = last["change"]["ci95"]
                step = (f"{last['from']} -> {last['to']} updates changed the distance by {last['change']['mean']:+.1%} "
                        f"[{lo:+.1%}, {hi:+.1%}]: {'converged' if last['converged'] else 'not converged'}; "
                        f"enough: {found['enough'] or 'not reached'}")
            lines.append(f"- {method}: {step}; {ends}.")
        lines.append("")
        by_length = data["claims_by_length"][t]
        if by_length:
            lengths = list(next(iter(by_length.values())))
            lines += [f"Table 2's claims on this teacher at each number of updates (paired difference of "
                      f"{DIVERSITY[0].key} over the seeds, 95% interval; the claims are judged in Table 2 at the "
                      "recipe):", "", "| claim | " + " | ".join(f"{n} updates" for n in lengths) + " |",
                      "|---|" + "---|" * len(lengths)]
            for name, per_n in by_length.items():
                lines.append(f"| {CLAIMS[name]} | " + " | ".join(
                    f"{d['verdict']} {d['mean']:+.3f} [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}]"
                    for d in per_n.values()) + " |")
            lines.append("")
    lines += ["The recipe every other report uses (params.yaml students.distill and per_teacher): "
              + "; ".join(f"{t}: {r}" for t, r in cfg["recipe"].items()) + ".", "",
              "![distance to the teacher's samples against generator updates](convergence.png)", "",
              f"Git revision {data['provenance']['git']}; evaluation took {data['provenance']['seconds']:.0f} s.", ""]
    return "\n".join(lines)


def picture(data: dict, out: Path) -> None:
    """Per teacher: the distance to its samples against updates (log-log), per method, with the floor dotted
    and the target dashed."""
    teachers = data["teachers"]
    fig, axes = plt.subplots(1, len(teachers), figsize=(4.5 * len(teachers), 3.5), dpi=90, squeeze=False)
    for ax, (t, per_method) in zip(axes[0], teachers.items()):
        for method, found in per_method.items():
            n = [p["iterations"] for p in found["curve"]]
            mean = [p["frechet_teacher"]["mean"] for p in found["curve"]]
            err = [[m - p["frechet_teacher"]["ci95"][0] for m, p in zip(mean, found["curve"])],
                   [p["frechet_teacher"]["ci95"][1] - m for m, p in zip(mean, found["curve"])]]
            ax.errorbar(n, mean, yerr=err, fmt="o-", ms=4, capsize=2, label=method)
        floor = data["floor"][t]["mean"]
        ax.axhline(floor, color="k", ls=":", lw=0.8, label="teacher's floor")
        ax.axhline(NEAR_FLOOR * floor, color="k", ls="--", lw=0.8, label=f"{NEAR_FLOOR:g}x floor")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("generator updates per phase")
        ax.set_ylabel("Frechet distance to the teacher's samples")
        ax.set_title(t, fontsize=10)
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, out)


def write_report(params, results: Path, out: Path) -> None:
    spec = params.evaluation.convergence
    seeds = params.report_seeds("convergence")
    raw = load_measurements(results, spec, seeds, params.teachers.scale)
    measured = with_teacher_measures(results, raw)
    per_teacher = curves(params, spec)
    teachers = {t: {m: method_summary(points, {s: measured[s][t] for _, s in points}, measured["base"][t])
                    for m, points in per.items()} for t, per in per_teacher.items()}
    data = {"teachers": teachers,
            "claims_by_length": {t: claims_by_length(per, {s: measured[s][t] for s in spec.students_of(t)})
                                 for t, per in per_teacher.items()},
            "floor": {t: cells(measured["base"][t], (FRECHET_TEACHER,))["frechet_teacher"] for t in spec.teachers},
            "rule": RULE,
            "config": {"teachers": spec.teachers, "students": {t: spec.students_of(t) for t in spec.teachers},
                       "seeds": seeds,
                       "per_prompt": params.evaluation.per_prompt,
                       "recipe": {t: recipe(params.students.settings(None, t)) for t in spec.teachers}},
            "provenance": {"git": git_revision(),
                           "seconds": sum(r["seconds"] for v in raw.values() for r in v.values())}}
    write_json(out.with_suffix(".json"), data)
    write_text(out.with_suffix(".md"), markdown(data))
    picture(data, out.with_suffix(".png"))


def main(argv: list[str] | None = None) -> int:
    return report_main("convergence", __doc__, write_report, argv, section=None)


if __name__ == "__main__":
    sys.exit(main())
