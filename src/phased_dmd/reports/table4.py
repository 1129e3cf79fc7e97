"""reports/table4.{md,json,png}: VBench quality of Wan2.2 text-to-video students (paper Table 4) at embedded scale.

    python -m phased_dmd.reports.table4 --params params.yaml --results results --out reports/table4
"""

from __future__ import annotations

import sys
from functools import partial

from phased_dmd.reports.common import report_main
from phased_dmd.reports.quality_tables import quality_table, write_quality_table

# paper Table 4 (base model Wan2.2-T2V-A14B, 220 prompts): subject consistency, temporal flickering, motion smoothness
TABLE = quality_table(4, "text-to-video", "wan2.2-t2v",
                      {"base": (0.9006, 0.9570, 0.9767), "sgts": (0.9293, 0.9708, 0.9857),
                       "phased": (0.9115, 0.9526, 0.9774)})


def main(argv: list[str] | None = None) -> int:
    return report_main("table4", __doc__, partial(write_quality_table, TABLE), argv, section=None)


if __name__ == "__main__":
    sys.exit(main())
