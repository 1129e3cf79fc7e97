"""Teacher settings: params.yaml's `teachers` section and one teacher run (torch-free, for the DAG)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from omegaconf import MISSING

from phased_dmd import config as C
from phased_dmd.choices import CFG_FORMS, SCALES, TEACHER_KINDS
from phased_dmd.data.config import DataParams, VideoConfig
from phased_dmd.kinds import KINDS, PAPER_SCALE_KINDS
from phased_dmd.runs import params_section


@dataclass
class TeacherTrainConfig:
    """How an embedded teacher is trained (params.yaml teachers.train)."""

    iterations: int = MISSING
    batch_size: int = MISSING
    lr: float = MISSING
    warmup: int = MISSING  # iterations of linear learning-rate warm-up
    ema: float = MISSING  # decay of the weight average that is saved
    cond_dropout: float = MISSING  # share of conditions dropped (the unconditional branch of CFG)
    grad_clip: float = MISSING
    high_noise_share: float = MISSING  # two-expert teachers: share of t drawn in (boundary, 1) for the high expert
    video_batch_size: int = MISSING  # videos carry `frames` times the tokens of an image
    seed: int = MISSING

    def check(self):
        for key in ("iterations", "batch_size", "lr", "warmup", "video_batch_size", "grad_clip"):
            yield from C.positive(key, getattr(self, key))
        yield from C.open_unit("ema", self.ema)
        yield from C.open_unit("high_noise_share", self.high_noise_share)
        yield from C.unit_interval("cond_dropout", self.cond_dropout)
        yield from C.non_negative("seed", self.seed)


@dataclass
class TeacherSampleConfig:
    """The sample grid: `per_prompt` samples of every prompt, `steps` Euler steps with CFG."""

    steps: int = MISSING
    cfg_scale: float = MISSING
    cfg_form: str = MISSING
    per_prompt: int = MISSING
    seed: int = MISSING

    def check(self):
        yield from C.choice("cfg_form", self.cfg_form, CFG_FORMS)
        yield from C.positive("steps", self.steps)
        yield from C.non_negative("cfg_scale", self.cfg_scale)


@dataclass
class TeachersParams:
    """params.yaml, section `teachers`: which teachers; embedded scale: how they are trained; paper scale: where
    they come from and the prompts encoded for them (teachers/hub.py)."""

    names: list[str] = MISSING
    train: TeacherTrainConfig = field(default_factory=TeacherTrainConfig)
    scale: str = MISSING  # embedded: train tiny teachers | paper: fetch the paper's from the hub
    sources: dict[str, str] = MISSING  # paper scale: kind -> hub id or local pipeline folder
    prompts: list[str] = MISSING  # paper scale: the prompts the students are distilled on
    images: list[str] = MISSING  # paper-scale image-to-video: the first frame of each prompt

    def check(self):
        yield from C.choices("names", self.names, TEACHER_KINDS)
        yield from C.choice("scale", self.scale, SCALES)
        if self.scale == "paper":
            yield from C.choices("names", self.names, PAPER_SCALE_KINDS)
            yield from C.non_empty_unique("prompts", self.prompts)
            if any(KINDS[k].task == "i2v" for k in self.names if k in KINDS) and len(self.images) != len(self.prompts):
                yield "images", f"one image per prompt ({len(self.prompts)}) for image-to-video", self.images
        for kind in self.sources:
            yield from C.choice(f"sources.{kind}", kind, TEACHER_KINDS)


@dataclass
class TeacherRunConfig:
    """Train one embedded teacher (configs/teacher.yaml + overrides) and draw its sample grid; the knobs the
    command line leaves unset come from `params` (params.yaml data.* and teachers.train)."""

    kind: str = MISSING
    out_dir: str = MISSING
    data_dir: str = MISSING
    grid: str = MISSING  # PNG of the sample grid
    params: str = MISSING
    resolution: int = MISSING
    video: VideoConfig = field(default_factory=VideoConfig)
    train: TeacherTrainConfig = field(default_factory=TeacherTrainConfig)
    sample: TeacherSampleConfig = field(default_factory=TeacherSampleConfig)  # the grid (configs/teacher.yaml)

    def check(self):
        yield from C.choice("kind", self.kind, TEACHER_KINDS)
        if self.video.item > self.resolution:
            yield "video.item", f"at most the canvas (resolution = {self.resolution})", self.video.item


def teacher_knobs(run) -> dict:
    """An embedded teacher run's knobs from params.yaml: the data's resolution and videos, its training."""
    data = params_section(run.params, "data", DataParams)
    return {"resolution": data.resolution, "video": dataclasses.asdict(data.video),
            "train": dataclasses.asdict(params_section(run.params, "teachers", TeachersParams).train)}
