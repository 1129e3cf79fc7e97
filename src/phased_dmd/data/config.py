"""The embedded data's settings: params.yaml's `data` section (torch-free, for the workflow)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from omegaconf import MISSING

from phased_dmd import config as C


@dataclass
class VideoConfig:
    """Moving Fashion-MNIST (data/moving.py): clips of `frames` frames, items of `item` pixels on the canvas."""

    frames: int = MISSING  # Wan's 4k + 1 frames
    item: int = MISSING  # pixels; the canvas is the teacher's resolution

    def check(self):
        yield from C.positive("frames", self.frames)
        yield from C.positive("item", self.item)


@dataclass
class DataParams:
    """params.yaml, section `data`: where the embedded data set comes from."""

    fashion_mnist: Optional[str] = MISSING  # a folder with the idx files; null: apt-get download (Debian)
    resolution: int = MISSING  # side of the square images at embedded scale
    video: VideoConfig = field(default_factory=VideoConfig)  # moving items of the video teachers and the classifier

    def check(self):
        if self.resolution not in range(4, 29, 4):
            yield "resolution", "a multiple of 4 (the transformers' patch) from 4 to 28", self.resolution
        if self.video.item > self.resolution:
            yield "video.item", f"at most the canvas (resolution = {self.resolution})", self.video.item
