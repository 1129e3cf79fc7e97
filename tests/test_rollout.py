import pytest
import torch
from scipy import stats

from phased_dmd.method.grids import step_grid
from phased_dmd.method.rollout import renoise_step, rollout, sample_exit_step, step, truncated_rollout
from phased_dmd.toy.mixture import GaussianMixture

MIX_1D = GaussianMixture.create([0.25, 0.45, 0.3], [-2.0, 0.3, 2.2], [0.3, 0.5, 0.2])


def test_euler_with_the_exact_flow_samples_the_mixture(gen):
    """Many Euler steps of the exact probability-flow ODE from t = 1 land on p_0 (KS test)."""
    x1 = torch.randn(10_000, 1, generator=gen, dtype=torch.float64)
    x0 = rollout(MIX_1D.velocity, x1, step_grid(200, shift=3.0), "euler")
    cdf = lambda x: MIX_1D.cdf(torch.as_tensor(x)).numpy()
    assert stats.kstest(x0[:, 0].numpy(), cdf).pvalue > 1e-3


def test_one_step_from_pure_noise_gives_the_data_mean(mixture, gen):
    """At t = 1, x_1 carries no information about x_0, so x0_hat = E[x_0] for every sample."""
    x1 = torch.randn(500, mixture.dim, generator=gen, dtype=torch.float64)
    expected = (mixture.weights[:, None] * mixture.means).sum(0).expand_as(x1)
    for rule in ("euler", "renoise"):
        torch.testing.assert_close(rollout(mixture.velocity, x1, [1.0, 0.0], rule, gen), expected)


def test_renoise_step_draws_from_the_forward_process_around_x0_hat(gen):
    n = 200_000
    x = torch.randn(n, 1, generator=gen, dtype=torch.float64)
    v = torch.full_like(x, 0.5)
    out = renoise_step(x, v, 0.8, 0.4, torch.randn(x.shape, generator=gen, dtype=torch.float64))
    resid = out - 0.6 * (x - 0.8 * v)  # a_0.4 * x0_hat
    assert abs(float(resid.mean())) < 0.01 and float(resid.std()) == pytest.approx(0.4, rel=0.01)


def test_exit_step_is_uniform(gen):
    counts = torch.bincount(torch.tensor([sample_exit_step(4, gen) for _ in range(8000)]), minlength=4)
    assert stats.chisquare(counts.numpy()).pvalue > 1e-3


@pytest.mark.parametrize("exit_step", [0, 2, 3])
def test_truncated_rollout_backpropagates_through_the_exit_step_only(gen, exit_step):
    w = torch.tensor(0.7, requires_grad=True)
    grad_calls = []

    def velocity(x, t):
        grad_calls.append(torch.is_grad_enabled())
        return w * x

    levels = step_grid(4, 3.0)
    x1 = torch.randn(16, 2, generator=gen)
    out = truncated_rollout(velocity, x1, levels, exit_step, 0.0, "euler")
    assert grad_calls == [False] * exit_step + [True]
    # the output is x0_hat at the exit level, after exit_step plain Euler steps
    with torch.no_grad():
        x = rollout(velocity, x1, levels[: exit_step + 1], "euler")
        t = float(levels[exit_step])
        torch.testing.assert_close(out, x - t * w * x)
    out.sum().backward()
    with torch.no_grad():
        torch.testing.assert_close(w.grad, -(t * x).sum())


def test_unknown_step_rule_is_refused():
    with pytest.raises(ValueError, match="unknown step rule 'heun'"):
        step("heun", lambda x, t: x, torch.zeros(1, 1), 1.0, 0.0)


def test_heun_is_second_order_on_a_gaussian():
    """For N(0, sd^2) data the exact flow maps x_1 = z to x_s = sqrt(a_s^2 sd^2 + s^2) z."""
    from phased_dmd.method.rollout import heun_step

    sd = 0.3
    mix = GaussianMixture.create([1.0], [0.0], [sd])
    z = torch.tensor([[1.0]], dtype=torch.float64)
    exact = (0.5**2 * sd**2 + 0.5**2) ** 0.5
    errors = []
    for n in (4, 8):
        x, levels = z, torch.linspace(1.0, 0.5, n + 1).tolist()
        for a, b in zip(levels[:-1], levels[1:]):
            x = heun_step(mix.velocity, x, a, b)
        errors.append(abs(float(x) - exact))
    assert errors[1] < errors[0] / 3.5  # halving the step divides the error by ~4
