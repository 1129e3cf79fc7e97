"""Typed configuration: dataclass schemas validated with OmegaConf, errors as one line.

The same schemas serve params.yaml (read by snakemake and DVC) and the run configs that Hydra
composes from configs/. Types, unknown keys and missing keys are checked by OmegaConf against the
dataclass; ranges by each schema's `check()`, which yields (key, expectation, value) problems.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

T = TypeVar("T")
Problem = tuple[str, str, Any]  # (key relative to the schema, what was expected, what was found)


class ConfigError(ValueError):
    """A configuration value is missing, of the wrong type, or out of range. One line."""


def build(schema: type[T], data: Mapping | DictConfig, where: str) -> T:
    """Validate `data` against the dataclass `schema`; `where` names its source in errors ("params.yaml")."""
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), data)
        obj = OmegaConf.to_object(merged)
    except OmegaConfBaseException as e:
        reason = str(e.msg).splitlines()[0] if e.msg else type(e).__name__
        raise ConfigError(f"{where}: {e.full_key}: {reason}") from None
    for key, expected, value in problems(obj):
        raise ConfigError(f"{where}: {key}: expected {expected}, got {value!r}")
    return obj


def problems(obj: Any, prefix: str = "") -> Iterator[Problem]:
    """Range problems of the dataclasses nested in a dataclass instance, then its own (which may relate them)."""
    for f in dataclasses.fields(obj):
        child = getattr(obj, f.name)
        if dataclasses.is_dataclass(child):
            yield from problems(child, f"{prefix}{f.name}.")
        elif isinstance(child, dict):
            for key, item in child.items():
                if dataclasses.is_dataclass(item):
                    yield from problems(item, f"{prefix}{f.name}.{key}.")
    if hasattr(obj, "check"):
        for key, expected, value in obj.check():
            yield prefix + key, expected, value


def hydra_overrides(section: Mapping, prefix: str = "") -> list[str]:
    """Flatten a mapping into Hydra overrides: key.sub=value, lists as [a,b]."""
    out = []
    for key, value in section.items():
        if isinstance(value, Mapping):
            out += hydra_overrides(value, f"{prefix}{key}.")
        elif value is None:
            out.append(f"{prefix}{key}=null")
        elif isinstance(value, list):
            out.append(f"{prefix}{key}=[{','.join(map(str, value))}]")
        else:
            out.append(f"{prefix}{key}={value}")
    return out


def section_overrides(section: Any, exclude: tuple[str, ...]) -> list[str]:
    """Hydra overrides carrying a params.yaml section's knobs, less the keys that fan out into runs."""
    knobs = OmegaConf.to_container(OmegaConf.structured(section))
    return hydra_overrides({k: v for k, v in knobs.items() if k not in exclude})


def choice(key: str, value: str, allowed: tuple[str, ...]) -> Iterator[Problem]:
    if value not in allowed:
        yield key, f"one of {list(allowed)}", value


def positive(key: str, value: float) -> Iterator[Problem]:
    if not value > 0:
        yield key, "a number > 0", value


def open_unit(key: str, value: float) -> Iterator[Problem]:
    if not 0 < value < 1:
        yield key, "a number strictly between 0 and 1", value


def non_empty_unique(key: str, values: list) -> Iterator[Problem]:
    if not values or len(set(values)) != len(values):
        yield key, "a non-empty list without repeats", values


def choices(key: str, values: list, allowed: tuple[str, ...]) -> Iterator[Problem]:
    """A non-empty list without repeats whose every item is one of `allowed`."""
    yield from non_empty_unique(key, values)
    for i, value in enumerate(values):
        yield from choice(f"{key}[{i}]", value, allowed)
