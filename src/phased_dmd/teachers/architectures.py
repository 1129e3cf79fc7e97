"""The paper's diffusers transformers at tiny size, and how each is called for a velocity v = e - x_0.

- Wan (`WanTransformer3DModel`): videos (B, C, F, H, W), images as one frame; t given as t * 1000.
  Image-to-video (Wan2.2-I2V) concatenates to the noisy video a mask channel (1 on the first frame)
  and the conditioning video (the first frame, zeros after), as WanImageToVideoPipeline does with
  its latent condition; at paper scale the condition is that pipeline's own (teachers/hub.py).
- Qwen-Image (`QwenImageTransformer2DModel`): images packed into a token sequence of p x p patches,
  as QwenImagePipeline packs latents; t given in [0, 1]; `img_shapes` places the patches for RoPE; text of
  varying length comes with its mask (paper scale).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from phased_dmd.diffusers_api import QwenImageTransformer2DModel, WanTransformer3DModel

TRANSFORMER_CLASSES: dict[str, type[nn.Module]] = {
    "wan": WanTransformer3DModel,
    "qwen-image": QwenImageTransformer2DModel,
}


def i2v_condition(first_frame: Tensor, frames: int) -> Tensor:
    """(B, C, H, W) -> (B, 1 + C, F, H, W): the first-frame mask, then the first frame padded with zeros."""
    b, c, h, w = first_frame.shape
    mask = torch.zeros(b, 1, frames, h, w, dtype=first_frame.dtype, device=first_frame.device)
    mask[:, :, 0] = 1
    video = torch.zeros(b, c, frames, h, w, dtype=first_frame.dtype, device=first_frame.device)
    video[:, :, 0] = first_frame
    return torch.cat([mask, video], dim=1)


def wan_velocity(transformer: WanTransformer3DModel, x: Tensor, t: Tensor, text: Tensor,
                 first_frame: Tensor | None = None) -> Tensor:
    """Velocity of x (B, C, H, W) or (B, C, F, H, W) at t (B,) in [0, 1]."""
    video = x if x.ndim == 5 else x.unsqueeze(2)
    if first_frame is not None:  # a 5-D one is already the pipeline's latent condition (paper scale)
        condition = first_frame if first_frame.ndim == 5 else i2v_condition(first_frame, video.shape[2])
        video = torch.cat([video, condition.to(video.dtype)], dim=1)
    v = transformer(video, t.to(x.dtype) * 1000, text, return_dict=False)[0]
    return v if x.ndim == 5 else v.squeeze(2)


def pack_patches(x: Tensor, p: int) -> Tensor:
    """(B, C, H, W) -> (B, (H/p)(W/p), C p p): a token per p x p patch, row-major, as QwenImagePipeline packs."""
    b, c, h, w = x.shape
    return x.view(b, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5).reshape(b, (h // p) * (w // p), c * p * p)


def unpack_patches(tokens: Tensor, c: int, h: int, w: int, p: int) -> Tensor:
    """The inverse of `pack_patches`."""
    b = tokens.shape[0]
    return tokens.view(b, h // p, w // p, c, p, p).permute(0, 3, 1, 4, 2, 5).reshape(b, c, h, w)


def qwen_velocity(transformer: QwenImageTransformer2DModel, x: Tensor, t: Tensor, text: Tensor,
                  first_frame: Tensor | None = None, text_mask: Tensor | None = None) -> Tensor:
    """Velocity of images x (B, C, H, W) at t (B,) in [0, 1], through p x p patch packing; `text_mask`
    (B, tokens) marks the valid text tokens (None: all)."""
    if first_frame is not None or x.ndim != 4:
        raise ValueError("the Qwen-Image teacher makes images: expected x of shape (B, C, H, W) and no first frame")
    b, c, h, w = x.shape
    p = transformer.config.patch_size
    out = transformer(pack_patches(x, p), text, text_mask, t.to(x.dtype), img_shapes=[[(1, h // p, w // p)]] * b,
                      return_dict=False)[0]
    return unpack_patches(out, c, h, w, p)


VELOCITY = {"wan": wan_velocity, "qwen-image": qwen_velocity}


def tiny_transformer(architecture: str, channels: int, i2v: bool = False, heads: int = 3, head_dim: int = 32,
                     layers: int = 3, ffn: int = 192, patch: int = 4, text_dim: int = 32) -> nn.Module:
    """A tiny instance of the architecture: 16 tokens per 16x16 frame at patch 4 (about 0.4M parameters)."""
    if architecture == "wan":
        return WanTransformer3DModel(
            patch_size=(1, patch, patch), num_attention_heads=heads, attention_head_dim=head_dim,
            in_channels=2 * channels + 1 if i2v else channels, out_channels=channels, text_dim=text_dim,
            freq_dim=64, ffn_dim=ffn, num_layers=layers, rope_max_seq_len=32)
    if architecture == "qwen-image":
        return QwenImageTransformer2DModel(
            patch_size=patch, in_channels=channels * patch * patch, out_channels=channels, num_layers=layers,
            attention_head_dim=head_dim, num_attention_heads=heads, joint_attention_dim=text_dim,
            axes_dims_rope=(head_dim // 2, head_dim // 4, head_dim // 4))  # (frame, row, column); sums to head_dim
    raise ValueError(f"unknown architecture {architecture!r}; expected one of {tuple(TRANSFORMER_CLASSES)}")
