"""Classifier-free guidance (CFG) of the teacher's velocity, in the forms found in practice."""

from __future__ import annotations

from typing import Literal

from torch import Tensor

from phased_dmd.choices import CFG_FORMS

CfgForm = Literal["standard", "plus_one", "renorm"]


def cfg_standard(v_uncond: Tensor, v_cond: Tensor, scale: float) -> Tensor:
    """Standard CFG: v_uncond + w (v_cond - v_uncond); w = 1 is the conditional model."""
    return v_uncond + scale * (v_cond - v_uncond)


def cfg_plus_one(v_uncond: Tensor, v_cond: Tensor, scale: float) -> Tensor:
    """Self-Forcing / CausVid form: v_cond + w (v_cond - v_uncond), an effective scale of w + 1."""
    return v_cond + scale * (v_cond - v_uncond)


def cfg_renorm(v_uncond: Tensor, v_cond: Tensor, scale: float, patch: int = 1) -> Tensor:
    """QwenImagePipeline's true CFG: the standard form rescaled, token by token, to the norm of v_cond.

    A token is a patch x patch block of pixels over all channels of (B, C, H, W): the norm runs over what
    one packed transformer token holds (patch 1: over the channels of each pixel, any shape).
    """
    guided = cfg_standard(v_uncond, v_cond, scale)
    return guided * (token_norm(v_cond, patch) / token_norm(guided, patch))


def token_norm(v: Tensor, patch: int) -> Tensor:
    """The norm of each patch x patch block over all channels, broadcast back to every pixel of the block."""
    if patch == 1:
        return v.norm(dim=1, keepdim=True)
    b, c, h, w = v.shape
    blocks = v.reshape(b, c, h // patch, patch, w // patch, patch)
    return blocks.pow(2).sum(dim=(1, 3, 5), keepdim=True).sqrt().expand_as(blocks).reshape(b, c, h, w)


def guide(form: CfgForm, v_uncond: Tensor, v_cond: Tensor, scale: float, patch: int = 1) -> Tensor:
    """Guided velocity in the named form (`patch`: the token size for renorm)."""
    if form == "standard":
        return cfg_standard(v_uncond, v_cond, scale)
    if form == "plus_one":
        return cfg_plus_one(v_uncond, v_cond, scale)
    if form == "renorm":
        return cfg_renorm(v_uncond, v_cond, scale, patch)
    raise ValueError(f"unknown CFG form {form!r}; expected one of {CFG_FORMS}")
