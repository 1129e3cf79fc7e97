"""Atomic writes: a file either has its complete new content or its old one, never half of it."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from safetensors.torch import save_file


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call `write(tmp)` on a temporary file beside `path`, then rename it onto `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text))


def write_json(path: str | Path, data) -> None:
    write_text(path, json.dumps(data, indent=2) + "\n")


def save_weights(path: str | Path, module: torch.nn.Module) -> None:
    """Model weights as safetensors."""
    save_tensors(path, {k: v.detach().contiguous() for k, v in module.state_dict().items()})


def save_tensors(path: str | Path, tensors: dict[str, torch.Tensor]) -> None:
    """Named tensors as safetensors, written atomically."""
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp)))


def save_figure(fig, path: Path) -> None:
    """Write a matplotlib figure as PNG, atomically, and free it."""
    import matplotlib.pyplot as plt

    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
