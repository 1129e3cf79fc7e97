"""Settings of one distillation (typed, validated; torch-free so the workflow checks them quickly).

The schema of every distillation knob, and only the schema: the values live in params.yaml
(`students.distill` and the layers over it, `toy2d.distill`), never as a default here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional

from omegaconf import MISSING

from phased_dmd import config as C
from phased_dmd.choices import CFG_FORMS, CRITIC_OBJECTIVES, INTERVALS, METHODS, ROLE_TRAINING, SCHEDULES, STEP_RULES

PER_PHASE = ("iterations", "ttur", "batch_size", "lr_generator", "lr_fake", "cfg_scale")  # a phase may set these
LORA_KNOBS = ("generator_train", "fake_train", "lora_rank", "lora_alpha", "lora_targets", "lora_dropout")


@dataclass
class DistillConfig:
    """How one model is distilled (METHOD.md); every field is a knob of params.yaml."""

    method: str = MISSING  # dmd (1 step) | sgts (num_steps, one expert) | phased (num_steps in num_phases)
    num_steps: int = MISSING
    num_phases: int = MISSING  # phased only: how many generator experts share the steps
    shift: float = MISSING  # timestep shift of the step grid (where the steps and phase boundaries fall)
    t_shift: float = MISSING  # shift of the sampled re-noise t: the teacher's training distribution
    step_rule: str = MISSING  # euler | renoise, between steps of one expert
    interval: str = MISSING  # nested: re-noise t in (s_p, 1) | disjoint: (s_p, s_{p-1})
    critic: str = MISSING  # subinterval (Eq. 13) | naive (Fig. 2c)
    fixed_t: Optional[float] = MISSING  # generator re-noise t fixed (Fig. 10); null: sampled
    fixed_t_fake: bool = MISSING  # with fixed_t: the fake model trains at that t too (Fig. 10's variant)
    schedule: str = MISSING  # progressive: phases one per run, earlier ones frozen | joint: all in one run, in turn
    full_backprop: bool = MISSING  # backprop through every step of the phase (memory benchmark)
    iterations: int = MISSING  # generator updates per phase
    ttur: int = MISSING  # fake updates per generator update
    batch_size: int = MISSING
    lr_generator: float = MISSING
    lr_fake: float = MISSING
    beta1: float = MISSING  # AdamW's, both networks
    beta2: float = MISSING
    weight_decay: float = MISSING
    grad_clip: float = MISSING  # largest gradient norm of each update
    max_weight: float = MISSING  # clamp of 1 / s_{t|s}^2 in the critic loss
    cfg_scale: float = MISSING  # teacher guidance (diffusers teachers; the analytic teacher has none)
    cfg_form: str = MISSING  # standard v_u + w (v_c - v_u) | plus_one v_c + w (v_c - v_u) | renorm (Qwen-Image)
    ema: Optional[float] = MISSING  # decay of the generator's weight average (null: no EMA)
    generator_train: str = MISSING  # full | lora: the generator experts' own weights, or adapters over the teacher
    fake_train: str = MISSING  # full | lora: the same for the fake models
    lora_rank: int = MISSING  # the adapters' (peft LoraConfig r, lora_alpha, target_modules, lora_dropout)
    lora_alpha: float = MISSING
    lora_targets: list[str] = MISSING  # names of the transformer's linear layers that get an adapter
    lora_dropout: float = MISSING

    @property
    def uses_lora(self) -> bool:
        return "lora" in (self.generator_train, self.fake_train)

    def rerun_knobs(self) -> dict:
        """The knobs whose change reruns a distillation: all of them, but the LoRA ones when no role trains an
        adapter (full fine-tuning, as every run before they existed)."""
        knobs = asdict(self)
        return knobs if self.uses_lora else {k: v for k, v in knobs.items() if k not in LORA_KNOBS}

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
        yield from C.choice("generator_train", self.generator_train, ROLE_TRAINING)
        yield from C.choice("fake_train", self.fake_train, ROLE_TRAINING)
        yield from C.positive("lora_rank", self.lora_rank)
        yield from C.positive("lora_alpha", self.lora_alpha)
        yield from C.non_empty_unique("lora_targets", self.lora_targets)
        if not 0 <= self.lora_dropout < 1:
            yield "lora_dropout", "a share in [0, 1)", self.lora_dropout
        if self.ema is not None and self.generator_train == "lora":
            yield "ema", "null with generator_train: lora (the weight average of an adapter is not built yet)", self.ema
        if self.ema is not None:
            yield from C.open_unit("ema", self.ema)
        for key in ("num_steps", "num_phases", "shift", "t_shift", "iterations", "ttur", "batch_size",
                    "lr_generator", "lr_fake", "grad_clip", "max_weight"):
            yield from C.positive(key, getattr(self, key))
        for key in ("beta1", "beta2"):
            yield from C.unit_interval(key, getattr(self, key))
        yield from C.non_negative("weight_decay", self.weight_decay)
        yield from C.non_negative("cfg_scale", self.cfg_scale)
        if self.method == "phased" and self.num_steps % self.num_phases:
            yield "num_phases", f"a divisor of num_steps = {self.num_steps}", self.num_phases
        if self.fixed_t is not None:
            yield from C.open_unit("fixed_t", self.fixed_t)
        elif self.fixed_t_fake:
            yield "fixed_t_fake", "false unless fixed_t is set (the fake trains at the generator's fixed t)", True
