"""The shipped params.yaml, for tests that need complete settings: no schema holds a default of its own."""

import dataclasses
from pathlib import Path

from phased_dmd.jobs.params import load_params
from phased_dmd.method.distill_config import DistillConfig

ROOT = Path(__file__).resolve().parents[1]
PARAMS = load_params(ROOT / "params.yaml")


def distill(**knobs) -> DistillConfig:
    """The students' shared distill settings (params.yaml students.distill) with `knobs` over them."""
    return dataclasses.replace(PARAMS.students.settings(None, "wan2.1"), **knobs)


def run_config(name: str, schema: type, **values):
    """configs/<name>.yaml's run settings with `values` over them, validated as a run's config is."""
    from omegaconf import OmegaConf

    from phased_dmd.config import build

    settings = OmegaConf.load(ROOT / "configs" / f"{name}.yaml")
    settings.pop("defaults")
    return build(schema, OmegaConf.merge(settings, values), f"configs/{name}.yaml")
