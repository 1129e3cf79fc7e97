"""A flow-matching model built on a diffusers transformer: velocity v = e - x_0 at (x_t, t, prompt).

At embedded scale one `WanTransformer3DModel` (tiny config) takes images as one-frame videos
(B, C, 1, H, W), as the paper runs Wan2.x for text-to-image. Time t in [0, 1] is given to the
transformer as t * 1000, the diffusers Wan convention; Wan predicts the flow e - x_0 natively.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from diffusers import WanTransformer3DModel
from torch import Tensor, nn

from phased_dmd.choices import TEACHER_KINDS
from phased_dmd.guidance import guide
from phased_dmd.teachers.text import TinyTextEncoder


@dataclass
class TeacherInfo:
    """teacher.json: what a saved teacher is and how to use it."""

    kind: str  # wan2.1
    prompts: list[str]  # prompt i is the text of index i
    resolution: int
    channels: int
    frames: int = 1
    shift: float = 1.0  # timestep shift its sampler uses


class FlowModel(nn.Module):
    """Transformer + text encoder; call with (x (B, C, H, W) or (B, C, F, H, W), t (B,), prompt ids (B,))."""

    def __init__(self, info: TeacherInfo, transformer: WanTransformer3DModel, text_encoder: TinyTextEncoder):
        super().__init__()
        self.info, self.transformer, self.text_encoder = info, transformer, text_encoder

    def forward(self, x: Tensor, t: Tensor, prompt_ids: Tensor) -> Tensor:
        video = x if x.ndim == 5 else x.unsqueeze(2)
        out = self.transformer(video, t.to(x.dtype) * 1000, self.text_encoder(prompt_ids), return_dict=False)[0]
        return out if x.ndim == 5 else out.squeeze(2)

    def guided(self, x: Tensor, t: Tensor, prompt_ids: Tensor, scale: float, form: str = "standard") -> Tensor:
        """Classifier-free guidance with the empty prompt as the unconditional branch (one batched call)."""
        both = self(torch.cat([x, x]), torch.cat([t, t]),
                    torch.cat([self.text_encoder.empty_like(prompt_ids), prompt_ids]))
        v_uncond, v_cond = both.chunk(2)
        return guide(form, v_uncond, v_cond, scale)

    def save(self, folder: Path) -> None:
        """The diffusers layout: transformer/ and text_encoder/ via save_pretrained, plus teacher.json."""
        folder.mkdir(parents=True, exist_ok=True)
        self.transformer.save_pretrained(folder / "transformer")
        self.text_encoder.save_pretrained(folder / "text_encoder")
        (folder / "teacher.json").write_text(json.dumps(asdict(self.info), indent=2) + "\n")


def tiny_wan(info: TeacherInfo, hidden_heads: int = 3, head_dim: int = 32, layers: int = 3, ffn: int = 192,
             patch: int = 4, text_dim: int = 32, tokens: int = 4) -> FlowModel:
    """The embedded-scale Wan2.1-like teacher (about 0.43M parameters at the defaults)."""
    transformer = WanTransformer3DModel(
        patch_size=(1, patch, patch), num_attention_heads=hidden_heads, attention_head_dim=head_dim,
        in_channels=info.channels, out_channels=info.channels, text_dim=text_dim, freq_dim=64, ffn_dim=ffn,
        num_layers=layers, rope_max_seq_len=32)
    return FlowModel(info, transformer, TinyTextEncoder(len(info.prompts), tokens, text_dim))


def load_teacher(folder: Path) -> FlowModel:
    """Load a teacher saved by `FlowModel.save` (embedded scale) with diffusers' from_pretrained."""
    folder = Path(folder)
    spec = folder / "teacher.json"
    if not spec.is_file():
        raise FileNotFoundError(f"{spec} not found: a teacher folder holds teacher.json, transformer/ and "
                                "text_encoder/ (written by the teacher rule)")
    info = TeacherInfo(**json.loads(spec.read_text()))
    if info.kind not in TEACHER_KINDS:
        raise ValueError(f"{spec}: unknown teacher kind {info.kind!r}; expected one of {TEACHER_KINDS}")
    transformer = WanTransformer3DModel.from_pretrained(folder / "transformer")
    text_encoder = TinyTextEncoder.from_pretrained(folder / "text_encoder")
    return FlowModel(info, transformer, text_encoder).eval()
