"""The convergence report's arithmetic on curves with known answers: the change of the last doubling, the
multiple of the teacher's floor and the fewest updates after which a doubling no longer matters."""

import pytest

from phased_dmd.reports.convergence import CONVERGED, enough_updates, floor_multiple, method_summary


def rows(*frechet: float) -> list[dict]:
    """Per-seed measurements with the given distances to the teacher."""
    return [{"frechet_teacher": f, "recall_teacher": 0.5, "adherence": 0.9} for f in frechet]


POINTS = [(40, "i40"), (80, "i80"), (160, "i160"), (320, "i320")]


def test_a_curve_that_halves_then_flattens_is_converged_where_it_flattens():
    measured = {"i40": rows(80, 88, 72), "i80": rows(40, 44, 36), "i160": rows(21, 23, 19), "i320": rows(20, 22, 18)}
    found = method_summary(POINTS, measured, floor=rows(10, 11, 9))
    last = found["last_doubling"]
    assert (last["from"], last["to"]) == (160, 320) and last["converged"]
    assert last["change"]["mean"] == pytest.approx((-1 / 21 - 1 / 23 - 1 / 19) / 3)
    assert found["enough"] == 160  # 40 -> 80 and 80 -> 160 halve; 160 -> 320 moves < 10%
    assert found["final_floor_multiple"]["mean"] == pytest.approx(2.0)
    assert [p["iterations"] for p in found["curve"]] == [40, 80, 160, 320]
    assert found["curve"][0]["frechet_teacher"]["mean"] == pytest.approx(80)


def test_a_curve_still_falling_is_not_converged_and_has_no_enough():
    measured = {"i40": rows(80, 80), "i80": rows(40, 40), "i160": rows(20, 20), "i320": rows(10, 10)}
    found = method_summary(POINTS, measured, floor=rows(5, 5))
    assert not found["last_doubling"]["converged"] and found["last_doubling"]["change"]["mean"] == -0.5
    assert found["enough"] is None and found["final_floor_multiple"]["mean"] == 2.0


def test_a_rise_counts_as_a_change_too():
    measured = {"a": rows(10, 10), "b": rows(10 * (1 + 2 * CONVERGED), 10 * (1 + 2 * CONVERGED))}
    assert enough_updates([(40, "a"), (80, "b")], measured) is None
    assert floor_multiple(rows(6, 9), rows(2, 3))["ci95"] == [3.0, 3.0]


def test_a_curve_of_one_point_has_no_last_step():
    found = method_summary([(80, "i80")], {"i80": rows(30, 30)}, floor=rows(10, 10))
    assert found["last_doubling"] is None and found["enough"] is None
    assert found["final_floor_multiple"]["mean"] == 3.0


def test_one_sampling_seed_has_no_floor():
    assert floor_multiple(rows(6), rows(0)) is None
