"""The registry of reports (configs/reports.yaml): which reports exist and what each is made from.

One list feeds the Snakefile's rules, dvc.yaml's report stage (through its `vars`) and params.yaml's check,
so adding a table edits one registry entry (besides its writer and its knobs).
"""

from __future__ import annotations

from phased_dmd.config import read_yaml
from phased_dmd.runs import config_dir

_REGISTRY = read_yaml(config_dir() / "reports.yaml")

EVALUATED: dict[str, dict] = _REGISTRY["evaluated"]  # name -> {shows: table | figure, video}
# name -> whether its teachers are video teachers (None: either)
TABLES: dict[str, bool | None] = {name: r["video"] for name, r in EVALUATED.items() if r["shows"] == "table"}
FIGURES: tuple[str, ...] = tuple(name for name, r in EVALUATED.items() if r["shows"] == "figure")
RUNS: tuple[str, ...] = tuple(_REGISTRY["runs"])  # reports made from runs of their own


def writer(name: str) -> str:
    """The module that writes reports/<name>.{md,json,png}."""
    return f"phased_dmd.reports.{name}"
