"""Teacher settings: params.yaml's `teachers` section and one teacher run (torch-free, for the DAG)."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING

from phased_dmd import config as C
from phased_dmd.choices import CFG_FORMS, SCALES, TEACHER_KINDS
from phased_dmd.teachers.kinds import KINDS, PAPER_SCALE_KINDS


@dataclass
class TeacherTrainConfig:
    iterations: int = 1300  # about 3 minutes on one core for the default tiny Wan at 16x16
    batch_size: int = 128
    lr: float = 1.5e-3
    warmup: int = 100
    ema: float = 0.999
    cond_dropout: float = 0.1
    grad_clip: float = 1.0
    high_noise_share: float = 0.25  # two-expert teachers: share of t drawn in (boundary, 1) for the high-noise expert
    video_batch_size: int = 32  # videos carry `frames` times the tokens of an image
    seed: int = 0

    def check(self):
        for key in ("iterations", "batch_size", "lr", "warmup", "video_batch_size"):
            yield from C.positive(key, getattr(self, key))
        yield from C.open_unit("ema", self.ema)
        yield from C.open_unit("high_noise_share", self.high_noise_share)


@dataclass
class VideoConfig:
    """Moving Fashion-MNIST (data/moving.py): clips of `frames` frames, items of `item` pixels on the canvas."""

    frames: int = 5  # Wan's 4k + 1 frames
    item: int = 10  # pixels; the canvas is the teacher's resolution

    def check(self):
        yield from C.positive("frames", self.frames)
        yield from C.positive("item", self.item)


@dataclass
class TeacherSampleConfig:
    """The sample grid: `per_prompt` samples of every prompt, `steps` Euler steps with CFG."""

    steps: int = 40
    cfg_scale: float = 4.0
    cfg_form: str = "standard"
    per_prompt: int = 8
    seed: int = 0

    def check(self):
        yield from C.choice("cfg_form", self.cfg_form, CFG_FORMS)
        yield from C.positive("steps", self.steps)


@dataclass
class TeachersParams:
    """params.yaml, section `teachers`: which teachers; embedded scale: how they are trained; paper scale: where
    they come from and the prompts encoded for them (teachers/hub.py)."""

    names: list[str] = MISSING
    train: TeacherTrainConfig = field(default_factory=TeacherTrainConfig)
    scale: str = "embedded"  # embedded: train tiny teachers | paper: fetch the paper's from the hub
    sources: dict[str, str] = field(default_factory=dict)  # paper scale: kind -> hub id or local pipeline folder
    prompts: list[str] = field(default_factory=list)  # paper scale: the prompts the students are distilled on
    images: list[str] = field(default_factory=list)  # paper-scale image-to-video: the first frame of each prompt

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
    """Train one embedded teacher (configs/teacher.yaml + overrides) and draw its sample grid."""

    kind: str = MISSING
    out_dir: str = MISSING
    data_dir: str = MISSING
    grid: str = MISSING  # PNG of the sample grid
    resolution: int = 16
    video: VideoConfig = field(default_factory=VideoConfig)
    train: TeacherTrainConfig = field(default_factory=TeacherTrainConfig)
    sample: TeacherSampleConfig = field(default_factory=TeacherSampleConfig)

    def check(self):
        yield from C.choice("kind", self.kind, TEACHER_KINDS)
        if self.video.item > self.resolution:
            yield "video.item", f"at most the canvas (resolution = {self.resolution})", self.video.item
