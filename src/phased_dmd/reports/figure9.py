"""reports/figure9.{md,json,png}: reverse nested vs disjoint re-noise intervals (paper Fig. 9) at embedded scale.

    python -m phased_dmd.reports.figure9 --params params.yaml --results results --out reports/figure9
"""

from __future__ import annotations

import sys
from pathlib import Path

from phased_dmd.reports.common import report_main
from phased_dmd.reports.figures import Figure, quality_claim, write_figure

FIGURE = Figure("figure9", 9, "reverse nested vs disjoint re-noise intervals",
                ("nested (s_p, 1)", "disjoint (s_p, s_p-1)"),
                paper="Phased DMD with disjoint intervals gives low-contrast tones and deteriorated structures "
                      "(Wan2.2 T2V); with reverse nested intervals, correct results (qualitative).")


def claims(rows: dict, extra: dict, students: list[str]) -> dict:
    nested, disjoint = students
    return {"nested_closer_to_data_than_disjoint": quality_claim(rows, nested, disjoint)}


def markdown(data: dict) -> list[str]:
    held = data["claims"]["nested_closer_to_data_than_disjoint"]
    return [f"- Reverse nested intervals closer to the data than disjoint ones (lower Frechet distance): "
            f"**{'held' if held else 'did NOT hold'}** here; in the paper: held (by eye)."]


def write_report(params, results: Path, out: Path) -> None:
    write_figure(FIGURE, params, results, out, lambda *_: {}, claims, markdown)


def main(argv: list[str] | None = None) -> int:
    return report_main("figure9", __doc__, write_report, argv, section=None)


if __name__ == "__main__":
    sys.exit(main())
