"""Diversity of samples drawn for one prompt with different seeds (paper Sec. 5.1, Table 2).

The paper's two measures: the mean pairwise cosine similarity of image features (DINOv3; lower is
more diverse) and the mean pairwise LPIPS distance (higher is more diverse). The functions here take
features and feature maps from any network: DINOv3 and LPIPS's AlexNet at paper scale, the embedded
feature network at embedded scale.
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


def mean_pairwise_perceptual(layers: list[Tensor], group: int) -> Tensor:
    """Mean perceptual distance over the distinct pairs of each group of `group` consecutive samples.

    layers: the feature maps of G * group samples, (G * group, C, H, W) per layer -> (G,)."""
    n = layers[0].shape[0]
    if n % group:
        raise ValueError(f"{n} samples do not split into groups of {group}")
    i, j = torch.triu_indices(group, group, offset=1)
    groups = n // group
    first = (torch.arange(groups)[:, None] * group + i).reshape(-1)
    second = (torch.arange(groups)[:, None] * group + j).reshape(-1)
    d = perceptual_distance([f[first] for f in layers], [f[second] for f in layers])
    return d.view(groups, -1).mean(dim=1)
