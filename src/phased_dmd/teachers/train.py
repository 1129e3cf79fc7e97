"""Training a teacher by flow matching at embedded scale (the job: jobs/teacher.py).

Flow matching is the subinterval objective at s = 0 (critic.py); t is drawn logit-normal, prompts
are dropped to the empty prompt with probability `cond_dropout` so that the teacher supports
classifier-free guidance; the weights kept are an exponential moving average.
"""

from __future__ import annotations

import torch
from torch import Tensor
from tqdm import trange

from phased_dmd.engine.ema import ema_model
from phased_dmd.method.critic import critic_loss
from phased_dmd.teachers.config import TeacherTrainConfig
from phased_dmd.teachers.data import Batches
from phased_dmd.teachers.flow_model import FlowModel


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
