"""The DMD generator gradient against closed forms: Gaussian generators and shifted mixtures."""


import pytest
import torch

from phased_dmd.method.dmd import dmd_direction, dmd_generator_loss
from phased_dmd.method.schedule import add_noise
from phased_dmd.toy.mixture import GaussianMixture


def _kl_gaussians(mu_p, sd_p, mu_q, sd_q) -> float:
    """KL(N(mu_p, sd_p^2) || N(mu_q, sd_q^2)), summed over independent dimensions."""
    return float((torch.log(sd_q / sd_p) + (sd_p**2 + (mu_p - mu_q) ** 2) / (2 * sd_q**2) - 0.5).sum())


def _dmd_param_grads(real, mu, log_sd, gen, n=200_000):
    """Gradient of the DMD loss with respect to a Gaussian generator x = mu + exp(log_sd) z."""
    z = torch.randn(n, mu.shape[0], generator=gen, dtype=torch.float64)
    x = mu + log_sd.exp() * z
    fake = GaussianMixture.create([1.0], mu.detach()[None], log_sd.detach().exp()[None])
    t = torch.rand(n, generator=gen, dtype=torch.float64) * 0.96 + 0.02
    x_t = add_noise(x.detach(), torch.randn(x.shape, generator=gen, dtype=torch.float64), t)
    loss = dmd_generator_loss(x, fake.x0_mean(x_t, t), real.x0_mean(x_t, t))
    return torch.autograd.grad(loss, (mu, log_sd))


@pytest.mark.parametrize(
    "mu0,sd0",
    [([-1.0, 0.5], [1.2, 0.6]), ([1.0, -0.5], [1.2, 0.6]), ([-1.0, 0.5], [0.5, 1.5])],
    ids=["both-differ", "only-spread-differs", "only-mean-differs"],
)
def test_one_step_lowers_the_exact_kl_to_the_real_gaussian(gen, mu0, sd0):
    real = GaussianMixture.create([1.0], [[1.0, -0.5]], [[0.5, 1.5]])
    mu = torch.tensor(mu0, dtype=torch.float64, requires_grad=True)
    log_sd = torch.tensor(sd0, dtype=torch.float64).log().requires_grad_()
    kl_before = _kl_gaussians(mu.detach(), log_sd.detach().exp(), real.means[0], real.stds[0])
    g_mu, g_log_sd = _dmd_param_grads(real, mu, log_sd, gen)
    lr = 0.05 / float(torch.cat([g_mu, g_log_sd]).norm())  # a small step of fixed length
    mu_new, sd_new = mu.detach() - lr * g_mu, (log_sd.detach() - lr * g_log_sd).exp()
    kl_after = _kl_gaussians(mu_new, sd_new, real.means[0], real.stds[0])
    assert kl_after < kl_before - 1e-3
    # when only one kind of parameter is off, each of them moves toward its real value
    for grad, value, target in ((g_mu, mu, real.means[0]), (g_log_sd, log_sd, real.stds[0].log())):
        off = target - value.detach()
        if mu0 == [1.0, -0.5] or sd0 == [0.5, 1.5]:
            if off.abs().min() > 1e-9:
                assert bool((torch.sign(-grad) == torch.sign(off)).all())


def test_gradient_vanishes_when_the_generator_matches_the_real_gaussian(gen):
    real = GaussianMixture.create([1.0], [[1.0, -0.5]], [[0.5, 1.5]])
    mu = real.means[0].clone().requires_grad_()
    log_sd = real.stds[0].log().clone().requires_grad_()
    g_mu, g_log_sd = _dmd_param_grads(real, mu, log_sd, gen)
    assert float(torch.cat([g_mu, g_log_sd]).abs().max()) < 1e-12


def _shifted(mixture: GaussianMixture, b: torch.Tensor) -> GaussianMixture:
    return GaussianMixture(mixture.weights, mixture.means + b, mixture.stds)


def test_shifted_mixture_is_pulled_back_toward_the_real_one(mixture, gen):
    """Generator x = y + b, y from the real mixture: its law is the real one shifted by b.

    W2 between the two is exactly |b|; one step along the DMD gradient lowers it. The fake's denoiser is the
    real one's at x_t shifted back by a_t b, plus b (exact for a shifted law), so the direction points along b,
    flips with it, and vanishes with it.
    """
    n = 100_000
    b = torch.full((mixture.dim,), 0.4, dtype=torch.float64, requires_grad=True)
    y = mixture.sample(n, gen)
    x = y + b
    fake = _shifted(mixture, b.detach())
    t = torch.rand(n, generator=gen, dtype=torch.float64) * 0.96 + 0.02
    x_t = add_noise(x.detach(), torch.randn(x.shape, generator=gen, dtype=torch.float64), t)
    (g_b,) = torch.autograd.grad(dmd_generator_loss(x, fake.x0_mean(x_t, t), mixture.x0_mean(x_t, t)), b)
    b_new = b.detach() - 0.1 * g_b / g_b.norm()
    assert float(b_new.norm()) < float(b.detach().norm()) - 0.05

    shift = (1 - t[:, None]) * b.detach()  # a_t b: how far the shift moves x_t
    torch.testing.assert_close(fake.x0_mean(x_t, t), mixture.x0_mean(x_t - shift, t) + b.detach(), rtol=0, atol=1e-9)
    along = {}
    for sign in (1.0, -1.0, 0.0):
        shifted = _shifted(mixture, sign * b.detach())
        x_s = add_noise(y + sign * b.detach(), torch.randn(y.shape, generator=gen, dtype=torch.float64), t)
        along[sign] = float((dmd_direction(y + sign * b.detach(), shifted.x0_mean(x_s, t), mixture.x0_mean(x_s, t))
                             @ b.detach()).mean())
    assert along[1.0] > 0.05 and along[-1.0] < -0.05 and abs(along[0.0]) < 1e-12


def test_loss_gradient_is_the_normalised_direction(gen):
    x = torch.randn(8, 3, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    x0_fake, x0_real = torch.randn(2, 8, 3, 4, generator=gen, dtype=torch.float64)
    (grad,) = torch.autograd.grad(dmd_generator_loss(x, x0_fake, x0_real), x)
    scale = (x.detach() - x0_real).abs().mean(dim=(1, 2), keepdim=True)
    torch.testing.assert_close(grad * x.numel(), (x0_fake - x0_real) / scale)


def test_half_precision_inputs_give_a_float32_loss(gen):
    x = torch.randn(4, 16, generator=gen).to(torch.bfloat16).requires_grad_()
    x0_fake, x0_real = torch.randn(2, 4, 16, generator=gen).to(torch.bfloat16)
    loss = dmd_generator_loss(x, x0_fake, x0_real)
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
