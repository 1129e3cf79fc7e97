"""reports/figure2.{md,json,png}: the three Fig. 2 objectives against the exact field, over seeds.

    python -m phased_dmd.reports.figure2 --params params.yaml --results results/figure2 --out reports/figure2
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from phased_dmd.io import (  # noqa: E402
    save_figure,  # noqa: E402
    write_json,
    write_text,
)
from phased_dmd.reports.common import fmt, git_revision, report_main  # noqa: E402
from phased_dmd.runs import compose_run_config  # noqa: E402
from phased_dmd.stats import summary  # noqa: E402
from phased_dmd.toy.figure2 import evaluate  # noqa: E402
from phased_dmd.toy.figure2_config import Figure2RunConfig, section_knobs  # noqa: E402

METRICS = {"velocity_mse": "velocity MSE on t in (s, 1)", "w1": "W1 to p_s at t = s"}
PANEL_TITLES = {"full": "(a) full interval, from x_0", "subinterval": "(b) subinterval, Eq. 13",
                "naive": "(c) subinterval, naive target"}
# The paper's thresholds for "reproduced" (issue 2): subinterval within 1.25x of full; naive >= 3x worse.
SUBINTERVAL_MAX_RATIO, NAIVE_MIN_RATIO = 1.25, 3.0


def collect(results: Path, objectives: list[str], seeds: list[int]) -> dict[str, list[dict]]:
    return {o: [json.loads((results / o / f"seed{s}" / "metrics.json").read_text()) for s in seeds]
            for o in objectives}


def claims(table: dict) -> dict[str, dict]:
    """Which of the paper's Fig. 2 claims held here, with the ratios of means behind each verdict."""
    out = {}
    if "full" not in table:
        return out
    full = {m: table["full"][m]["mean"] for m in METRICS}
    if "subinterval" in table:
        ratios = {m: table["subinterval"][m]["mean"] / full[m] for m in METRICS}
        out["subinterval_matches_full"] = {"held": all(r <= SUBINTERVAL_MAX_RATIO for r in ratios.values()),
                                           "ratios": ratios, "threshold": f"<= {SUBINTERVAL_MAX_RATIO}x"}
    if "naive" in table:
        ratios = {m: table["naive"][m]["mean"] / full[m] for m in METRICS}
        out["naive_is_biased"] = {"held": all(r >= NAIVE_MIN_RATIO for r in ratios.values()),
                                  "ratios": ratios, "threshold": f">= {NAIVE_MIN_RATIO}x"}
    return out


def markdown(data: dict, seeds: list[int], s: float) -> str:
    objectives = data["objectives"]
    full = objectives.get("full")
    lines = [
        "# Figure 2: score matching within a subinterval (1-D toy)",
        "",
        f"Scale: analytic (1-D Gaussian mixture, exact teacher). Seeds: {seeds} (n = {len(seeds)}); "
        "each cell is the mean over seeds with its 95% Student-t interval. Subinterval: "
        f"(s, 1) with s = {s}. Regenerate: `snakemake reports/figure2.md --cores 2`.",
        "",
        f"| objective | {METRICS['velocity_mse']} | ratio to full | {METRICS['w1']} | ratio to full |",
        "|---|---|---|---|---|",
    ]
    for name, row in objectives.items():
        ratios = [f"{row[m]['mean'] / full[m]['mean']:.2f}x" if full else "-" for m in METRICS]
        lines.append(f"| {PANEL_TITLES[name]} | {fmt(row['velocity_mse'])} | {ratios[0]} | "
                     f"{fmt(row['w1'])} | {ratios[1]} |")
    lines.append(f"| exact field (floor: sampling error of W1) | 0 | - | {data['exact_field']['w1']:.4f} | - |")
    lines += ["", "Paper (Fig. 2, qualitative): trajectories of (b) almost perfectly overlap those of (a); "
              "those of (c) are clearly biased.", ""]
    verdicts = {
        "subinterval_matches_full": f"Subinterval objective within {SUBINTERVAL_MAX_RATIO}x of full interval "
                                    "on both numbers",
        "naive_is_biased": f"Naive objective at least {NAIVE_MIN_RATIO}x worse than full interval on both numbers",
    }
    for key, claim in data["claims"].items():
        ratios = ", ".join(f"{METRICS[m].split(' ')[0]} {r:.2f}x" for m, r in claim["ratios"].items())
        lines.append(f"- {verdicts[key]}: **{'held' if claim['held'] else 'did NOT hold'}** here ({ratios}).")
    lines += ["", "![ODE trajectories from t = 1 to t = s over the exact density p_t](figure2.png)", "",
              "Grey dashed: the exact field's trajectories from the same starting noise.", "",
              "## Configuration", "", "```yaml", OmegaConf.to_yaml(data["config"]).rstrip(), "```", "",
              f"Git revision {data['provenance']['git']}; the runs took {data['provenance']['run_seconds']:.0f} s "
              "in all (summed over runs, one core each).", ""]
    return "\n".join(lines)


def plot(path: Path, params, results: Path, objectives: list[str], seed: int, exact: dict) -> None:
    mixture, s = params.mixture.build(), params.s
    ts = np.linspace(1.0, s, 120)
    sd = (mixture.stds[:, 0].max() ** 2 * (1 - s) ** 2 + s**2) ** 0.5
    half = max(3.0, float(mixture.means.abs().max() * (1 - s) + 3 * sd))
    xs = np.linspace(-half, half, 240)
    dens = np.stack([mixture.log_prob(torch.as_tensor(xs)[:, None], float(t)).exp().numpy() for t in ts], 1)
    fig, axes = plt.subplots(1, len(objectives), figsize=(4.2 * len(objectives), 3.6), sharey=True, dpi=90)
    for ax, name in zip(np.atleast_1d(axes), objectives):
        traj = json.loads((results / name / f"seed{seed}" / "trajectories.json").read_text())
        ax.imshow(dens, extent=(1.0, s, xs[0], xs[-1]), origin="lower", aspect="auto", cmap="Blues",
                  vmax=float(np.quantile(dens, 0.99)))
        for reference, learned in zip(exact["paths"], traj["paths"]):
            ax.plot(exact["levels"], reference, color="0.4", lw=0.8, ls="--")
            ax.plot(traj["levels"], learned, color="tab:red", lw=1.0)
        ax.set_xlim(1.0, s)
        ax.set_title(PANEL_TITLES[name], fontsize=10)
        ax.set_xlabel("t")
    np.atleast_1d(axes)[0].set_ylabel("x")
    fig.tight_layout()
    save_figure(fig, path)


def write_report(params, results: Path, out: Path) -> None:
    runs = collect(results, params.objectives, params.seeds)
    table = {o: {m: summary([r[m] for r in rs]) for m in METRICS} for o, rs in runs.items()}
    # the exact field through the same evaluation: its W1 is the measurement's sampling floor
    overrides = [f"objective={params.objectives[0]}", "seed=0", "out_dir=unused", "params=unused"]
    run_config = compose_run_config("figure2", Figure2RunConfig, overrides, lambda run: section_knobs(params))
    mixture = params.mixture.build()
    exact = evaluate(mixture.velocity, mixture, params.s, run_config.eval)
    data = {
        "objectives": table,
        "exact_field": {"w1": exact["w1"], "eval": OmegaConf.to_container(OmegaConf.structured(run_config.eval))},
        "claims": claims(table),
        "config": OmegaConf.to_container(OmegaConf.structured(params)),
        "provenance": {"git": git_revision(), "seeds": params.seeds,
                       "run_seconds": sum(r["seconds"] for rs in runs.values() for r in rs)},
    }
    plot(out.with_suffix(".png"), params, results, params.objectives, params.seeds[0], exact)
    write_json(out.with_suffix(".json"), data)
    write_text(out.with_suffix(".md"), markdown(data, params.seeds, params.s))


def main(argv: list[str] | None = None) -> int:
    return report_main("figure2", __doc__, write_report, argv)


if __name__ == "__main__":
    sys.exit(main())
