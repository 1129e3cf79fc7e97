"""The critic objectives against the exact marginal velocity of a Gaussian mixture."""

import pytest
import torch

from phased_dmd.method.critic import (
    critic_loss,
    naive_input_and_target,
    subinterval_loss,
    subinterval_target,
)
from phased_dmd.method.schedule import add_noise, renoise, transition


def _draw(mixture, gen, n, s):
    x0 = mixture.sample(n, gen)
    x_s = add_noise(x0, torch.randn(x0.shape, generator=gen, dtype=torch.float64), s)
    return x0, x_s, torch.randn(x0.shape, generator=gen, dtype=torch.float64)


def _test_functions(x):
    """Functions of x_t; a target is the conditional mean iff its residual is orthogonal to all of them."""
    return [torch.ones_like(x), x, torch.tanh(x), x**2 / (1 + x**2), torch.sin(2 * x)]


def _max_z_score(residual, x_t):
    """Largest |mean(r h)| / standard error over the test functions h."""
    n = residual.shape[0]
    z = [(residual * h).mean(0).abs() / ((residual * h).std(0) / n**0.5) for h in _test_functions(x_t)]
    return float(torch.stack(z).max())


@pytest.mark.parametrize("s,t", [(0.5, 0.6), (0.5, 0.8), (0.3, 0.95), (0.7, 0.9)])
def test_subinterval_target_regresses_to_the_exact_velocity(mixture, gen, s, t):
    """E[target - v(x_t) | x_t] = 0: the residual is orthogonal to every test function of x_t."""
    _, x_s, noise = _draw(mixture, gen, 1_000_000, s)
    x_t = renoise(x_s, noise, s, t)
    residual = subinterval_target(x_s, noise, s, t) - mixture.velocity(x_t, t)
    assert _max_z_score(residual, x_t) < 5.0


@pytest.mark.parametrize("s,t", [(0.5, 0.6), (0.5, 0.8), (0.3, 0.95)])
def test_naive_target_does_not(mixture, gen, s, t):
    """The same check rejects the naive objective: it is biased (Fig. 2c)."""
    _, x_s, noise = _draw(mixture, gen, 200_000, s)
    x_t, target = naive_input_and_target(x_s, noise, t)
    assert _max_z_score(target - mixture.velocity(x_t, t), x_t) > 20.0


def test_clamped_loss_equals_unclamped_where_clamp_is_inactive(mixture, gen):
    n, s = 4096, 0.5
    t = s + 0.5 * torch.rand(n, generator=gen, dtype=torch.float64)
    _, x_s, noise = _draw(mixture, gen, n, s)
    v = torch.randn(x_s.shape, generator=gen, dtype=torch.float64)
    max_weight = 400.0
    _, s_ts = transition(t, s)
    inactive = 1 / s_ts**2 <= max_weight
    assert 0 < int(inactive.sum()) < n  # both regimes are exercised
    clamped = subinterval_loss(v, x_s, noise, s, t, max_weight)
    plain = (v - subinterval_target(x_s, noise, s, t)).pow(2).mean(1)
    torch.testing.assert_close(clamped[inactive], plain[inactive])
    # where it is active the clamp lowers the weight to exactly max_weight * s_ts^2 of the plain one
    ratio = clamped[~inactive] / plain[~inactive]
    torch.testing.assert_close(ratio, max_weight * s_ts[~inactive] ** 2)


def test_paper_printed_minus_sign_would_be_wrong(mixture, gen):
    """With the x_s term subtracted (the summary's typo) the stable form no longer matches the target."""
    n, s = 1000, 0.5
    t = torch.full((n,), 0.8, dtype=torch.float64)
    _, x_s, noise = _draw(mixture, gen, n, s)
    v = subinterval_target(x_s, noise, s, t)  # the exact minimiser of the unclamped loss
    assert float(subinterval_loss(v, x_s, noise, s, t, 1e9).max()) < 1e-20
    assert float(subinterval_loss(v, -x_s, noise, s, t, 1e9).mean()) > 1e-2


def test_everything_reduces_to_flow_matching_at_s_zero(mixture, gen):
    n = 4096
    t = torch.rand(n, generator=gen, dtype=torch.float64) * 0.9 + 0.1
    x0, _, noise = _draw(mixture, gen, n, 0.0)
    torch.testing.assert_close(renoise(x0, noise, 0.0, t), add_noise(x0, noise, t))
    torch.testing.assert_close(subinterval_target(x0, noise, 0.0, t), noise - x0)
    v = torch.randn(x0.shape, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(
        subinterval_loss(v, x0, noise, 0.0, t, max_weight=100.0), (v - (noise - x0)).pow(2).mean(1)
    )


def test_critic_loss_is_minimised_by_the_exact_velocity(mixture, gen):
    """Among velocity fields, the exact one has the lowest expected subinterval loss."""
    n, s = 200_000, 0.5
    t = s + 0.5 * torch.rand(n, generator=gen, dtype=torch.float64)
    _, x_s, noise = _draw(mixture, gen, n, s)
    exact = critic_loss("subinterval", mixture.velocity, x_s, noise, s, t, 1e4)
    for scale in (0.9, 1.1):
        worse = critic_loss("subinterval", lambda x, tt: scale * mixture.velocity(x, tt), x_s, noise, s, t, 1e4)
        assert float(worse) > float(exact)


def test_unknown_objective_is_refused(gen):
    x = torch.zeros(2, 1)
    with pytest.raises(ValueError, match="unknown critic objective 'exact'"):
        critic_loss("exact", lambda x, t: x, x, x, 0.5, torch.full((2,), 0.7), 1.0)
