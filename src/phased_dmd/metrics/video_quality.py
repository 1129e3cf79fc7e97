"""VBench's video quality dimensions that run without their own networks here (paper Tables 4 and 5).

Each follows its VBench module (read in vbench/*.py), given frames and, where VBench uses a network, the
features or frame interpolator of the chosen backend:

- subject consistency (`subject_consistency.py`; background consistency is the same rule on CLIP
  features): per frame after the first, the mean of max(0, cos) with the previous frame's features and
  with the first frame's; averaged over frames.
- temporal flickering (`temporal_flickering.py`): (255 - the mean absolute difference of consecutive
  8-bit frames) / 255.
- motion smoothness (`motion_smoothness.py`): keep the even frames, interpolate the odd ones between their
  neighbours (AMT-S in VBench), and score (255 - the mean absolute difference to the real odd frames) / 255.

Aesthetic and imaging quality need the LAION aesthetic predictor and MUSIQ: not here.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

Interpolator = Callable[[np.ndarray, np.ndarray], np.ndarray]  # two 8-bit frames -> the frame between them


def to_uint8(video: Tensor) -> np.ndarray:
    """A video (C, F, H, W) in [-1, 1] -> its 8-bit frames (F, H, W, C), as a saved video holds them."""
    return np.clip(np.rint((video.float().permute(1, 2, 3, 0).numpy() + 1) * 127.5), 0, 255).astype(np.uint8)


def feature_consistency(features: Tensor) -> float:
    """VBench's subject (and background) consistency of one video from its frame features (F, D)."""
    unit = torch.nn.functional.normalize(features.float(), dim=-1)
    previous = (unit[1:] * unit[:-1]).sum(dim=-1).clamp(min=0)
    first = (unit[1:] * unit[:1]).sum(dim=-1).clamp(min=0)
    return float(((previous + first) / 2).mean())


def temporal_flickering(frames: np.ndarray) -> float:
    """VBench's temporal flickering score of one video's 8-bit frames (F, H, W, C): 1 = no change at all."""
    x = frames.astype(np.float32)
    return float((255.0 - np.abs(x[1:] - x[:-1]).mean(axis=tuple(range(1, x.ndim))).mean()) / 255.0)


def blend(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The embedded stand-in for AMT-S: the 8-bit average of the two neighbouring frames."""
    return np.rint((a.astype(np.float32) + b.astype(np.float32)) / 2).astype(np.uint8)


def motion_smoothness(frames: np.ndarray, interpolate: Interpolator = blend) -> float:
    """VBench's motion smoothness of one video's 8-bit frames (F, H, W, C), F >= 3."""
    even, odd = frames[::2], frames[1::2]
    made = [interpolate(a, b) for a, b in zip(even[:-1], even[1:])]
    diffs = [np.abs(m.astype(np.float32) - o.astype(np.float32)).mean() for m, o in zip(made, odd)]
    return float((255.0 - np.mean(diffs)) / 255.0)
