import pytest
import torch

from phased_dmd.method.grids import split_phases, step_grid, teacher_expert


@pytest.mark.parametrize(
    "shift,expected",
    [(1.0, [1, 0.75, 0.5, 0.25, 0]), (5.0, [1, 0.9375, 0.8333, 0.625, 0]), (3.0, [1, 0.9, 0.75, 0.5, 0])],
)
def test_four_step_grids_from_method(shift, expected):
    assert step_grid(4, shift).tolist() == pytest.approx(expected, abs=1e-4)


def test_two_phases_of_four_steps():
    phases = split_phases(step_grid(4, 5.0), 2)
    assert [(p.first_step, p.end_step) for p in phases] == [(0, 2), (2, 4)]
    assert phases[0].start_level == 1.0 and phases[0].end_level == pytest.approx(5 / 6)
    assert phases[1].end_level == 0.0


def test_four_phases_have_one_step_each():
    phases = split_phases(step_grid(4, 3.0), 4)
    assert [(p.first_step, p.end_step) for p in phases] == [(0, 1), (1, 2), (2, 3), (3, 4)]
    assert [p.end_level for p in phases] == pytest.approx([0.9, 0.75, 0.5, 0.0])


def test_steps_that_do_not_split_evenly_are_refused():
    with pytest.raises(ValueError, match="4 steps cannot be split into 3 phases"):
        split_phases(step_grid(4), 3)


def test_levels_must_decrease():
    with pytest.raises(ValueError, match="strictly decrease"):
        split_phases(torch.tensor([1.0, 0.5, 0.7, 0.0]), 1)


def test_wan22_boundary_routing():
    t = torch.tensor([0.999, 0.9, 0.875, 0.874, 0.1])
    assert teacher_expert(t, 0.875).tolist() == [1, 1, 1, 0, 0]


@pytest.mark.parametrize("shift", [1.0, 3.0, 5.0, 7.0])
@pytest.mark.parametrize("num_steps", [1, 4])
def test_the_step_grid_is_diffusers_flow_match_euler_grid(shift, num_steps):
    """Our levels equal the sigmas of diffusers' FlowMatchEulerDiscreteScheduler with the same shift, given the
    unshifted levels (it shifts the sigmas it is handed, and appends the terminal 0)."""
    from phased_dmd.diffusers_api import FlowMatchEulerDiscreteScheduler

    scheduler = FlowMatchEulerDiscreteScheduler(shift=shift)
    scheduler.set_timesteps(sigmas=torch.linspace(1.0, 0.0, num_steps + 1)[:-1].tolist())
    torch.testing.assert_close(scheduler.sigmas.double(), step_grid(num_steps, shift), atol=1e-6, rtol=0)
