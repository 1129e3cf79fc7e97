"""The distillation loop, one phase per call: DMD (1 step), few-step DMD with SGTS, Phased DMD.

Reads top to bottom as the paper's Sec. 4.2: generator experts of earlier phases run frozen to
produce the phase's input; the phase's expert produces x_{s_p} (the phase's end level); the fake
model learns the distribution of x_{s_p} with the subinterval objective (Eq. 13); the expert is
updated with the DMD gradient (Eq. 10), the teacher and the fake compared at x_t re-noised from
x_{s_p} with t in the reverse nested interval (s_p, 1).

Models are callables (x, t, cond) -> velocity; the toy networks and the diffusers teachers alike.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm import trange

from phased_dmd.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from phased_dmd.critic import critic_loss
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
        x = rollout([fn], [0] * (len(inner) - 1), x, inner, cfg.step_rule, generator)
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
    """Re-noise t for phase p: reverse nested (s_p, 1) or disjoint (s_p, s_{p-1}), above `floor`."""
    if for_generator and cfg.fixed_t is not None:
        return torch.full((n,), cfg.fixed_t, dtype=torch.float64)
    low = max(phase.end_level, floor)
    high = 1.0 if cfg.interval == "nested" else phase.start_level
    return sample_timesteps(n, low, high, cfg.shift, generator)


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


class NonFiniteLoss(RuntimeError):
    """A loss became NaN or inf: the phase stops, the last good checkpoint is kept."""


def train_phase(models: PhaseModels, cfg: DistillConfig, sample_batch: Callable[[int, torch.Generator], tuple],
                run_dir: Path, seed: int = 0, desc: str = "distill") -> list[dict]:
    """Distil the trained phases, cfg.iterations generator updates each, in turn (iteration i updates
    trained phase i mod their number); return the loss history.

    `sample_batch(n, generator)` gives (noise at t = 1, cond). Every cfg.checkpoint_every iterations
    the run saves a checkpoint under run_dir/checkpoints and, when one is there, resumes from it
    with the same weights, optimiser states and random stream as if it had never stopped. With
    cfg.ema each trained expert ends holding the moving average of its weights.
    """
    phases, trained = plan_phases(cfg), models.trained
    gen = torch.Generator().manual_seed(seed)
    betas = (cfg.beta1, cfg.beta2)
    opts, weights, emas = {}, {}, {}
    for p, fake in zip(trained, models.fakes):
        expert = models.experts[p]
        opts[p] = (torch.optim.AdamW(expert.parameters(), cfg.lr_generator, betas, weight_decay=cfg.weight_decay),
                   torch.optim.AdamW(fake.parameters(), cfg.lr_fake, betas, weight_decay=cfg.weight_decay))
        weights |= {f"expert{p + 1}": expert, f"fake{p + 1}": fake}
        if cfg.ema is not None:
            emas[p] = weights[f"ema{p + 1}"] = ema_model(expert, cfg.ema)
    start, history, total = 0, [], cfg.iterations * len(trained)  # cfg.iterations updates per phase
    label = "+".join(str(p + 1) for p in trained)
    if (found := latest_checkpoint(run_dir / "checkpoints")) is not None:
        state = load_checkpoint(found, weights)
        for p, (opt_g, opt_f) in opts.items():
            opt_g.load_state_dict(state[f"opt_generator{p + 1}"])
            opt_f.load_state_dict(state[f"opt_fake{p + 1}"])
        gen.set_state(state["generator"])
        start, history = state["iteration"], state["history"]
        print(f"{desc}: resuming phase {label} at iteration {start} from {found}")

    bar = trange(start, total, initial=start, total=total, mininterval=1.0,
                 desc=f"{desc} phase {label}/{len(phases)}")
    for it in bar:
        p = trained[it % len(trained)]
        phase, expert, fake, s = phases[p], models.experts[p], models.fakes[p - trained[0]], phases[p].end_level
        floor = models.floors.get(p, 0.0)

        def phase_input(n: int) -> tuple[Tensor, Any]:
            noise, cond = sample_batch(n, gen)
            with torch.no_grad():
                return (run_experts(models.experts[:p], phases[:p], noise, cond, cfg, gen) if p else noise), cond

        for _ in range(cfg.ttur):  # fake model: score of the current x_{s_p} distribution
            x_in, cond = phase_input(cfg.batch_size)
            with torch.no_grad():
                x_s = phase_output(expert, phase, x_in, cond, cfg, gen)
            t = renoise_times(cfg, phase, cfg.batch_size, False, floor, gen).to(x_s.dtype)
            noise = torch.randn(x_s.shape, generator=gen, dtype=x_s.dtype)
            loss_f = critic_loss(cfg.critic, bind(fake, cond), x_s, noise, s, t, cfg.max_weight)
            _step(opts[p][1], loss_f, fake, cfg.grad_clip, "fake", it)

        x_in, cond = phase_input(cfg.batch_size)
        x_s = phase_output(expert, phase, x_in, cond, cfg, gen)
        t = renoise_times(cfg, phase, cfg.batch_size, True, floor, gen).to(x_s.dtype)
        x_t = renoise(x_s.detach(), torch.randn(x_s.shape, generator=gen, dtype=x_s.dtype), s, t)
        with torch.no_grad():
            x0_real = x0_from_velocity(x_t, models.teacher(x_t, t, cond), t)
            x0_fake = x0_from_velocity(x_t, fake(x_t, t, cond), t)
        loss_g = dmd_generator_loss(x_s, x0_fake, x0_real)
        _step(opts[p][0], loss_g, expert, cfg.grad_clip, "generator", it)
        if p in emas:
            emas[p].update_parameters(expert)

        history.append({"iteration": it + 1, "phase": p + 1, "generator_loss": loss_g.item(),
                        "fake_loss": loss_f.item()})
        bar.set_postfix(g=f"{loss_g.item():.3g}", fake=f"{loss_f.item():.3g}", refresh=False)
        if (it + 1) % cfg.checkpoint_every == 0 or it + 1 == total:
            optimiser_states = {f"opt_{role}{q + 1}": opt.state_dict() for q, pair in opts.items()
                                for role, opt in zip(("generator", "fake"), pair)}
            save_checkpoint(run_dir / "checkpoints", it + 1, weights, {
                "iteration": it + 1, "history": history, "generator": gen.get_state(), **optimiser_states})
    write_history(run_dir, history)
    for p, ema in emas.items():  # the expert is the average: the next phase's input and the student
        models.experts[p].load_state_dict(ema.module.state_dict())
    return history


def _step(opt: torch.optim.Optimizer, loss: Tensor, module: nn.Module, clip: float, name: str, it: int) -> None:
    if not math.isfinite(loss.item()):
        raise NonFiniteLoss(f"{name} loss is {loss.item()} at iteration {it + 1}; stopping this phase")
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(module.parameters(), clip)
    opt.step()


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
