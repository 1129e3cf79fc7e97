"""Settings of one distillation (typed, validated; torch-free so the workflow checks them quickly)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from phased_dmd import config as C
from phased_dmd.choices import CFG_FORMS, CRITIC_OBJECTIVES, INTERVALS, METHODS, SCHEDULES, STEP_RULES


@dataclass
class DistillConfig:
    """How one model is distilled. Defaults: METHOD.md, with tiny-scale learning rates."""

    method: str = "phased"  # dmd (1 step) | sgts (num_steps, one expert) | phased (num_steps in num_phases)
    num_steps: int = 4
    num_phases: int = 2
    shift: float = 1.0  # timestep shift of the step grid (where the steps and phase boundaries fall)
    t_shift: float = 1.0  # shift of the sampled re-noise t: the teacher's training distribution (1 here)
    step_rule: str = "euler"  # euler | renoise, between steps of one expert
    interval: str = "nested"  # re-noise t in (s_p, 1) | disjoint (s_p, s_{p-1})
    critic: str = "subinterval"  # subinterval (Eq. 13) | naive (Fig. 2c)
    fixed_t: float | None = None  # generator re-noise t fixed (Fig. 10); None: sampled
    schedule: str = "progressive"  # phases one per run, earlier ones frozen | joint: all in one run, in turn
    full_backprop: bool = False  # backprop through every step of the phase (memory benchmark)
    iterations: int = 300  # generator updates
    ttur: int = 5  # fake updates per generator update
    batch_size: int = 256
    lr_generator: float = 2e-4
    lr_fake: float = 2e-4
    beta1: float = 0.0
    beta2: float = 0.99
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    max_weight: float = 100.0  # clamp of 1 / s_{t|s}^2 in the critic loss
    cfg_scale: float = 4.0  # teacher guidance (diffusers teachers; the analytic teacher has none)
    cfg_form: str = "standard"  # standard v_u + w (v_c - v_u) | plus_one v_c + w (v_c - v_u) | renorm (Qwen-Image)
    ema: Optional[float] = None  # decay of the generator's weight average (None: no EMA)
    checkpoint_every: int = 100  # iterations between checkpoints (resume after a kill or a requeue)

    @property
    def phase_count(self) -> int:
        """How many phases (and generator experts) the method trains: Phased num_phases, else one."""
        return self.num_phases if self.method == "phased" else 1

    def check(self):
        yield from C.choice("method", self.method, METHODS)
        yield from C.choice("step_rule", self.step_rule, STEP_RULES)
        yield from C.choice("interval", self.interval, INTERVALS)
        yield from C.choice("critic", self.critic, CRITIC_OBJECTIVES)
        yield from C.choice("cfg_form", self.cfg_form, CFG_FORMS)
        yield from C.choice("schedule", self.schedule, SCHEDULES)
        if self.ema is not None:
            yield from C.open_unit("ema", self.ema)
        for key in ("num_steps", "num_phases", "shift", "t_shift", "iterations", "ttur", "batch_size",
                    "lr_generator", "lr_fake", "checkpoint_every"):
            yield from C.positive(key, getattr(self, key))
        if self.method == "phased" and self.num_steps % self.num_phases:
            yield "num_phases", f"a divisor of num_steps = {self.num_steps}", self.num_phases
        if self.fixed_t is not None:
            yield from C.open_unit("fixed_t", self.fixed_t)
