"""reports/figure10.{md,json,png}: DMD with the re-noise t fixed at a low vs a high noise level (paper Fig. 10)
at embedded scale.

    python -m phased_dmd.reports.figure10 --params params.yaml --results results --out reports/figure10
"""

from __future__ import annotations

import sys
from pathlib import Path

from phased_dmd.reports.common import report_main
from phased_dmd.reports.figures import Figure, quality_claim, write_figure

FIGURE = Figure("figure10", 10, "DMD with the re-noise t fixed low vs high",
                ("t fixed low", "t fixed high"),
                paper="vanilla DMD on Wan2.1 T2I with t fixed at 0.357 fails to converge; at 0.882 it gives correct "
                      "results (qualitative).")


def claims(rows: dict, extra: dict, students: list[str]) -> dict:
    low, high = students
    return {"high_t_closer_to_data_than_low_t": quality_claim(rows, high, low)}


def markdown(data: dict) -> list[str]:
    low, high = (data["config"]["students"][s]["fixed_t"] for s in data["config"]["students"])
    held = data["claims"]["high_t_closer_to_data_than_low_t"]
    return [f"- DMD re-noising at t = {high} closer to the data than at t = {low} (lower Frechet distance): "
            f"**{'held' if held else 'did NOT hold'}** here; in the paper (0.882 vs 0.357): held (by eye)."]


def write_report(params, results: Path, out: Path) -> None:
    write_figure(FIGURE, params, results, out, lambda *_: {}, claims, markdown)


def main(argv: list[str] | None = None) -> int:
    return report_main("figure10", __doc__, write_report, argv, section=None)


if __name__ == "__main__":
    sys.exit(main())
