"""reports/figure9.{md,json,png}: reverse nested vs disjoint re-noise intervals (paper Fig. 9) at embedded scale.

    python -m phased_dmd.reports.figure9 --params params.yaml --results results --out reports/figure9
"""

from __future__ import annotations

import sys

from phased_dmd.reports.common import report_main
from phased_dmd.reports.figures import Figure, quality_report

FIGURE = Figure("figure9", 9, "reverse nested vs disjoint re-noise intervals",
                ("nested (s_p, 1)", "disjoint (s_p, s_p-1)"),
                paper="Phased DMD with disjoint intervals gives low-contrast tones and deteriorated structures "
                      "(Wan2.2 T2V); with reverse nested intervals, correct results (qualitative).")
write_report = quality_report(
    FIGURE, "nested_closer_to_teacher_than_disjoint", winner=0,
    sentence=lambda data: "Reverse nested intervals closer to the base teacher's samples than disjoint ones")


def main(argv: list[str] | None = None) -> int:
    return report_main("figure9", __doc__, write_report, argv, section=None)


if __name__ == "__main__":
    sys.exit(main())
