import pytest
import torch

from phased_dmd.mixture import GaussianMixture


@pytest.fixture
def gen() -> torch.Generator:
    """A fresh seeded generator per test: random inputs, reproducible failures."""
    return torch.Generator().manual_seed(20251031)


@pytest.fixture(params=[1, 2], ids=["1d", "2d"])
def mixture(request) -> GaussianMixture:
    """A 3-component mixture with unequal weights and widths, in 1-D and 2-D."""
    if request.param == 1:
        return GaussianMixture.create([0.25, 0.45, 0.3], [-2.0, 0.3, 2.2], [0.3, 0.5, 0.2])
    return GaussianMixture.create(
        [0.25, 0.45, 0.3], [[-2.0, 1.0], [0.3, -1.5], [2.2, 0.8]], [[0.3, 0.6], [0.5, 0.2], [0.2, 0.4]]
    )
