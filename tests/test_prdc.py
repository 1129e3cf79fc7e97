"""Precision, recall, density and coverage against known answers: copies of one point, held-out splits of one
Gaussian, a mixture with half its modes dropped, prompts with different laws, and a closed form for density."""

import math

import pytest
import torch

from phased_dmd.metrics.diversity import mean_pairwise_cosine
from phased_dmd.metrics.prdc import knn_radii, per_prompt_prdc, prdc


def modes(gen: torch.Generator, n: int, means: torch.Tensor, which: list[int]) -> torch.Tensor:
    """n points of the unit-width Gaussian mixture with equal weights on the modes `which` of means (K, D)."""
    picks = torch.tensor(which)[torch.randint(len(which), (n,), generator=gen)]
    return means[picks] + torch.randn(n, means.shape[1], generator=gen)


def test_knn_radii_excludes_the_point_itself():
    points = torch.tensor([[0.0], [1.0], [3.0], [7.0]])
    # neighbours of 0 at 1, 3, 7; of 1 at 1, 2, 6; of 3 at 2, 3, 4; of 7 at 4, 6, 7
    assert knn_radii(points, 1).tolist() == [1.0, 1.0, 2.0, 4.0]
    assert knn_radii(points, 3).tolist() == [7.0, 6.0, 4.0, 7.0]


@pytest.mark.parametrize("jitter", [0.0, 1e-4], ids=["copies", "jittered"])
def test_copies_of_one_point_have_no_recall_or_coverage(gen, jitter):
    real = torch.randn(1000, 16, generator=gen)
    fake = real[:1].repeat(200, 1) + jitter * torch.randn(200, 16, generator=gen)
    scores = prdc(real, fake)
    assert scores["recall"] < 0.05 and scores["coverage"] < 0.05
    assert scores["precision"] == 1.0  # every copy lies on a real point: fidelity alone misses the collapse
    assert mean_pairwise_cosine(fake[None]).item() == pytest.approx(1.0, abs=1e-6)
    if jitter == 0.0:
        # the copies' balls have radius 0 and reach only the copied point itself (balls are closed); all copies
        # lie in the same c real balls (the copied point's own and those of the points it neighbours), which
        # makes coverage c / 1000 and density 200 c / (5 * 200)
        assert scores["recall"] == pytest.approx(1 / 1000)
        assert scores["coverage"] * 1000 == pytest.approx(scores["density"] * 5)


@pytest.mark.parametrize("dim, k", [(8, 5), (16, 10)])
def test_held_out_split_of_one_gaussian_scores_about_one(gen, dim, k):
    # k-NN balls shrink into the bulk as the dimension grows: with 1000 points precision and recall of identical
    # laws are about 0.93 at 8 dims and k=5 but 0.87 at 16 dims and k=5 (Naeem et al.'s point), 0.94 at k=10
    real, fake = torch.randn(1000, dim, generator=gen), torch.randn(1000, dim, generator=gen)
    scores = prdc(real, fake, k)
    assert scores["precision"] > 0.9 and scores["recall"] > 0.9
    assert 0.8 < scores["density"] < 1.2  # its expectation is exactly 1 for identical laws
    assert scores["coverage"] > 0.9  # about 1 - 2^-k for identical laws and equal sizes


def test_dropping_half_the_modes_halves_coverage_and_recall(gen):
    means = 20.0 * torch.eye(8)  # 8 modes about 28 widths apart
    real = modes(gen, 2048, means, list(range(8)))
    half = prdc(real, modes(gen, 1024, means, [0, 1, 2, 3]))
    assert 0.4 < half["coverage"] < 0.6 and 0.4 < half["recall"] < 0.6
    assert half["precision"] > 0.9 and 0.8 < half["density"] < 1.2  # what is generated is faithful
    full = prdc(real, modes(gen, 2048, means, list(range(8))))  # equal sizes: coverage about 1 - 2^-k
    assert min(full["precision"], full["recall"], full["coverage"]) > 0.9 and 0.8 < full["density"] < 1.2


def test_per_prompt_prdc_compares_each_prompt_with_its_own_reference(gen):
    means = torch.zeros(2, 8)
    means[1, 0] = 20.0  # prompt 1's law lies far from prompt 0's
    real = torch.cat([modes(gen, 1000, means, [0]), modes(gen, 1000, means, [1])])
    real_ids = torch.tensor([0] * 1000 + [1] * 1000)
    # generated for prompt 0 only, in its law: half the pooled reference is out of its reach
    fake, fake_ids = modes(gen, 1000, means, [0]), torch.zeros(1000, dtype=torch.long)
    pooled = prdc(real, fake)
    assert pooled["recall"] < 0.6 and pooled["coverage"] < 0.6
    alone = per_prompt_prdc(real, real_ids, fake, fake_ids)
    assert alone == prdc(real[:1000], fake)  # prompts absent from fake do not count
    assert alone["recall"] > 0.9 and alone["coverage"] > 0.9
    # both prompts generated, but prompt 1 in prompt 0's law: pooled precision cannot see the mix-up
    swapped = torch.cat([fake, modes(gen, 1000, means, [0])])
    swapped_ids = torch.tensor([0] * 1000 + [1] * 1000)
    assert prdc(real, swapped)["precision"] > 0.9
    scores = per_prompt_prdc(real, real_ids, swapped, swapped_ids)
    assert 0.4 < scores["precision"] < 0.5  # prompt 0 about 0.93, prompt 1 none
    per_prompt = [prdc(real[real_ids == p], swapped[swapped_ids == p]) for p in (0, 1)]
    assert scores == {name: (per_prompt[0][name] + per_prompt[1][name]) / 2 for name in scores}


def test_errors_name_the_sizes(gen):
    real, fake = torch.randn(100, 4, generator=gen), torch.randn(5, 4, generator=gen)
    with pytest.raises(ValueError, match="100 real and 5 fake"):
        prdc(real, fake, k=5)
    with pytest.raises(ValueError, match="5 real and 100 fake"):
        prdc(fake, real, k=5)
    with pytest.raises(ValueError, match="no reference"):
        per_prompt_prdc(real, torch.zeros(100, dtype=torch.long), real[:50], torch.full((50,), 3))


def test_density_of_points_at_simplex_centres_is_k_plus_one_over_k():
    # 4 real groups of k+1 points at the vertices of a regular simplex with unit edges, groups 100 apart: each
    # point's k-th neighbour is the group's farthest other vertex (at 1), so its ball reaches its whole group,
    # and the group's centre, sqrt(k / (2 (k+1))) < 1 from every vertex, lies in all k+1 balls of the group
    k = 5
    simplex = torch.eye(k + 1) / math.sqrt(2)
    offsets = 100.0 * torch.eye(4)
    real = torch.cat([torch.cat([simplex, offsets[g].expand(k + 1, 4)], dim=1) for g in range(4)])
    centres = real.view(4, k + 1, -1).mean(dim=1)
    assert knn_radii(real, k).tolist() == pytest.approx([1.0] * 4 * (k + 1))
    # fakes: three at group 0's centre, one at group 1's, two far from every group
    far = torch.full((2, real.shape[1]), 1000.0) * torch.tensor([[1.0], [-1.0]])
    fake = torch.cat([centres[[0, 0, 0, 1]], far])
    scores = prdc(real, fake, k)
    assert scores["density"] == pytest.approx(4 * (k + 1) / (k * 6))  # 4 fakes in k+1 balls each, of 6
    assert scores["precision"] == pytest.approx(4 / 6)
    assert scores["coverage"] == pytest.approx(0.5)  # groups 0 and 1 of 4
