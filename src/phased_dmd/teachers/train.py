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
from torch.optim.swa_utils import AveragedModel
from tqdm import trange

from phased_dmd.critic import critic_loss
from phased_dmd.data.fashion_mnist import CLASS_NAMES, load
from phased_dmd.grids import step_grid
from phased_dmd.rollout import rollout
from phased_dmd.runs import run_main
from phased_dmd.teachers.config import TeacherRunConfig, TeacherTrainConfig
from phased_dmd.teachers.flow_model import FlowModel, TeacherInfo, tiny_wan


def ema_decay(decay: float, updates: int) -> float:
    """EMA decay warmed up as min(decay, (1 + n) / (10 + n)): early weights fade out quickly.

    With a fixed 0.999 over 1,300 steps the initial weights would keep 0.999^1300 = 27% of the average.
    """
    return min(decay, (1 + updates) / (10 + updates))


def train_teacher(model: FlowModel, images: Tensor, labels: Tensor, cfg: TeacherTrainConfig) -> FlowModel:
    """Fit `model` to (images (N, C, H, W) in [-1, 1], labels (N,)); returns the EMA of its weights."""
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    ema = AveragedModel(model, avg_fn=lambda avg, cur, n: ema_decay(cfg.ema, int(n)) * avg
                        + (1 - ema_decay(cfg.ema, int(n))) * cur)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda it: min(1.0, (it + 1) / cfg.warmup))
    model.train()
    bar = trange(cfg.iterations, desc=f"teacher {model.info.kind}", mininterval=1.0)
    for _ in bar:
        idx = torch.randint(len(images), (cfg.batch_size,), generator=gen)
        x0, prompts = images[idx], labels[idx]
        dropped = torch.rand(cfg.batch_size, generator=gen) < cfg.cond_dropout
        prompts = torch.where(dropped, model.text_encoder.empty_like(prompts), prompts)
        t = torch.sigmoid(torch.randn(cfg.batch_size, generator=gen))  # logit-normal
        noise = torch.randn(x0.shape, generator=gen)
        loss = critic_loss("subinterval", lambda x, tt: model(x, tt, prompts), x0, noise, 0.0, t, 1e4)
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
def sample(model: FlowModel, prompt_ids: Tensor, steps: int = 40, scale: float = 4.0, form: str = "standard",
           generator: torch.Generator | None = None) -> Tensor:
    """Euler sampling of the guided probability-flow ODE from t = 1 to 0 (2 model evaluations per step)."""
    info = model.info
    shape = (len(prompt_ids), info.channels, info.resolution, info.resolution)
    x = torch.randn(shape, generator=generator)
    fn = lambda x, t: model.guided(x, t, prompt_ids, scale, form)  # noqa: E731
    return rollout([fn], [0] * steps, x, step_grid(steps, info.shift).tolist(), "euler")


def save_grid(samples: Tensor, prompts: list[str], path: Path) -> None:
    """One row per prompt, labelled with its text."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from phased_dmd.reports.common import save_figure

    rows, cols = len(prompts), len(samples) // len(prompts)
    fig, axes = plt.subplots(rows, cols, figsize=(0.7 * cols + 1.2, 0.7 * rows), dpi=80, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.imshow(samples[i, 0].numpy(), cmap="gray", vmin=-1, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        if i % cols == 0:
            ax.set_ylabel(prompts[i // cols], rotation=0, ha="right", va="center", fontsize=7)
    fig.tight_layout(pad=0.2)
    save_figure(fig, path)


def run(cfg: TeacherRunConfig) -> None:
    """Train the embedded teacher on Fashion-MNIST, save it (teacher.json last), draw its sample grid."""
    torch.set_num_threads(1)
    start, out = time.time(), Path(cfg.out_dir)
    images, labels = load(Path(cfg.data_dir), "train", cfg.resolution)
    info = TeacherInfo(cfg.kind, list(CLASS_NAMES), cfg.resolution, channels=1)
    model = train_teacher(tiny_wan(info), torch.from_numpy(images[:, None]), torch.from_numpy(labels), cfg.train)
    trained = time.time() - start
    prompts = torch.arange(len(CLASS_NAMES)).repeat_interleave(cfg.sample.per_prompt)
    samples = sample(model, prompts, cfg.sample.steps, cfg.sample.cfg_scale, cfg.sample.cfg_form,
                     torch.Generator().manual_seed(cfg.sample.seed))
    save_grid(samples, list(CLASS_NAMES), Path(cfg.grid))
    model.save(out)
    print(f"teacher {cfg.kind}: trained in {trained:.0f} s, {cfg.train.iterations} iterations; saved to {out}/, "
          f"sample grid ({cfg.sample.steps} steps, CFG {cfg.sample.cfg_scale}) in {cfg.grid}")


def main(argv: list[str] | None = None) -> int:
    return run_main("teacher", TeacherRunConfig, run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
