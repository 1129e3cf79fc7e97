"""Precision, recall, density and coverage of generated features against reference features.

Precision and recall as Kynkaanniemi et al. 2019 ("Improved Precision and Recall Metric for Assessing
Generative Models"): each set's manifold is the union of balls around its points, each ball's radius the
distance to the point's k-th nearest neighbour in its own set; precision is the share of generated points
inside the reference manifold, recall the share of reference points inside the generated one. Density and
coverage as Naeem et al. 2020 ("Reliable Fidelity and Diversity Metrics for Generative Models"): density
counts how many reference balls hold each generated point (about 1 when the two distributions agree),
coverage is the share of reference balls that hold at least one generated point. Balls are closed
(distance <= radius, as Kynkaanniemi et al. write it); Naeem et al.'s code uses open ones, which differs
only at ties. Distances are Euclidean, computed in float64 on the full pairwise matrix.
"""

from __future__ import annotations

import torch
from torch import Tensor

K = 5  # neighbours of the k-NN balls (Naeem et al. 2020 recommend 5)


def neighbours(n: int, k: int = K) -> int:
    """k for sets of n points per prompt: k, or n - 1 where a set has no more than k points (tiny test runs)."""
    return max(1, min(k, n - 1))


def _distances(a: Tensor, b: Tensor) -> Tensor:
    """Euclidean distances between the rows of a (N, D) and b (M, D) -> (N, M), in float64."""
    return torch.cdist(a.double(), b.double())


def knn_radii(features: Tensor, k: int) -> Tensor:
    """Distance of each point of features (N, D) to its k-th nearest neighbour in the same set, itself
    excluded -> (N,)."""
    if features.shape[0] <= k:
        raise ValueError(f"k-th neighbours need more than k={k} points, got {features.shape[0]}")
    # each point's own distance 0 is the smallest of its row: the k-th neighbour is the (k+1)-th smallest
    return _distances(features, features).topk(k + 1, dim=1, largest=False).values[:, k]


def precision(real_radii: Tensor, real_fake: Tensor) -> float:
    """Share of fake points within some real point's k-NN ball; real_fake: distances (N real, M fake)."""
    return (real_fake <= real_radii[:, None]).any(dim=0).double().mean().item()


def recall(fake_radii: Tensor, real_fake: Tensor) -> float:
    """Share of real points within some fake point's k-NN ball; real_fake: distances (N real, M fake)."""
    return (real_fake <= fake_radii[None, :]).any(dim=1).double().mean().item()


def density(real_radii: Tensor, real_fake: Tensor, k: int) -> float:
    """(1 / (k M)) sum_j sum_i 1[fake_j in ball(real_i)]: the mean number of real k-NN balls holding a fake
    point, over k; real_fake: distances (N real, M fake)."""
    return (real_fake <= real_radii[:, None]).double().sum().item() / (k * real_fake.shape[1])


def coverage(real_radii: Tensor, real_fake: Tensor) -> float:
    """Share of real points whose nearest fake point lies within their own k-NN ball; real_fake: distances
    (N real, M fake)."""
    return (real_fake.min(dim=1).values <= real_radii).double().mean().item()


def prdc(real: Tensor, fake: Tensor, k: int = 5) -> dict[str, float]:
    """Precision, recall, density and coverage of fake features (M, D) against real features (N, D)."""
    if real.shape[0] <= k or fake.shape[0] <= k:
        raise ValueError(f"PRDC with k={k} needs more than k points per set, got {real.shape[0]} real and "
                         f"{fake.shape[0]} fake")
    real_radii, fake_radii = knn_radii(real, k), knn_radii(fake, k)
    real_fake = _distances(real, fake)
    return {
        "precision": precision(real_radii, real_fake),
        "recall": recall(fake_radii, real_fake),
        "density": density(real_radii, real_fake, k),
        "coverage": coverage(real_radii, real_fake),
    }


def per_prompt_prdc(real: Tensor, real_ids: Tensor, fake: Tensor, fake_ids: Tensor, k: int = 5) -> dict[str, float]:
    """PRDC of each prompt's fake features against the real features of the same prompt id, averaged over the
    prompts present in fake; real (N, D) with real_ids (N,), fake (M, D) with fake_ids (M,)."""
    scores = []
    for prompt in fake_ids.unique().tolist():
        reference = real[real_ids == prompt]
        if reference.shape[0] == 0:
            raise ValueError(f"prompt {prompt} has {int((fake_ids == prompt).sum())} fake points but no reference")
        scores.append(prdc(reference, fake[fake_ids == prompt], k))
    return {name: sum(s[name] for s in scores) / len(scores) for name in ("precision", "recall", "density", "coverage")}
