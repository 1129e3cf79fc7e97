"""Diversity of samples drawn for one prompt with different seeds (paper Sec. 5.1, Table 2).

The paper's two measures: the mean pairwise cosine similarity of image features (DINOv3; lower is
more diverse) and the mean pairwise LPIPS distance (higher is more diverse). The functions here take
features and feature maps from any network: DINOv3 and LPIPS's AlexNet at paper scale, the embedded
feature network at embedded scale. A third, in pixels, sees the within-prompt variation that a network
trained to name classes learns to ignore.
"""

from __future__ import annotations

import torch
from torch import Tensor


def mean_pairwise_cosine(features: Tensor) -> Tensor:
    """Mean cosine similarity over the distinct pairs of each group: features (G, n, D) -> (G,)."""
    unit = torch.nn.functional.normalize(features, dim=-1)
    sims = unit @ unit.transpose(1, 2)
    n = features.shape[1]
    return (sims.sum(dim=(1, 2)) - sims.diagonal(dim1=1, dim2=2).sum(dim=1)) / (n * (n - 1))


def perceptual_distance(layers_a: list[Tensor], layers_b: list[Tensor], eps: float = 1e-10) -> Tensor:
    """LPIPS's formula (Zhang et al. 2018, Eq. 1) with unit layer weights: per layer, unit-normalise each
    position's channel vector, square the difference, sum over channels, average over positions; sum
    over layers. Feature maps (B, C, H, W) per layer -> (B,). (LPIPS learns a weight per channel.)"""
    total = 0.0
    for a, b in zip(layers_a, layers_b, strict=True):
        a = a / (a.pow(2).sum(dim=1, keepdim=True).sqrt() + eps)
        b = b / (b.pow(2).sum(dim=1, keepdim=True).sqrt() + eps)
        total = total + (a - b).pow(2).sum(dim=1).mean(dim=(1, 2))
    return total


def pixel_distance(a: list[Tensor], b: list[Tensor]) -> Tensor:
    """Root mean square difference of the pixels of paired samples (B, ...) -> (B,): a distance in a space that
    no network has made blind to within-class variation."""
    return (a[0] - b[0]).pow(2).flatten(1).mean(dim=1).sqrt()


def group_pairs(n: int, group: int) -> tuple[Tensor, Tensor]:
    """Indices (first, second) of the distinct pairs within each group of `group` consecutive samples of n,
    group by group: G * group (group - 1) / 2 pairs."""
    if n % group:
        raise ValueError(f"{n} samples do not split into groups of {group}")
    i, j = torch.triu_indices(group, group, offset=1)
    starts = torch.arange(n // group)[:, None] * group
    return (starts + i).reshape(-1), (starts + j).reshape(-1)


def mean_pairwise_distance(distance, parts: list[Tensor], group: int) -> Tensor:
    """Mean of distance(parts of a, parts of b) -> (P,) over the distinct pairs of each group of `group`
    consecutive samples; `parts` describe the G * group samples, (G * group, ...) each (a network's feature
    maps, computed once per sample, or the samples themselves) -> (G,)."""
    n = len(parts[0])
    first, second = group_pairs(n, group)
    return distance([p[first] for p in parts], [p[second] for p in parts]).view(n // group, -1).mean(dim=1)
