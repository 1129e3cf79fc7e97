"""Diversity and Frechet distances against closed forms: vectors at known angles, Gaussians with known
covariances."""

import math

import numpy as np
import pytest
import torch

from phased_dmd.metrics.diversity import mean_pairwise_cosine, mean_pairwise_distance, perceptual_distance
from phased_dmd.metrics.frechet import feature_frechet, frechet_distance


def star(k: int, scale: float = 1.0) -> torch.Tensor:
    """k vectors in the plane at equal angles: every pair has cosine cos(2 pi m / k)."""
    a = torch.arange(k) * 2 * math.pi / k
    return scale * torch.stack([a.cos(), a.sin()], dim=1)


def test_mean_pairwise_cosine_of_vectors_at_known_angles():
    groups = torch.stack([star(3, 2.0), torch.ones(3, 2) * torch.tensor([1.0, 2.0, 3.0])[:, None]])
    # three at 120 degrees: every pair -1/2 (length does not matter); three parallel vectors: 1
    assert mean_pairwise_cosine(groups).tolist() == pytest.approx([-0.5, 1.0], abs=1e-6)
    # four at 90 degrees: pairs at 90 (cos 0) x4 and 180 (cos -1) x2 -> -1/3
    assert mean_pairwise_cosine(star(4)[None]).item() == pytest.approx(-1 / 3, abs=1e-6)


def test_perceptual_distance_is_lpips_formula_with_unit_weights():
    u, v = star(3)[0], star(3)[1]  # cosine -1/2: ||u - v||^2 of unit vectors = 2 - 2 cos = 3
    a = torch.zeros(1, 2, 2, 2)
    b = torch.zeros(1, 2, 2, 2)
    a[0, :, :, :] = u[:, None, None] * 5.0  # channel vectors are normalised: their length does not count
    b[0, :, :, :] = u[:, None, None]
    b[0, :, 0, 0] = v  # one of four positions differs: 3 / 4 from this layer
    second = [torch.ones(1, 3, 1, 1), -torch.ones(1, 3, 1, 1)]  # opposite directions: 4
    assert perceptual_distance([a], [b]).item() == pytest.approx(0.75, abs=1e-6)
    assert perceptual_distance([a, second[0]], [b, second[1]]).item() == pytest.approx(4.75, abs=1e-6)
    assert perceptual_distance([a], [a]).item() == pytest.approx(0.0, abs=1e-6)


def test_mean_pairwise_distance_averages_every_pair_within_each_group():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(6, 4, 3, 3, generator=gen)
    layers = lambda t: [t, t[..., :2, :2] ** 2]  # noqa: E731
    distance = lambda a, b: perceptual_distance(layers(a), layers(b))  # noqa: E731
    got = mean_pairwise_distance(perceptual_distance, layers(x), group=3)
    for g in range(2):
        pairs = [(g * 3 + i, g * 3 + j) for i in range(3) for j in range(i + 1, 3)]
        brute = np.mean([distance(x[[i]], x[[j]]).item() for i, j in pairs])
        assert got[g].item() == pytest.approx(brute, rel=1e-5)
    with pytest.raises(ValueError, match="groups of 4"):
        mean_pairwise_distance(perceptual_distance, layers(x), group=4)


def test_frechet_distance_of_gaussians_with_commuting_covariances():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    s1, s2 = np.array([1.0, 2.0, 0.5]), np.array([3.0, 2.0, 1.0])  # standard deviations
    expected = ((mu1 - mu2) ** 2).sum() + ((s1 - s2) ** 2).sum()  # W2^2 of diagonal Gaussians
    rot = np.linalg.qr(np.random.default_rng(0).normal(size=(3, 3)))[0]  # the same rotation of both
    c1, c2 = rot @ np.diag(s1**2) @ rot.T, rot @ np.diag(s2**2) @ rot.T
    assert frechet_distance(mu1, c1, mu2, c2) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(mu1, c1, mu1, c1) == pytest.approx(0.0, abs=1e-9)


def test_feature_frechet_of_samples_converges_to_the_closed_form():
    rng = np.random.default_rng(1)
    a = rng.normal(0.0, 1.0, size=(200_000, 2))
    b = rng.normal([1.0, 0.0], [2.0, 1.0], size=(200_000, 2))
    assert feature_frechet(a, b) == pytest.approx(1.0 + 1.0, abs=0.03)


def test_frechet_distance_of_singular_covariances_is_finite():
    """Fewer samples than feature dimensions (a singular covariance, as per-prompt sets are): pytorch-fid's
    regularised root keeps the distance finite, zero for a set against itself and the squared shift of a
    shifted copy."""
    a = np.random.default_rng(2).normal(size=(12, 40))
    shift = np.zeros(40)
    shift[0] = 3.0
    assert feature_frechet(a, a) == pytest.approx(0.0, abs=1e-4)
    assert feature_frechet(a, a + shift) == pytest.approx(9.0, abs=1e-4)
