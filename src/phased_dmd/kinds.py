"""The embedded-scale teachers and the paper-scale models they stand in for (torch-free, for the DAG)."""

from __future__ import annotations

from dataclasses import dataclass

PAPER_SHIFT = 5.0  # Wan's sampling shift at 480p/720p: the paper's fixed times and boundaries are shifted by it


def paper_time(u: float, shift: float = PAPER_SHIFT) -> float:
    """A time of the embedded scale (shift 1 at 16x16) as the paper writes it: t = k u / (1 + (k - 1) u)."""
    return shift * u / (1 + (shift - 1) * u)


def embedded_time(t: float, shift: float = PAPER_SHIFT) -> float:
    """The paper's time t (shifted by k for its 720p latents) at the embedded scale, whose teachers train and
    sample with shift 1 at 16x16, where no shift is needed for the same signal-to-noise ratio (SD3, Esser et al.
    2024: the shift grows with the square root of the latent positions): u = t / (k - (k - 1) t)."""
    return t / (shift - (shift - 1) * t)


@dataclass(frozen=True)
class TeacherKind:
    architecture: str  # the diffusers transformer class: wan (WanTransformer3DModel) | qwen-image
    task: str  # t2i (one frame) | t2v | i2v (conditioned on the first frame)
    boundary: float | None  # Wan2.2 MoE at paper scale: the high-noise expert serves t >= boundary; None: one expert
    paper_model: str  # the hub model of the paper this one stands in for
    paper_pipeline: str | None = None  # its diffusers pipeline, where the paper-scale loader supports it

    @property
    def num_experts(self) -> int:
        return 1 if self.boundary is None else 2

    @property
    def embedded_boundary(self) -> float | None:
        """The boundary of the tiny teacher that stands in for this one: the paper's, mapped by `embedded_time`."""
        return None if self.boundary is None else embedded_time(self.boundary)

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
