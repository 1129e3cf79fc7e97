"""Typed configuration: dataclass schemas validated with OmegaConf, errors as one line.

The same schemas serve params.yaml (read by snakemake and DVC) and the run configs that Hydra
composes from configs/. Types, unknown keys and missing keys are checked by OmegaConf against the
dataclass; ranges by each schema's `check()`, which yields (key, expectation, value) problems.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

T = TypeVar("T")
Problem = tuple[str, str | None, Any]  # (key relative to the schema, what was expected, what was found);
# expected None: the third item is the reason itself (a value of the wrong type, an unknown key)


class ConfigError(ValueError):
    """A configuration value is missing, of the wrong type, or out of range. One line."""


def build(schema: type[T], data: Mapping | DictConfig, where: str) -> T:
    """Validate `data` against the dataclass `schema`; `where` names its source in errors ("params.yaml")."""
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), data)
        obj = OmegaConf.to_object(merged)
    except OmegaConfBaseException as e:
        raise ConfigError(f"{where}: {e.full_key}: {_reason(e)}") from None
    for key, expected, value in problems(obj):
        raise ConfigError(f"{where}: {key}: " + (value if expected is None else f"expected {expected}, got {value!r}"))
    return obj


def _reason(error: OmegaConfBaseException) -> str:
    """OmegaConf's reason for refusing a value, as one line."""
    return str(error.msg).splitlines()[0] if error.msg else type(error).__name__


def partial(schema: type, layer: Mapping, prefix: str = "") -> tuple[dict, list[Problem]]:
    """The keys that a partial mapping `layer` sets of `schema`, typed as the schema says, and its problems
    (an unknown key, a value of the wrong type); the schema's missing keys are not problems here."""
    try:
        node = OmegaConf.merge(OmegaConf.structured(schema), layer)
    except OmegaConfBaseException as e:
        return {}, [(f"{prefix}{e.full_key}", None, _reason(e))]
    return {key: plain(node[key]) for key in layer}, []


def plain(value):
    """A list of a config as a Python list (json and snakemake's params take it); anything else as it is."""
    return OmegaConf.to_container(value) if isinstance(value, ListConfig) else value


def fill_missing(node: DictConfig, values: Mapping) -> None:
    """Set the leaves of `node` that nobody gave (MISSING) from `values`: what a command line sets wins."""

    def unset(node: DictConfig, values: Mapping) -> dict:
        patch = {}
        for key, value in values.items():
            if OmegaConf.is_missing(node, key):
                patch[key] = value
            elif isinstance(value, Mapping) and isinstance(node[key], DictConfig):
                patch[key] = unset(node[key], value)
        return patch

    node.merge_with(unset(node, values))


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader that refuses a key given twice in one mapping (the last would silently win)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                mark = key_node.start_mark
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (also on line {seen[key] + 1}): remove one of them",
                    mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


def read_yaml(path: str | Path) -> Any:
    """A YAML file read strictly: a syntax error or a duplicate key is a ConfigError naming line and column."""
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise ConfigError(f"{path}: cannot be read: {e.strerror}") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(f"{path}: {where}{e.problem or e.context}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: cannot be read as YAML: {e}".splitlines()[0]) from None


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


def choice(key: str, value: str, allowed: tuple[str, ...]) -> Iterator[Problem]:
    if value not in allowed:
        yield key, f"one of {list(allowed)}", value


def positive(key: str, value: float) -> Iterator[Problem]:
    if not value > 0:
        yield key, "a number > 0", value


def non_negative(key: str, value: float) -> Iterator[Problem]:
    if not value >= 0:
        yield key, "a number >= 0", value


def unit_interval(key: str, value: float) -> Iterator[Problem]:
    """A share or an Adam beta: 0 <= value < 1."""
    if not 0 <= value < 1:
        yield key, "a number from 0 up to (not including) 1", value


def seeds(key: str, values: list[int]) -> Iterator[Problem]:
    """Seeds name folders (seed<n>) and random streams: a non-empty list of distinct integers >= 0."""
    yield from non_empty_unique(key, values)
    for i, value in enumerate(values):
        yield from non_negative(f"{key}[{i}]", value)


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
