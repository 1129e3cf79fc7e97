"""Training a teacher by flow matching at embedded scale, and sampling it (Euler with CFG).

Flow matching is the subinterval objective at s = 0 (critic.py); t is drawn logit-normal, prompts
are dropped to the empty prompt with probability `cond_dropout` so that the teacher supports
classifier-free guidance; the weights kept are an exponential moving average.

    python -m phased_dmd.teachers.train kind=wan2.1 out_dir=results/teachers/wan2.1 \
        data_dir=data/fashion-mnist grid=reports/teacher_wan2.1.png [train.iterations=...]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
from torch import Tensor
from tqdm import trange

from phased_dmd.critic import critic_loss
from phased_dmd.data.fashion_mnist import CLASS_NAMES
from phased_dmd.device import model_device
from phased_dmd.ema import ema_model
from phased_dmd.grids import step_grid
from phased_dmd.io import write_json
from phased_dmd.rollout import rollout
from phased_dmd.runs import run_main
from phased_dmd.teachers.config import TeacherRunConfig, TeacherTrainConfig, teacher_knobs
from phased_dmd.teachers.data import Batches, load_items, prompt_conditions, training_batches
from phased_dmd.teachers.flow_model import Condition, FlowModel, teacher_info, tiny_teacher


def training_times(n: int, boundary: float | None, high_share: float, gen: torch.Generator) -> Tensor:
    """Logit-normal t; for a two-expert teacher a share `high_share` is drawn uniformly in (boundary, 1).

    Logit-normal t alone would give the high-noise expert of Wan2.2 only 2.6% of the samples (t >= 0.875).
    """
    t = torch.sigmoid(torch.randn(n, generator=gen))
    if boundary is None:
        return t
    high = torch.rand(n, generator=gen) < high_share
    return torch.where(high, boundary + (1 - boundary) * torch.rand(n, generator=gen), t)


def train_teacher(model: FlowModel, batches: Batches, cfg: TeacherTrainConfig, batch_size: int) -> FlowModel:
    """Fit `model` by flow matching to the batches (x_0 in [-1, 1], condition); returns the EMA of its weights."""
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    ema = ema_model(model, cfg.ema)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda it: min(1.0, (it + 1) / cfg.warmup))
    model.train()
    bar = trange(cfg.iterations, desc=f"teacher {model.info.kind}", mininterval=1.0)
    for _ in bar:
        x0, cond = batches(batch_size, gen)
        dropped = torch.rand(batch_size, generator=gen) < cfg.cond_dropout
        cond = cond.with_prompts(torch.where(dropped, model.text_encoder.empty_like(cond.prompt_ids), cond.prompt_ids))
        t = training_times(batch_size, model.info.boundary, cfg.high_noise_share, gen)
        noise = torch.randn(x0.shape, generator=gen)
        loss = critic_loss("subinterval", lambda x, tt: model(x, tt, cond), x0, noise, 0.0, t, 1e4)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
        ema.update_parameters(model)
        bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
    model.load_state_dict(ema.module.state_dict())
    return model.eval()


@torch.no_grad()
def sample(model: FlowModel, cond: Condition, steps: int = 40, scale: float = 4.0, form: str = "standard",
           generator: torch.Generator | None = None) -> Tensor:
    """Euler sampling of the guided probability-flow ODE from t = 1 to 0 (2 model evaluations per step)."""
    device = model_device(model)
    x = torch.randn((len(cond), *model.info.shape), generator=generator).to(device)
    cond = cond.to(device)
    fn = lambda x, t: model.guided(x, t, cond, scale, form)  # noqa: E731
    return rollout(fn, x, step_grid(steps, model.info.shift).tolist(), "euler")


def save_grid(samples: Tensor, prompts: list[str], path: Path) -> None:
    """One row per prompt, labelled with its text; a video shows its frames side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from phased_dmd.reports.common import save_figure

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


def run(cfg: TeacherRunConfig) -> None:
    """Train the embedded teacher on Fashion-MNIST, save it (teacher.json last), draw its sample grid."""
    torch.set_num_threads(1)
    start, out = time.time(), Path(cfg.out_dir)
    info = teacher_info(cfg.kind, list(CLASS_NAMES), cfg.resolution, frames=cfg.video.frames, item=cfg.video.item)
    items, labels = load_items(info, Path(cfg.data_dir), "train")
    batch_size = cfg.train.batch_size if info.task == "t2i" else cfg.train.video_batch_size
    torch.manual_seed(cfg.train.seed)  # the initial weights too: the same settings give the same teacher
    model = train_teacher(tiny_teacher(info), training_batches(info, items, labels), cfg.train, batch_size)
    trained = time.time() - start
    gen = torch.Generator().manual_seed(cfg.sample.seed)
    per_prompt = cfg.sample.per_prompt if info.task == "t2i" else -(-cfg.sample.per_prompt // info.frames)
    _, cond = prompt_conditions(info, *load_items(info, Path(cfg.data_dir), "test"), per_prompt, gen)
    samples = sample(model, cond, cfg.sample.steps, cfg.sample.cfg_scale, cfg.sample.cfg_form, gen)
    save_grid(samples, list(CLASS_NAMES), Path(cfg.grid))
    write_json(out / "training.json", {"seconds": trained, "iterations": cfg.train.iterations, "batch_size": batch_size,
                                       "parameters": sum(p.numel() for p in model.parameters())})
    model.save(out)
    print(f"teacher {cfg.kind}: trained in {trained:.0f} s, {cfg.train.iterations} iterations; saved to {out}/, "
          f"sample grid ({cfg.sample.steps} steps, CFG {cfg.sample.cfg_scale}) in {cfg.grid}")


def main(argv: list[str] | None = None) -> int:
    return run_main("teacher", TeacherRunConfig, run, __doc__, argv, teacher_knobs)


if __name__ == "__main__":
    sys.exit(main())
