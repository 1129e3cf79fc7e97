"""reports/figure10.{md,json,png}: DMD with the re-noise t fixed at a low vs a high noise level (paper Fig. 10)
at embedded scale.

    python -m phased_dmd.reports.figure10 --params params.yaml --results results --out reports/figure10
"""

from __future__ import annotations

import sys

from phased_dmd.reports.common import report_main
from phased_dmd.reports.figures import Figure, quality_report

from phased_dmd.kinds import PAPER_SHIFT, paper_time

FIGURE = Figure("figure10", 10, "DMD with the re-noise t fixed low vs high",
                ("t fixed low", "t fixed high"),
                paper="vanilla DMD on Wan2.1 T2I with t fixed at 0.357 fails to converge; at 0.882 it gives correct "
                      "results (qualitative). Those are shift-5 times of Wan's 720p latents: 0.357 and 0.882 are "
                      "u = 0.1 and 0.6 unshifted, the same signal-to-noise ratios as t = 0.1 and 0.6 at the embedded "
                      "scale's 16x16 with shift 1 (reports/calibration.md).")


def sentence(data: dict) -> str:
    low, high = (spec["fixed_t"] for spec in data["config"]["students"].values())
    return (f"DMD re-noising at t = {high} (the paper's {paper_time(high, PAPER_SHIFT):.3f}) closer to the base "
            f"teacher's samples than at t = {low} (the paper's {paper_time(low, PAPER_SHIFT):.3f})")


write_report = quality_report(FIGURE, "high_t_closer_to_teacher_than_low_t", winner=1, sentence=sentence)


def main(argv: list[str] | None = None) -> int:
    return report_main("figure10", __doc__, write_report, argv, section=None)


if __name__ == "__main__":
    sys.exit(main())
