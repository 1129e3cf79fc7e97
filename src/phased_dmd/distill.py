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
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm import trange

from phased_dmd import data_parallel
from phased_dmd.checkpoint import checkpoint_origin, latest_checkpoint, load_checkpoint, save_checkpoint
from phased_dmd.critic import critic_loss
from phased_dmd.device import noise_like
from phased_dmd.distill_config import DistillConfig
from phased_dmd.dmd import dmd_generator_loss
from phased_dmd.ema import ema_model
from phased_dmd.grids import Phase, split_phases, step_grid
from phased_dmd.io import atomic_write
from phased_dmd.rollout import euler_step, rollout, sample_exit_step, truncated_rollout
from phased_dmd.schedule import renoise, sample_timesteps, x0_from_velocity

Model = Callable[[Tensor, Tensor, Any], Tensor]  # (x, t of shape (B,), cond) -> velocity
def levels(cfg: DistillConfig) -> list[float]:
    """The generator's noise levels 1 = tau_0 > ... > tau_N = 0 (DMD: N = 1)."""
    return step_grid(1 if cfg.method == "dmd" else cfg.num_steps, cfg.shift).tolist()


def plan_phases(cfg: DistillConfig) -> list[Phase]:
    """The phases of the method's step grid: DMD one step, SGTS one phase, Phased num_phases."""
    return split_phases(torch.tensor(levels(cfg)), cfg.num_phases if cfg.method == "phased" else 1)


def bind(model: Model, cond: Any) -> Callable[[Tensor, Tensor], Tensor]:
    return lambda x, t: model(x, t, cond)


def run_experts(experts: Sequence[Model], phases: Sequence[Phase], x: Tensor, cond: Any, cfg: DistillConfig,
                generator: torch.Generator | None = None) -> Tensor:
    """Run phases[0..len(experts)) in sequence (inference, or the frozen input of a later phase).

    Inside a phase the steps follow cfg.step_rule; between phases (and always into an intermediate
    level) Euler, so that an intermediate x_s never carries a re-noised clean estimate.
    """
    grid = levels(cfg)
    for expert, phase in zip(experts, phases):
        fn = bind(expert, cond)
        inner = grid[phase.first_step: phase.end_step]  # all but the phase's end
        x = rollout(fn, x, inner, cfg.step_rule, generator)
        t_last = inner[-1]
        v = fn(x, torch.full((x.shape[0],), t_last, dtype=x.dtype, device=x.device))
        x = euler_step(x, v, t_last, phase.end_level)
    return x


def phase_output(expert: Model, phase: Phase, x: Tensor, cond: Any, cfg: DistillConfig,
                 generator: torch.Generator | None = None) -> Tensor:
    """The phase's generator output x_{s_p}, with gradient: one step, SGTS within the phase, or full backprop."""
    steps = levels(cfg)[phase.first_step: phase.end_step + 1]
    fn = bind(expert, cond)
    if cfg.full_backprop:
        return run_experts([expert], [phase], x, cond, cfg, generator)
    exit_step = sample_exit_step(phase.num_steps, generator)
    return truncated_rollout(fn, x, steps, exit_step, phase.end_level, cfg.step_rule, generator)


def renoise_times(cfg: DistillConfig, phase: Phase, n: int, for_generator: bool, floor: float = 0.0,
                  generator: torch.Generator | None = None) -> Tensor:
    """Re-noise t for phase p: reverse nested (s_p, 1) or disjoint (s_p, s_{p-1}), above `floor`; drawn for
    a global batch of n, this process's shard of it (data_parallel)."""
    if for_generator and cfg.fixed_t is not None:
        t = torch.full((n,), cfg.fixed_t, dtype=torch.float64)
    else:
        low = max(phase.end_level, floor)
        high = 1.0 if cfg.interval == "nested" else phase.start_level
        t = sample_timesteps(n, low, high, cfg.t_shift, generator)
    return t[data_parallel.shard_slice(n)]


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
    shard = data_parallel.shard_slice(cfg.batch_size)
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

    `sample_batch(n, generator)` gives (noise at t = 1, cond). Every `checkpoint_every` iterations (None: at the end)
    the run saves a checkpoint under run_dir/checkpoints and, when one is there, resumes from it
    with the same weights, optimiser states and random stream as if it had never stopped; a checkpoint
    of other settings, seed or `inputs` (a fingerprint of the models it started from) is discarded.
    In a data-parallel run every process resumes from the same checkpoint (their random streams are one),
    and only the first process writes checkpoints and losses (of sharded models: gathered whole first).
    With cfg.ema each trained expert ends holding the moving average of its weights.
    """
    phases, trained = plan_phases(cfg), models.trained
    gen = torch.Generator().manual_seed(seed)
    betas = (cfg.beta1, cfg.beta2)
    if cfg.ema is not None and data_parallel.sharding():
        raise ValueError("distill.ema with sharded models (PHASED_DMD_PARALLEL=shard) is not supported: "
                         "set distill.ema: null, or replicate the models")
    opts, weights, emas, optimisers = {}, {}, {}, {}
    for p, fake in zip(trained, models.fakes):
        expert = models.experts[p]
        opts[p] = (torch.optim.AdamW(expert.parameters(), cfg.lr_generator, betas, weight_decay=cfg.weight_decay),
                   torch.optim.AdamW(fake.parameters(), cfg.lr_fake, betas, weight_decay=cfg.weight_decay))
        weights |= {f"expert{p + 1}": expert, f"fake{p + 1}": fake}
        optimisers |= {f"opt_generator{p + 1}": (expert, opts[p][0]), f"opt_fake{p + 1}": (fake, opts[p][1])}
        if cfg.ema is not None:
            emas[p] = weights[f"ema{p + 1}"] = ema_model(expert, cfg.ema)
    start, history, total = 0, [], cfg.iterations * len(trained)  # cfg.iterations updates per phase
    label = "+".join(str(p + 1) for p in trained)
    sharded = {"parallel": "shard"} if data_parallel.sharding() else {}  # its optimiser states are keyed by name
    origin = json.dumps({"settings": dataclasses.asdict(cfg), "seed": seed, "inputs": inputs, **sharded},
                        sort_keys=True)
    found = latest_checkpoint(run_dir / "checkpoints")
    if found is not None and checkpoint_origin(found) != origin:
        log(f"{desc}: {found} was written with other settings or inputs; starting afresh")
        found = None
    if found is not None:
        saved, state = load_checkpoint(found, list(weights))
        for name, module in weights.items():
            data_parallel.load_full_state_dict(module, saved[name])
        for key, (module, opt) in optimisers.items():
            data_parallel.load_optimizer_state(module, opt, state[key])
        gen.set_state(state["generator"])
        start, history = state["iteration"], state["history"]
        log(f"{desc}: resuming phase {label} at iteration {start} from {found}")

    bar = trange(start, total, initial=start, total=total, mininterval=1.0,
                 desc=f"{desc} phase {label}/{len(phases)}", disable=not data_parallel.is_main())
    for it in bar:
        p = trained[it % len(trained)]
        opt_g, opt_f = opts[p]
        for _ in range(cfg.ttur):
            loss_f = fake_update(models, p, cfg, sample_batch, gen, opt_f, it)
        loss_g = generator_update(models, p, cfg, sample_batch, gen, opt_g, it)
        if p in emas:
            emas[p].update_parameters(models.experts[p])
        history.append({"iteration": it + 1, "phase": p + 1, "generator_loss": loss_g, "fake_loss": loss_f})
        bar.set_postfix(g=f"{loss_g:.3g}", fake=f"{loss_f:.3g}", refresh=False)
        if it + 1 == total or checkpoint_every and (it + 1) % checkpoint_every == 0:
            states = {name: data_parallel.full_state_dict(module) for name, module in weights.items()}
            optimiser_states = {key: data_parallel.optimizer_state(module, opt)
                                for key, (module, opt) in optimisers.items()}
            if data_parallel.is_main():
                save_checkpoint(run_dir / "checkpoints", it + 1, states, {
                    "iteration": it + 1, "history": history, "generator": gen.get_state(), **optimiser_states},
                    origin)
    if data_parallel.is_main():
        write_history(run_dir, history)
    for p, ema in emas.items():  # the expert is the average: the next phase's input and the student
        models.experts[p].load_state_dict(ema.module.state_dict())
    return history


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
    """losses.csv and losses.png in run_dir: generator and fake losses per iteration, one line per phase."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / "losses.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(history[0]))
        writer.writeheader()
        writer.writerows(history)
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
    atomic_write(run_dir / "losses.png", lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
