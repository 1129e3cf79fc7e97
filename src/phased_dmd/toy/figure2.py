"""Figure 2: score matching within a subinterval, on a 1-D Gaussian mixture with an exact teacher.

Three small velocity networks are trained: (a) `full` on the whole interval from x_0, (b)
`subinterval` on (s, 1) from samples of p_s with the paper's objective (Eq. 13, clamped form),
(c) `naive` on (s, 1) treating x_s as clean data. Each is scored against the exact field: the
velocity MSE under p_t for t in (s, 1), and the W1 distance of its ODE samples at t = s to p_s.

Run one (objective, seed) with Hydra overrides on configs/figure2.yaml, for example:
    python -m phased_dmd.toy.figure2 objective=subinterval seed=0 out_dir=results/figure2/subinterval/seed0 ...
The workflow (Snakefile, rule figure2_run) passes every knob from params.yaml.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch
from tqdm import trange

from phased_dmd.io import save_weights, write_json
from phased_dmd.method.critic import critic_loss
from phased_dmd.method.rollout import heun_step
from phased_dmd.method.schedule import add_noise, sample_timesteps
from phased_dmd.metrics.distances import wasserstein1_to_cdf
from phased_dmd.runs import run_main
from phased_dmd.toy.figure2_config import Figure2EvalConfig, Figure2RunConfig, figure2_knobs
from phased_dmd.toy.mixture import GaussianMixture
from phased_dmd.toy.networks import ToyVelocityNet


def train(cfg: Figure2RunConfig, mixture: GaussianMixture) -> ToyVelocityNet:
    """Fit a velocity network with the run's objective; x_s are exact samples of p_s every step."""
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    s = 0.0 if cfg.objective == "full" else cfg.s
    loss_kind = "naive" if cfg.objective == "naive" else "subinterval"  # at s = 0: flow matching
    net = ToyVelocityNet(mixture.dim, cfg.net.hidden, cfg.net.layers)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.train.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, cfg.train.iterations)
    bar = trange(cfg.train.iterations, desc=f"figure2 {cfg.objective} seed {cfg.seed}", mininterval=1.0)
    for _ in bar:
        n = cfg.train.batch_size
        x0 = mixture.sample(n, gen)
        x_s = add_noise(x0, torch.randn(x0.shape, generator=gen, dtype=x0.dtype), s).float()
        noise = torch.randn(x_s.shape, generator=gen)
        t = sample_timesteps(n, s, 1.0, generator=gen).float()
        loss = critic_loss(loss_kind, net, x_s, noise, s, t, cfg.train.max_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
    return net.eval()


def ode_path(velocity_fn, x: torch.Tensor, s: float, steps: int) -> list[torch.Tensor]:
    """States of Heun's solver from t = 1 down to t = s at `steps` + 1 evenly spaced levels."""
    levels = torch.linspace(1.0, s, steps + 1, dtype=torch.float64).tolist()
    path = [x]
    for t_from, t_to in zip(levels[:-1], levels[1:]):
        path.append(heun_step(velocity_fn, path[-1], t_from, t_to))
    return path


@torch.no_grad()
def evaluate(velocity_fn, mixture: GaussianMixture, s: float, ev: Figure2EvalConfig) -> dict:
    """Velocity MSE under p_t, t ~ U(s, 1), and W1 at t = s of ODE samples; plus trajectories to draw.

    The ODE runs with Heun's solver from the same noise for every run; on the exact field its W1 is
    the sampling floor of the measurement (reported beside the networks').
    """
    gen = torch.Generator().manual_seed(ev.seed)
    t = sample_timesteps(ev.samples, s, 1.0, generator=gen)
    x_t = add_noise(mixture.sample(ev.samples, gen), torch.randn(ev.samples, 1, generator=gen, dtype=torch.float64), t)
    mse = (velocity_fn(x_t, t) - mixture.velocity(x_t, t)).pow(2).mean()
    x_s = ode_path(velocity_fn, torch.randn(ev.samples, 1, generator=gen, dtype=torch.float64), s, ev.ode_steps)[-1]
    w1 = wasserstein1_to_cdf(x_s.numpy(), lambda g: mixture.cdf(torch.as_tensor(g), s).numpy())

    quantiles = (torch.arange(ev.trajectories, dtype=torch.float64) + 0.5) / ev.trajectories
    path = ode_path(velocity_fn, torch.special.ndtri(quantiles)[:, None], s, ev.trajectory_steps)
    levels = torch.linspace(1.0, s, ev.trajectory_steps + 1, dtype=torch.float64).tolist()
    return {"velocity_mse": float(mse), "w1": w1, "levels": levels, "paths": torch.cat(path, 1).tolist()}


def as_float64(net: torch.nn.Module):
    """Evaluate a float32 network on the float64 tensors of the exact mixture."""
    return lambda x, t: net(x.float(), t.float()).double()


def run(cfg: Figure2RunConfig) -> None:
    out = Path(cfg.out_dir)
    start = time.time()
    mixture = cfg.mixture.build()
    net = train(cfg, mixture)
    learned = evaluate(as_float64(net), mixture, cfg.s, cfg.eval)
    save_weights(out / "model.safetensors", net)
    write_json(out / "trajectories.json", {"levels": learned["levels"], "paths": learned["paths"]})
    write_json(out / "metrics.json", {
        "objective": cfg.objective, "seed": cfg.seed, "velocity_mse": learned["velocity_mse"],
        "w1": learned["w1"], "seconds": time.time() - start,
    })
    print(f"figure2: {cfg.objective} seed {cfg.seed}: velocity MSE {learned['velocity_mse']:.5f}, "
          f"W1 {learned['w1']:.5f}; outputs in {out}/")


def main(argv: list[str] | None = None) -> int:
    return run_main("figure2", Figure2RunConfig, run, __doc__, argv, figure2_knobs)


if __name__ == "__main__":
    sys.exit(main())
