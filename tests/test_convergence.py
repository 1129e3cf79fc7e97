"""The convergence report's arithmetic on curves with known answers: the change of the last doubling, the
multiple of the teacher's floor and the fewest updates after which a doubling no longer matters."""

import pytest

from phased_dmd.reports.convergence import CONVERGED, claims_by_length, enough_updates, floor_multiple, method_summary


def rows(*frechet: float) -> list[dict]:
    """Per-seed measurements with the given distances to the teacher."""
    return [{"frechet_teacher": f, "recall_teacher": 0.5, "adherence": 0.9} for f in frechet]


POINTS = [(40, "i40"), (80, "i80"), (160, "i160"), (320, "i320")]


def test_a_curve_that_halves_then_flattens_is_converged_where_it_flattens():
    measured = {"i40": rows(80, 88, 72), "i80": rows(40, 44, 36), "i160": rows(21, 23, 19), "i320": rows(20, 22, 18)}
    found = method_summary(POINTS, measured, floor=rows(10, 11, 9))
    last = found["last_doubling"]
    assert (last["from"], last["to"]) == (160, 320) and last["converged"]
    assert last["change"]["mean"] == pytest.approx(-3 / 63)  # the change of the mean: 21 -> 20 on average
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


def test_the_change_is_that_of_the_mean_not_a_mean_of_ratios():
    """One seed near the floor must not dominate: 2 -> 4 and 20 -> 18 change the mean by 0%, not by +45%."""
    measured = {"a": rows(2, 20), "b": rows(4, 18)}
    found = method_summary([(80, "a"), (160, "b")], measured, floor=rows(1, 1))
    assert found["last_doubling"]["change"]["mean"] == pytest.approx(0.0) and found["last_doubling"]["converged"]
    assert found["last_doubling"]["change"]["ci95"][0] < 0 < found["last_doubling"]["change"]["ci95"][1]


def test_table2s_claims_are_judged_at_every_length_all_methods_reached():
    def recall(*values):
        return [{"recall_teacher": v} for v in values]

    per_method = {"phased": [(40, "p40"), (80, "p80")], "sgts": [(40, "s40"), (80, "s80")],
                  "dmd": [(80, "d80"), (160, "d160")]}
    measured = {"p40": recall(0.9, 0.8, 0.7), "s40": recall(0.8, 0.7, 0.6), "p80": recall(0.5, 0.6, 0.7),
                "s80": recall(0.6, 0.7, 0.8), "d80": recall(0.5, 0.6, 0.7), "d160": recall(0.1, 0.1, 0.1)}
    found = claims_by_length(per_method, measured)
    assert set(found) == {"phased_more_diverse_than_sgts", "phased_more_diverse_than_dmd", "sgts_more_diverse_than_dmd"}
    assert list(found["phased_more_diverse_than_sgts"]) == [80]  # the only length every method reached
    assert found["phased_more_diverse_than_sgts"][80]["verdict"] == "reversed"
    assert found["sgts_more_diverse_than_dmd"][80]["verdict"] == "held"
    assert found["phased_more_diverse_than_dmd"][80]["mean"] == pytest.approx(0.0)
