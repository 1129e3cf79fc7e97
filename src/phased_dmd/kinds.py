"""The embedded-scale teachers and the paper-scale models they stand in for (torch-free, for the DAG)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TeacherKind:
    architecture: str  # the diffusers transformer class: wan (WanTransformer3DModel) | qwen-image
    task: str  # t2i (one frame) | t2v | i2v (conditioned on the first frame)
    boundary: float | None  # Wan2.2 MoE: the high-noise expert serves t >= boundary; None: one expert
    paper_model: str  # the hub model of the paper this one stands in for
    paper_pipeline: str | None = None  # its diffusers pipeline, where the paper-scale loader supports it

    @property
    def num_experts(self) -> int:
        return 1 if self.boundary is None else 2

    @property
    def is_video(self) -> bool:
        return self.task != "t2i"


KINDS: dict[str, TeacherKind] = {
    "wan2.1": TeacherKind("wan", "t2i", None, "Wan-AI/Wan2.1-T2V-14B-Diffusers", "WanPipeline"),
    "wan2.2": TeacherKind("wan", "t2i", 0.875, "Wan-AI/Wan2.2-T2V-A14B-Diffusers", "WanPipeline"),
    "qwen-image": TeacherKind("qwen-image", "t2i", None, "Qwen/Qwen-Image", "QwenImagePipeline"),
    "wan2.2-t2v": TeacherKind("wan", "t2v", 0.875, "Wan-AI/Wan2.2-T2V-A14B-Diffusers", "WanPipeline"),
    "wan2.2-i2v": TeacherKind("wan", "i2v", 0.9, "Wan-AI/Wan2.2-I2V-A14B-Diffusers", "WanImageToVideoPipeline"),
}
PAPER_SCALE_KINDS: tuple[str, ...] = tuple(k for k, v in KINDS.items() if v.paper_pipeline)  # teachers/hub.py
