"""reports/table5.{md,json,png}: VBench quality of Wan2.2 image-to-video students (paper Table 5) at embedded scale.

    python -m phased_dmd.reports.table5 --params params.yaml --results results --out reports/table5
"""

from __future__ import annotations

import sys
from functools import partial

from phased_dmd.reports.common import report_main
from phased_dmd.reports.quality_tables import quality_table, write_quality_table

# paper Table 5 (base model Wan2.2-I2V-A14B, 220 prompts): subject consistency, temporal flickering, motion smoothness
TABLE = quality_table(5, "image-to-video", "wan2.2-i2v",
                      {"base": (0.9039, 0.9552, 0.9774), "sgts": (0.9184, 0.9573, 0.9785),
                       "phased": (0.9140, 0.9517, 0.9766)})


def main(argv: list[str] | None = None) -> int:
    return report_main("table5", __doc__, partial(write_quality_table, TABLE), argv, section=None)


if __name__ == "__main__":
    sys.exit(main())
