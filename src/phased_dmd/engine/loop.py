"""The distillation loop, one phase per call: DMD (1 step), few-step DMD with SGTS, Phased DMD.

Reads top to bottom as the paper's Sec. 4.2: generator experts of earlier phases run frozen to
produce the phase's input; the phase's expert produces x_{s_p} (the phase's end level); the fake
model learns the distribution of x_{s_p} with the subinterval objective (Eq. 13); the expert is
updated with the DMD gradient (Eq. 10), the teacher and the fake compared at x_t re-noised from
x_{s_p} with t in the reverse nested interval (s_p, 1).

Batch sizes are global: in a data-parallel run each process takes its shard (data_parallel).

Models are callables (x, t, cond) -> velocity; the toy networks and the diffusers teachers alike.
"""

from __future__ import annotations

import csv
import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm import trange

from phased_dmd import draws
from phased_dmd.draws import noise_like
from phased_dmd.engine import data_parallel
from phased_dmd.engine.checkpoint import Resumable
from phased_dmd.engine.ema import ema_model
from phased_dmd.method.critic import critic_loss
from phased_dmd.method.distill_config import DistillConfig
from phased_dmd.method.dmd import dmd_generator_loss
from phased_dmd.method.phases import Model, bind, phase_output, plan_phases, renoise_times, run_experts
from phased_dmd.method.schedule import renoise, x0_from_velocity


@dataclass
class PhaseModels:
    """The models of a training run. The last len(fakes) experts are trained, in turn, each with its fake:
    one (progressive schedule, earlier experts frozen) or all (joint schedule)."""

    teacher: Model  # guided real velocity (CFG applied inside); routes MoE experts by t itself
    experts: list[nn.Module]  # generator experts of phases 0..p
    fakes: list[nn.Module]  # the fake (critic) model of each trained phase
    floors: dict[int, float] = field(default_factory=dict)  # phase index -> re-noise t floor (Wan2.2 phase 1)

    @property
    def trained(self) -> list[int]:
        return list(range(len(self.experts) - len(self.fakes), len(self.experts)))

    def fake_of(self, p: int) -> nn.Module:
        return self.fakes[p - self.trained[0]]


Batches = Callable[[int, torch.Generator], tuple]  # (n, generator) -> (noise at t = 1, cond)


def phase_input(models: PhaseModels, p: int, cfg: DistillConfig, sample_batch: Batches,
                gen: torch.Generator) -> tuple[Tensor, Any]:
    """A batch at phase p's start level (this process's shard): noise, run through the earlier experts
    without gradient."""
    noise, cond = sample_batch(cfg.batch_size, gen)
    shard = draws.shard_slice(cfg.batch_size)
    noise, cond = noise[shard], (None if cond is None else cond.select(shard))  # None: unconditional (toy)
    with torch.no_grad():
        return (run_experts(models.experts[:p], plan_phases(cfg)[:p], noise, cond, cfg, gen) if p else noise), cond


def fake_update(models: PhaseModels, p: int, cfg: DistillConfig, sample_batch: Batches, gen: torch.Generator,
                opt: torch.optim.Optimizer, it: int = 0) -> float:
    """One update of phase p's fake model: the score of the current x_{s_p} distribution (Eq. 13)."""
    phase, fake = plan_phases(cfg)[p], models.fake_of(p)
    x_in, cond = phase_input(models, p, cfg, sample_batch, gen)
    with torch.no_grad():
        x_s = phase_output(models.experts[p], phase, x_in, cond, cfg, gen)
    t = renoise_times(cfg, phase, cfg.batch_size, False, models.floors.get(p, 0.0), gen).to(x_s)
    noise = noise_like(x_s, gen)
    loss = critic_loss(cfg.critic, bind(fake, cond), x_s, noise, phase.end_level, t, cfg.max_weight)
    return _step(opt, loss, fake, cfg.grad_clip, "fake", it)


def generator_update(models: PhaseModels, p: int, cfg: DistillConfig, sample_batch: Batches, gen: torch.Generator,
                     opt: torch.optim.Optimizer, it: int = 0) -> float:
    """One update of phase p's expert by the DMD gradient (Eq. 10) at x_t re-noised from x_{s_p}."""
    phase, expert = plan_phases(cfg)[p], models.experts[p]
    x_in, cond = phase_input(models, p, cfg, sample_batch, gen)
    x_s = phase_output(expert, phase, x_in, cond, cfg, gen)
    t = renoise_times(cfg, phase, cfg.batch_size, True, models.floors.get(p, 0.0), gen).to(x_s)
    x_t = renoise(x_s.detach(), noise_like(x_s, gen), phase.end_level, t)
    with torch.no_grad():
        x0_real = x0_from_velocity(x_t, models.teacher(x_t, t, cond), t)
        x0_fake = x0_from_velocity(x_t, models.fake_of(p)(x_t, t, cond), t)
    loss = dmd_generator_loss(x_s, x0_fake, x0_real)
    return _step(opt, loss, expert, cfg.grad_clip, "generator", it)


class NonFiniteLoss(RuntimeError):
    """A loss became NaN or inf: the phase stops, the last good checkpoint is kept."""


def train_phase(models: PhaseModels, cfg: DistillConfig, sample_batch: Batches, run_dir: Path, seed: int = 0,
                desc: str = "distill", inputs: str = "", checkpoint_every: int | None = None) -> list[dict]:
    """Distil the trained phases, cfg.iterations generator updates each, in turn (iteration i updates
    trained phase i mod their number); return the loss history.

    `sample_batch(n, generator)` gives (noise at t = 1, cond). Every `checkpoint_every` iterations (None: at the
    end) the run saves a checkpoint under run_dir/checkpoints and, when one is there, resumes from it with the
    same weights, optimiser states and random stream as if it had never stopped (engine/checkpoint.Resumable;
    a checkpoint of other settings, seed or `inputs`, a fingerprint of the models it started from, is discarded).
    With cfg.ema each trained expert ends holding the moving average of its weights.
    """
    trained, gen = models.trained, torch.Generator().manual_seed(seed)
    label = "phase " + "+".join(str(p + 1) for p in trained)
    opts, emas = optimisers(models, cfg), averages(models, cfg)
    run = Resumable(run_dir / "checkpoints", {"settings": dataclasses.asdict(cfg), "seed": seed, "inputs": inputs},
                    weights={**{f"expert{p + 1}": models.experts[p] for p in trained},
                             **{f"fake{p + 1}": models.fake_of(p) for p in trained},
                             **{f"ema{p + 1}": ema for p, ema in emas.items()}},
                    optimisers={**{f"opt_generator{p + 1}": (models.experts[p], opts[p][0]) for p in trained},
                                **{f"opt_fake{p + 1}": (models.fake_of(p), opts[p][1]) for p in trained}},
                    generator=gen, log=log, desc=desc, what=label)
    start, history = run.resume()
    total = cfg.iterations * len(trained)  # cfg.iterations updates per phase
    bar = trange(start, total, initial=start, total=total, mininterval=1.0, disable=not data_parallel.is_main(),
                 desc=f"{desc} {label}/{len(plan_phases(cfg))}")
    for it in bar:
        p = trained[it % len(trained)]
        for _ in range(cfg.ttur):
            loss_f = fake_update(models, p, cfg, sample_batch, gen, opts[p][1], it)
        loss_g = generator_update(models, p, cfg, sample_batch, gen, opts[p][0], it)
        if p in emas:
            emas[p].update_parameters(models.experts[p])
        history.append({"iteration": it + 1, "phase": p + 1, "generator_loss": loss_g, "fake_loss": loss_f})
        bar.set_postfix(g=f"{loss_g:.3g}", fake=f"{loss_f:.3g}", refresh=False)
        if it + 1 == total or checkpoint_every and (it + 1) % checkpoint_every == 0:
            run.save(it + 1, history)
    if data_parallel.is_main():
        write_history(run_dir, history)
    for p, ema in emas.items():  # the expert is the average: the next phase's input and the student
        models.experts[p].load_state_dict(ema.module.state_dict())
    return history


def optimisers(models: PhaseModels, cfg: DistillConfig) -> dict[int, tuple[torch.optim.Optimizer, ...]]:
    """AdamW of each trained phase's expert and fake: (generator's, fake's)."""
    def adamw(module: nn.Module, lr: float) -> torch.optim.Optimizer:
        return torch.optim.AdamW(module.parameters(), lr, (cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay)

    return {p: (adamw(models.experts[p], cfg.lr_generator), adamw(models.fake_of(p), cfg.lr_fake))
            for p in models.trained}


def averages(models: PhaseModels, cfg: DistillConfig) -> dict[int, nn.Module]:
    """The moving average of each trained expert's weights (cfg.ema; none without it)."""
    if cfg.ema is None:
        return {}
    if data_parallel.sharding():
        raise ValueError("distill.ema with sharded models (PHASED_DMD_PARALLEL=shard) is not supported: "
                         "set distill.ema: null, or replicate the models")
    return {p: ema_model(models.experts[p], cfg.ema) for p in models.trained}


def _step(opt: torch.optim.Optimizer, loss: Tensor, module: nn.Module, clip: float, name: str, it: int) -> float:
    """One optimiser step on the loss of the global batch (averaged over data-parallel processes); its value."""
    value = data_parallel.average(loss).item()
    if not math.isfinite(value):
        raise NonFiniteLoss(f"{name} loss is {value} at iteration {it + 1}; stopping this phase")
    opt.zero_grad(set_to_none=True)
    loss.backward()
    data_parallel.average_gradients(module.parameters())
    torch.nn.utils.clip_grad_norm_(module.parameters(), clip)
    opt.step()
    return value


def log(message: str) -> None:
    """Print once per run (from the first data-parallel process)."""
    if data_parallel.is_main():
        print(message, flush=True)


def write_history(run_dir: Path, history: list[dict]) -> None:
    """losses.csv in run_dir: generator and fake losses per iteration and phase."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / "losses.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
