"""Checkpoints for resume: model weights as safetensors, training state (optimisers, random
generator, iteration, loss history) separately, in one folder per iteration written atomically.

A checkpoint folder is filled under a temporary name and renamed into place, so a run killed at any
moment leaves either the previous checkpoint or the new one, never a half-written one.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import Tensor, nn

from phased_dmd.engine import data_parallel
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


class Resumable:
    """The resume bookkeeping of a training run: its models, optimisers and random stream, saved as one
    checkpoint and restored from the latest one that the same `origin` (settings, seed, inputs) wrote.

    In a data-parallel run every process resumes from the same checkpoint (their random streams are one), and
    only the first process writes (the weights of sharded models gathered whole first)."""

    def __init__(self, root: Path, origin: dict, weights: dict[str, nn.Module],
                 optimisers: dict[str, tuple[nn.Module, torch.optim.Optimizer]], generator: torch.Generator,
                 log=print, desc: str = "run", what: str = "training"):
        self.root, self.weights, self.optimisers, self.generator = root, weights, optimisers, generator
        self.log, self.desc, self.what = log, desc, what  # messages: "<desc>: resuming <what> at iteration i"
        sharded = {"parallel": "shard"} if data_parallel.sharding() else {}  # its optimiser states are keyed by name
        self.origin = json.dumps({**origin, **sharded}, sort_keys=True)

    def resume(self) -> tuple[int, list[dict]]:
        """Restore the latest checkpoint of this origin; (its iteration, its loss history), or (0, [])."""
        found = latest_checkpoint(self.root)
        if found is not None and checkpoint_origin(found) != self.origin:
            self.log(f"{self.desc}: {found} was written with other settings or inputs; starting afresh")
            found = None
        if found is None:
            return 0, []
        saved, state = load_checkpoint(found, list(self.weights))
        for name, module in self.weights.items():
            data_parallel.load_full_state_dict(module, saved[name])
        for key, (module, opt) in self.optimisers.items():
            data_parallel.load_optimizer_state(module, opt, state[key])
        self.generator.set_state(state["generator"])
        self.log(f"{self.desc}: resuming {self.what} at iteration {state['iteration']} from {found}")
        return state["iteration"], state["history"]

    def save(self, iteration: int, history: list[dict]) -> None:
        states = {name: data_parallel.full_state_dict(module) for name, module in self.weights.items()}
        optimiser_states = {key: data_parallel.optimizer_state(module, opt)
                            for key, (module, opt) in self.optimisers.items()}
        if data_parallel.is_main():
            save_checkpoint(self.root, iteration, states, {
                "iteration": iteration, "history": history, "generator": self.generator.get_state(),
                **optimiser_states}, self.origin)
