"""Moving Fashion-MNIST: short videos of one item crossing a canvas, for text- and image-to-video.

Each clip places one item (downsampled to `item` pixels) on a black canvas and moves it in a
straight line at constant speed: start and end offsets are drawn uniformly in the canvas, so speed
and direction vary per clip (0 to about 1.5 pixels per frame at the defaults). Sub-pixel positions
are rendered with bilinear interpolation. Clips are drawn on the fly, reproducibly from a generator.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def moving_clips(items: Tensor, frames: int, canvas: int, generator: torch.Generator) -> Tensor:
    """items (B, C, s, s) in [-1, 1] -> clips (B, C, frames, canvas, canvas), the background at -1."""
    b, c, s, _ = items.shape
    margin = (canvas - s) / 2  # the largest offset from the centre, in pixels
    pad = (canvas - s) // 2
    centred = F.pad(items + 1, (pad, canvas - s - pad, pad, canvas - s - pad))  # background 0 while moving
    start, end = ((torch.rand(b, 2, generator=generator) * 2 - 1) * margin for _ in range(2))
    out = []
    for f in range(frames):
        offset = start + (end - start) * (f / max(frames - 1, 1))  # pixels, (dx, dy)
        theta = torch.zeros(b, 2, 3)
        theta[:, 0, 0] = theta[:, 1, 1] = 1
        theta[:, :, 2] = -2 * offset / canvas  # output(p) = input(p - offset), in normalised coordinates
        grid = F.affine_grid(theta, (b, c, canvas, canvas), align_corners=False)
        out.append(F.grid_sample(centred, grid, mode="bilinear", padding_mode="zeros", align_corners=False))
    return torch.stack(out, dim=2) - 1
