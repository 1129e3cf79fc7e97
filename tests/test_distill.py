"""The distillation loop: phase plans, routing of experts, re-noise intervals, and a real distillation
against an exact teacher that must move the generator toward the exact distribution."""

import copy
import dataclasses

import pytest
import torch

from phased_dmd.config import ConfigError, build
from phased_dmd.engine.loop import NonFiniteLoss, PhaseModels, train_phase
from phased_dmd.method.distill_config import DistillConfig
from phased_dmd.method.phases import levels, phase_output, plan_phases, renoise_times, run_experts
from phased_dmd.metrics.distances import sliced_wasserstein
from phased_dmd.toy.mixture import GaussianMixture
from phased_dmd.toy.networks import ToyVelocityNet
from phased_dmd.toy.toy2d import IgnoringCond
from shipped import distill


def cfg(**kw) -> DistillConfig:
    """The shipped students' settings, shorter, and with two phases when the method is phased."""
    return distill(**{"iterations": 60, "ttur": 2, "batch_size": 128, "num_phases": 2, **kw})


def test_phase_plans_of_each_method():
    assert [(p.first_step, p.end_step) for p in plan_phases(cfg(method="dmd"))] == [(0, 1)]
    assert [(p.first_step, p.end_step) for p in plan_phases(cfg(method="sgts"))] == [(0, 4)]
    phased = plan_phases(cfg(method="phased", num_phases=2, shift=3.0))
    assert [lv for p in phased for lv in (p.start_level, p.end_level)] == pytest.approx([1.0, 0.75, 0.75, 0.0])
    assert levels(cfg(method="dmd")) == [1.0, 0.0]


def test_experts_run_in_sequence_through_the_levels():
    """Expert i returns the constant velocity c_i: x_N = x_0 - sum over steps of (tau_k - tau_k+1) c_expert(k)."""
    c = cfg(method="phased", num_steps=4, num_phases=4, shift=3.0)
    experts = [lambda x, t, cond, v=v: torch.full_like(x, v) for v in (1.0, 2.0, 3.0, 4.0)]
    out = run_experts(experts, plan_phases(c), torch.zeros(2, 1), None, c)
    grid = levels(c)  # 1, .9, .75, .5, 0
    expected = -sum((grid[k] - grid[k + 1]) * (k + 1.0) for k in range(4))
    torch.testing.assert_close(out, torch.full((2, 1), expected))
    # the first two experts alone end at the level of phase 2's end
    half = run_experts(experts[:2], plan_phases(c)[:2], torch.zeros(2, 1), None, c)
    torch.testing.assert_close(half, torch.full((2, 1), -(0.1 * 1 + 0.15 * 2)))


def test_full_backprop_reaches_every_step_and_sgts_only_one():
    w = torch.tensor(0.5, requires_grad=True)
    calls = []

    def expert(x, t, cond):
        calls.append(torch.is_grad_enabled())
        return w * x

    c = cfg(method="sgts", num_steps=4)
    phase = plan_phases(c)[0]
    phase_output(expert, phase, torch.ones(3, 1), None, cfg(method="sgts", full_backprop=True))
    assert calls == [True] * 4
    calls.clear()
    phase_output(expert, phase, torch.ones(3, 1), None, c, torch.Generator().manual_seed(0))
    assert calls.count(True) == 1


@pytest.mark.parametrize(
    "kw,phase,low,high",
    [({"interval": "nested"}, 0, 0.5, 1.0), ({"interval": "disjoint"}, 1, 0.0, 0.5),
     ({"interval": "nested", "floor": 0.875}, 0, 0.875, 1.0), ({"interval": "disjoint"}, 0, 0.5, 1.0)],
)
def test_renoise_intervals(kw, phase, low, high):
    floor = kw.pop("floor", 0.0)
    c = cfg(method="phased", num_phases=2, **kw)
    t = renoise_times(c, plan_phases(c)[phase], 4000, True, floor, torch.Generator().manual_seed(0))
    assert low <= float(t.min()) and float(t.max()) <= high
    assert float(t.min()) < low + 0.01 and float(t.max()) > high - 0.01


def test_the_grid_shift_moves_the_phase_boundary_not_the_distribution_of_t():
    """shift 7 puts s_1 at 0.875 (Wan2.2's boundary); re-noise t stays uniform in (s_1, 1) with t_shift 1, and
    concentrates near 1 with t_shift 7 (the teacher's training shift decides, not the grid's)."""
    c = cfg(method="phased", num_phases=2, shift=7.0, t_shift=1.0)
    phase = plan_phases(c)[1]  # (0, 1) nested
    assert plan_phases(c)[0].end_level == pytest.approx(0.875)
    t = renoise_times(c, phase, 20000, True, generator=torch.Generator().manual_seed(0))
    assert float((t < 0.3).double().mean()) == pytest.approx(0.3, abs=0.01)
    skewed = renoise_times(cfg(method="phased", num_phases=2, shift=7.0, t_shift=7.0), phase, 20000, True,
                           generator=torch.Generator().manual_seed(0))
    # shifted t = 7u / (1 + 6u) < 0.3  <=>  u < 0.3 / 5.2
    assert float((skewed < 0.3).double().mean()) == pytest.approx(0.3 / 5.2, abs=0.01)


def test_fixed_t_applies_to_the_generator_and_with_fixed_t_fake_to_the_fake_too():
    c = cfg(method="dmd", fixed_t=0.357)
    phase = plan_phases(c)[0]
    assert renoise_times(c, phase, 5, True).tolist() == [0.357] * 5
    assert len(set(renoise_times(c, phase, 5, False).tolist())) == 5
    both = cfg(method="dmd", fixed_t=0.357, fixed_t_fake=True)
    assert renoise_times(both, phase, 5, False).tolist() == [0.357] * 5


@pytest.mark.parametrize(
    "kw,message",
    [({"method": "consistency"}, "method: expected one of ['dmd', 'sgts', 'phased']"),
     ({"num_phases": 3}, "num_phases: expected a divisor of num_steps = 4, got 3"),
     ({"interval": "overlapping"}, "interval: expected one of ['nested', 'disjoint']"),
     ({"fixed_t": 1.2}, "fixed_t: expected a number strictly between 0 and 1"),
     ({"fixed_t": None, "fixed_t_fake": True}, "fixed_t_fake: expected false unless fixed_t is set")],
)
def test_bad_distill_settings_are_refused(kw, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        build(DistillConfig, {**dataclasses.asdict(cfg(method="phased")), **kw}, "distill")


GAUSS = GaussianMixture.create([1.0], [[1.5, -1.0]], [[0.4, 0.4]])


def _teacher(x, t, cond):
    return GAUSS.velocity(x.double(), t.double()).to(x.dtype)


def _distance(experts, c, seed=5):
    noise = torch.randn(4000, 2, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        x = run_experts(experts, plan_phases(c), noise, None, c)
    exact = GAUSS.sample(4000, torch.Generator().manual_seed(seed + 1)).numpy()
    return sliced_wasserstein(x.double().numpy(), exact)


@pytest.mark.parametrize("method", ["dmd", "phased"])
def test_distillation_moves_the_generator_toward_the_exact_distribution(method, tmp_path):
    """From a randomly initialised network, a short distillation against the exact teacher
    must bring the generator's samples much closer to the data (sliced W1)."""
    torch.manual_seed(0)
    c = cfg(method=method, iterations=150, lr_generator=1e-3, lr_fake=1e-3)
    init = ToyVelocityNet(2, 64, 2)
    experts = []
    before = _distance([IgnoringCond(copy.deepcopy(init)) for _ in plan_phases(c)], c)
    for p in range(len(plan_phases(c))):
        experts.append(IgnoringCond(copy.deepcopy(init)))
        models = PhaseModels(_teacher, experts, [IgnoringCond(copy.deepcopy(init))])
        history = train_phase(models, c, lambda n, g: (torch.randn(n, 2, generator=g), None), tmp_path / f"p{p}",
                              seed=p)
        assert len(history) == c.iterations
        experts[-1].requires_grad_(False)
    after = _distance(experts, c)
    assert after < 0.5 * before, (before, after)


def test_a_non_finite_loss_stops_the_phase(tmp_path):
    c = cfg(method="dmd", iterations=5)
    net = IgnoringCond(ToyVelocityNet(2, 16, 1))
    bad_teacher = lambda x, t, cond: torch.full_like(x, float("nan"))  # noqa: E731
    models = PhaseModels(bad_teacher, [net], [IgnoringCond(ToyVelocityNet(2, 16, 1))])
    with pytest.raises(NonFiniteLoss, match="generator loss is nan at iteration 1"):
        train_phase(models, c, lambda n, g: (torch.randn(n, 2), None), tmp_path)


@pytest.mark.parametrize("every", [1, 100])  # 100: the only checkpoint is the last, at the old one's iteration
def test_a_checkpoint_of_other_settings_is_not_resumed(tmp_path, capsys, every):
    """A rerun after a params edit must start afresh, not continue the old run's state."""
    def phase(lr):
        torch.manual_seed(0)
        net = IgnoringCond(ToyVelocityNet(2, 16, 1))
        c = cfg(method="dmd", iterations=3, lr_fake=lr, batch_size=8, ttur=1)
        models = PhaseModels(_teacher, [net], [IgnoringCond(ToyVelocityNet(2, 16, 1))])
        return train_phase(models, c, lambda n, g: (torch.randn(n, 2, generator=g), None), tmp_path,
                           checkpoint_every=every), net

    first, _ = phase(1e-3)
    again, _ = phase(1e-3)  # finished: resumes at the end, nothing to do
    assert "resuming phase 1 at iteration 3" in capsys.readouterr().out and again == first
    changed, _ = phase(5e-4)
    assert "written with other settings or inputs; starting afresh" in capsys.readouterr().out
    assert len(changed) == 3 and changed != first
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["iter-0000003"]  # the new run's only
