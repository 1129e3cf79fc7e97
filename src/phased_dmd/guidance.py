"""Classifier-free guidance (CFG) of the teacher's velocity, in the two forms found in practice."""

from __future__ import annotations

from typing import Literal

from torch import Tensor

from phased_dmd.choices import CFG_FORMS

CfgForm = Literal["standard", "plus_one"]


def cfg_standard(v_uncond: Tensor, v_cond: Tensor, scale: float) -> Tensor:
    """Standard CFG: v_uncond + w (v_cond - v_uncond); w = 1 is the conditional model."""
    return v_uncond + scale * (v_cond - v_uncond)


def cfg_plus_one(v_uncond: Tensor, v_cond: Tensor, scale: float) -> Tensor:
    """Self-Forcing / CausVid form: v_cond + w (v_cond - v_uncond), an effective scale of w + 1."""
    return v_cond + scale * (v_cond - v_uncond)


def guide(form: CfgForm, v_uncond: Tensor, v_cond: Tensor, scale: float) -> Tensor:
    """Guided velocity in the named form."""
    if form == "standard":
        return cfg_standard(v_uncond, v_cond, scale)
    if form == "plus_one":
        return cfg_plus_one(v_uncond, v_cond, scale)
    raise ValueError(f"unknown CFG form {form!r}; expected one of {CFG_FORMS}")
