"""Command-line entry of one run: Hydra composes configs/<name>.yaml with the overrides it is given,
the result is validated against the run's dataclass schema and written beside the run's outputs."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from omegaconf import DictConfig, OmegaConf

from phased_dmd.config import ConfigError, build, fill_missing, read_yaml
from phased_dmd.io import write_text

T = TypeVar("T")
PACKAGE_CONFIGS = Path(__file__).resolve().parents[2] / "configs"  # the repository's configs/ (editable install)


def config_dir() -> Path:
    """configs/ of the working directory (the workflow runs from the repository root), else the package's."""
    here = Path("configs")
    return here.resolve() if here.is_dir() else PACKAGE_CONFIGS


Knobs = Callable[[DictConfig], dict]  # the composed run config -> its experiment knobs (from params.yaml)


def compose_run_config(name: str, schema: type[T], overrides: list[str], knobs: Knobs | None = None) -> T:
    """configs/<name>.yaml (whose defaults list names `<name>_schema`) plus overrides, validated. `knobs` gives
    the experiment knobs of the run (from the params.yaml named by its `params` key, see `params_section`): they fill
    what the overrides leave unset (so params.yaml is their one source, and a command line may still change one)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.config_store import ConfigStore
    from hydra.errors import HydraException

    ConfigStore.instance().store(name=f"{name}_schema", node=schema)
    try:
        with initialize_config_dir(config_dir=str(config_dir()), version_base="1.3"):
            composed = compose(config_name=name, overrides=overrides)
    except HydraException as e:
        raise ConfigError(f"configs/{name}.yaml with overrides: {str(e).splitlines()[0]}") from None
    if knobs is not None:
        fill_missing(composed, knobs(composed))
    return build(schema, composed, f"{name} run config")


@functools.lru_cache(maxsize=16)
def params_section(path: str, key: str, schema: type[T]) -> T:
    """One section of the params.yaml at `path`, validated by its schema (once per process); the workflow has
    validated the whole file, and how sections relate, before any job started."""
    data = read_yaml(path)
    if not isinstance(data, dict) or key not in data:
        raise ConfigError(f"{path}: expected a section `{key}`")
    return build(schema, data[key], f"{path}: {key}")


def run_main(name: str, schema: type[T], run: Callable[[T], None], doc: str, argv: list[str] | None = None,
             knobs: Knobs | None = None) -> int:
    """`python -m ... key=value ...`: compose, validate, write out_dir/config.yaml, run."""
    argv = sys.argv[1:] if argv is None else argv
    if any(a in ("-h", "--help") for a in argv):
        print(doc)
        return 0
    try:
        cfg = compose_run_config(name, schema, argv, knobs)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "config.yaml", OmegaConf.to_yaml(OmegaConf.structured(cfg)))
    try:
        run(cfg)
    except (FileNotFoundError, ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
