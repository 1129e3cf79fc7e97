"""The distillation check on exact answers: a 2-D ring of Gaussians with the analytic teacher.

Stage `pretrain` fits one velocity network to the ring by flow matching (the "teacher weights" that
generator experts and fake models start from, as they start from the teacher at paper scale) and
records the baselines: the exact field's ODE, and the pretrained network with 1 and 4 Euler steps.
Stage `distill` distils it with one method (dmd, sgts, or phased, phase by phase) against the exact
teacher and scores the generator's samples against exact samples of the ring.

    python -m phased_dmd.toy.toy2d stage=distill distill.method=phased seed=0 init=... out_dir=...
"""

from __future__ import annotations

import copy
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

from phased_dmd.engine.loop import PhaseModels, train_phase
from phased_dmd.io import save_weights, write_json
from phased_dmd.method.critic import critic_loss
from phased_dmd.method.phases import levels, plan_phases, run_experts
from phased_dmd.method.rollout import heun_step
from phased_dmd.method.schedule import sample_timesteps
from phased_dmd.metrics.distances import mode_statistics, sliced_wasserstein
from phased_dmd.plots import loss_curves
from phased_dmd.runs import run_main
from phased_dmd.toy.mixture import GaussianMixture
from phased_dmd.toy.networks import ToyVelocityNet
from phased_dmd.toy.toy2d_config import RingConfig, Toy2dRunConfig, toy2d_knobs


class IgnoringCond(torch.nn.Module):
    """An unconditional toy network under the (x, t, cond) model signature."""

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x, t, cond):
        return self.net(x, t)


def ring_mixture(ring: RingConfig) -> GaussianMixture:
    return GaussianMixture.create([1.0] * ring.modes, ring.means(), [[ring.std, ring.std]] * ring.modes)


def pretrain(cfg: Toy2dRunConfig, mixture: GaussianMixture) -> ToyVelocityNet:
    """Flow matching on exact samples (the subinterval objective at s = 0)."""
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    net = ToyVelocityNet(2, cfg.net.hidden, cfg.net.layers)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.pretrain_iterations)
    for _ in range(cfg.pretrain_iterations):
        x0 = mixture.sample(512, gen).float()
        t = sample_timesteps(512, 0.0, 1.0, generator=gen).float()
        loss = critic_loss("subinterval", net, x0, torch.randn(x0.shape, generator=gen), 0.0, t, 1e4)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return net.eval()


@torch.no_grad()
def score(samples: torch.Tensor, mixture: GaussianMixture, ring: RingConfig, ev) -> dict:
    """Sliced W1 to exact samples of the ring, and mode coverage, balance and precision."""
    exact = mixture.sample(len(samples), torch.Generator().manual_seed(ev.seed + 1)).numpy()
    x = samples.double().numpy()
    stats = mode_statistics(x, mixture.means.numpy(), mixture.weights.numpy(), ring.std)
    return {"sliced_w1": sliced_wasserstein(x, exact, seed=ev.seed), **stats}


def eval_noise(cfg: Toy2dRunConfig) -> torch.Tensor:
    return torch.randn(cfg.eval.samples, 2, generator=torch.Generator().manual_seed(cfg.eval.seed))


@torch.no_grad()
def baselines(cfg: Toy2dRunConfig, net: torch.nn.Module, mixture: GaussianMixture) -> dict:
    """The exact teacher's ODE (50 Heun steps) and the undistilled network with 1 and 4 Euler steps."""
    noise = eval_noise(cfg)
    x, grid = noise.double(), torch.linspace(1.0, 0.0, 51).tolist()
    for a, b in zip(grid[:-1], grid[1:]):
        x = heun_step(mixture.velocity, x, a, b)
    out = {"teacher": score(x, mixture, cfg.ring, cfg.eval)}
    for steps in (1, 4):
        plain = copy.copy(cfg.distill)
        plain.method, plain.num_steps = ("dmd", 1) if steps == 1 else ("sgts", 4)
        samples = run_experts([IgnoringCond(net)], plan_phases(plain), noise, None, plain)
        out[f"pretrained_{steps}_step"] = score(samples, mixture, cfg.ring, cfg.eval)
    return out


def distill(cfg: Toy2dRunConfig, mixture: GaussianMixture, out: Path) -> list[torch.nn.Module]:
    """Train the method's phases progressively; return the generator experts.

    A phase finished before an interruption resumes from its last checkpoint, at its end (no training),
    unless it was written with other settings: then it trains afresh.
    """
    init = ToyVelocityNet(2, cfg.net.hidden, cfg.net.layers)
    init.load_state_dict(load_file(cfg.init))
    teacher = lambda x, t, cond: mixture.velocity(x.double(), t.double()).to(x.dtype)  # noqa: E731
    sample_batch = lambda n, gen: (torch.randn(n, 2, generator=gen), None)  # noqa: E731
    experts = []
    for p in range(len(plan_phases(cfg.distill))):
        for expert in experts:
            expert.requires_grad_(False)
        experts.append(copy.deepcopy(init).train())
        wrapped = [IgnoringCond(e) for e in experts]
        models = PhaseModels(teacher=teacher, experts=wrapped, fakes=[IgnoringCond(copy.deepcopy(init).train())])
        history = train_phase(models, cfg.distill, sample_batch, out / f"phase{p + 1}", seed=cfg.seed + 100 * p,
                              desc=f"toy2d {cfg.distill.method} seed {cfg.seed}", checkpoint_every=cfg.checkpoint_every)
        loss_curves(history, out / f"phase{p + 1}" / "losses.png")
        save_weights(out / f"expert{p + 1}.safetensors", experts[-1])
    return experts


def run(cfg: Toy2dRunConfig) -> None:
    torch.set_num_threads(1)
    out, start = Path(cfg.out_dir), time.time()
    mixture = ring_mixture(cfg.ring)
    if cfg.stage == "pretrain":
        net = pretrain(cfg, mixture)
        save_weights(out / "model.safetensors", net)
        write_json(out / "baselines.json", {**baselines(cfg, net, mixture), "seconds": time.time() - start})
        print(f"toy2d: pretrained network for seed {cfg.seed} in {out}/")
        return
    experts = distill(cfg, mixture, out)
    with torch.no_grad():
        samples = run_experts([IgnoringCond(e.eval()) for e in experts], plan_phases(cfg.distill),
                              eval_noise(cfg), None, cfg.distill)
    metrics = score(samples, mixture, cfg.ring, cfg.eval)
    write_json(out / "samples.json", samples[:2000].tolist())
    write_json(out / "metrics.json", {"method": cfg.distill.method, "seed": cfg.seed, "levels": levels(cfg.distill),
                                      **metrics, "seconds": time.time() - start})
    print(f"toy2d: {cfg.distill.method} seed {cfg.seed}: {metrics}; outputs in {out}/")


def main(argv: list[str] | None = None) -> int:
    return run_main("toy2d", Toy2dRunConfig, run, __doc__, argv, toy2d_knobs)


if __name__ == "__main__":
    sys.exit(main())
