"""Pictures of runs: a teacher's sample grid and a distillation's loss curves (PNG, written atomically)."""

from __future__ import annotations

from pathlib import Path

from torch import Tensor

from phased_dmd.io import save_figure


def sample_grid(samples: Tensor, prompts: list[str], path: Path) -> None:
    """One row per prompt, labelled with its text; a video shows its frames side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frames = samples[:, 0] if samples.ndim == 5 else samples  # (N, F, H, W) or (N, C=1, H, W) as 1 frame
    rows = len(prompts)
    tiles = frames.reshape(rows, -1, *frames.shape[-2:])  # per prompt: its samples' frames in order
    cols = tiles.shape[1]
    fig, axes = plt.subplots(rows, cols, figsize=(0.6 * cols + 1.2, 0.6 * rows), dpi=80, squeeze=False)
    for r in range(rows):
        for c in range(cols):
            ax = axes[r, c]
            ax.imshow(tiles[r, c].numpy(), cmap="gray", vmin=-1, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(prompts[r], rotation=0, ha="right", va="center", fontsize=7)
    fig.tight_layout(pad=0.2)
    save_figure(fig, path)


def loss_curves(history: list[dict], path: Path) -> None:
    """Generator and fake losses against iterations, one line per phase (a training run's losses.png)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 3), dpi=80)
    for p in sorted({h["phase"] for h in history}):
        rows = [h for h in history if h["phase"] == p]
        for ax, key in zip(axes, ("generator_loss", "fake_loss")):
            ax.plot([h["iteration"] for h in rows], [h[key] for h in rows], lw=0.8, label=f"phase {p}")
    for ax, key in zip(axes, ("generator_loss", "fake_loss")):
        ax.set_title(key.replace("_", " "), fontsize=9)
        ax.set_xlabel("iteration")
        ax.set_yscale("log")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)
