import numpy as np
import pytest
import torch
from scipy import stats

from phased_dmd.method.schedule import (
    add_noise,
    renoise,
    sample_timesteps,
    shift_timestep,
    transition,
    unshift_timestep,
    x0_from_velocity,
)
from phased_dmd.toy.mixture import GaussianMixture

MIX_1D = GaussianMixture.create([0.25, 0.45, 0.3], [-2.0, 0.3, 2.2], [0.3, 0.5, 0.2])


@pytest.mark.parametrize("s,t", [(0.0, 0.3), (0.2, 0.5), (0.5, 0.9), (0.7, 0.99)])
def test_renoised_samples_follow_the_exact_marginal(gen, s, t):
    """x_s ~ p_s pushed through p(x_t | x_s) is distributed as p_t (exact CDF, KS test)."""
    x_s = add_noise(MIX_1D.sample(50_000, gen), torch.randn(50_000, 1, generator=gen, dtype=torch.float64), s)
    x_t = renoise(x_s, torch.randn(x_s.shape, generator=gen, dtype=torch.float64), s, t)
    cdf = lambda x: MIX_1D.cdf(torch.as_tensor(x), t).numpy()
    assert stats.kstest(x_t[:, 0].numpy(), cdf).pvalue > 1e-3
    # and not as p_s: the test can tell the levels apart
    assert stats.kstest(x_s[:, 0].numpy(), cdf).pvalue < 1e-6


def test_transition_from_zero_is_the_forward_process():
    t = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)
    a_ts, s_ts = transition(t, 0.0)
    torch.testing.assert_close(a_ts, 1 - t)
    torch.testing.assert_close(s_ts, t)


def test_velocity_conversions_match_the_mixture_posterior(mixture, gen):
    """x0_hat, e_hat and the score implied by the exact flow equal the mixture's own posteriors."""
    t = torch.rand(1000, generator=gen, dtype=torch.float64) * 0.98 + 0.01
    x_t = add_noise(mixture.sample(1000, gen), torch.randn(1000, mixture.dim, generator=gen, dtype=torch.float64), t)
    v = mixture.velocity(x_t, t)
    torch.testing.assert_close(x0_from_velocity(x_t, v, t), mixture.x0_mean(x_t, t))


def test_mixture_score_is_the_gradient_of_its_log_density(mixture, gen):
    x = mixture.sample(200, gen).requires_grad_()
    (grad,) = torch.autograd.grad(mixture.log_prob(x, 0.4).sum(), x)
    torch.testing.assert_close(mixture.score(x.detach(), 0.4), grad)


@pytest.mark.parametrize("shift", [1.0, 3.0, 5.0, 7.0])
def test_shift_inverse_and_ends(shift):
    u = torch.linspace(0, 1, 101, dtype=torch.float64)
    torch.testing.assert_close(unshift_timestep(shift_timestep(u, shift), shift), u)
    assert float(shift_timestep(0.0, shift)) == 0.0 and float(shift_timestep(1.0, shift)) == 1.0


def test_shift_values_from_method():
    assert float(shift_timestep(0.5, 5.0)) == pytest.approx(5 / 6)
    assert float(shift_timestep(0.25, 3.0)) == pytest.approx(0.5)


@pytest.mark.parametrize("low,high,shift", [(0.0, 1.0, 5.0), (0.5, 1.0, 1.0), (0.625, 0.9375, 5.0)])
def test_sampled_timesteps_are_uniform_before_the_shift(gen, low, high, shift):
    t = sample_timesteps(20_000, low, high, shift, gen)
    assert low <= float(t.min()) and float(t.max()) <= high
    u = unshift_timestep(t, shift).numpy()
    u_lo, u_hi = float(unshift_timestep(low, shift)), float(unshift_timestep(high, shift))
    assert stats.kstest(u, stats.uniform(u_lo, u_hi - u_lo).cdf).pvalue > 1e-3
    assert np.isclose(np.median(t.numpy()), float(shift_timestep((u_lo + u_hi) / 2, shift)), atol=0.02)
