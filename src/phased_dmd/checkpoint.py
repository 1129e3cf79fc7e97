"""Checkpoints for resume: model weights as safetensors, training state (optimisers, random
generator, iteration, loss history) separately, in one folder per iteration written atomically.

A checkpoint folder is filled under a temporary name and renamed into place, so a run killed at any
moment leaves either the previous checkpoint or the new one, never a half-written one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import Tensor

from phased_dmd.io import save_tensors

PREFIX = "iter-"


def save_checkpoint(root: Path, iteration: int, weights: dict[str, dict[str, Tensor]], state: dict,
                    origin: str = "") -> Path:
    """Write root/iter-NNNNNN/{<name>.safetensors, state.pt, origin.json}; remove older checkpoints.

    `origin` says what the run started from (settings, seed, inputs): a restart with another origin
    must not resume from this checkpoint.
    """
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(".tmp-*"):  # left by a run killed while writing
        shutil.rmtree(stale)
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=".tmp-"))
    for name, tensors in weights.items():
        save_tensors(tmp / f"{name}.safetensors", tensors)
    torch.save(state, tmp / "state.pt")
    (tmp / "origin.json").write_text(origin)
    final = root / f"{PREFIX}{iteration:07d}"
    if final.exists():  # one of a run with other settings: set aside (swept up below, or by the next save)
        os.replace(final, Path(tempfile.mkdtemp(dir=root, prefix=".tmp-")) / "old")
    os.replace(tmp, final)
    for old in [*root.glob(f"{PREFIX}*"), *root.glob(".tmp-*")]:
        if old != final:
            shutil.rmtree(old)
    return final


def latest_checkpoint(root: Path) -> Path | None:
    found = sorted(root.glob(f"{PREFIX}*")) if root.exists() else []
    return found[-1] if found else None


def checkpoint_origin(path: Path) -> str:
    origin = path / "origin.json"
    return origin.read_text() if origin.is_file() else ""


def load_checkpoint(path: Path, names: list[str]) -> tuple[dict[str, dict[str, Tensor]], dict]:
    """The weights of each named model and the training state (never unpickles arbitrary objects)."""
    weights = {name: load_file(str(path / f"{name}.safetensors")) for name in names}
    return weights, torch.load(path / "state.pt", weights_only=True)
