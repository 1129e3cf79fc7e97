"""The tables' judgement of a paper claim, and the video features behind the FVD stand-in."""

import numpy as np

from phased_dmd.metrics.frechet import video_features
from phased_dmd.reports.tables import Metric, Table, cells, claim

LOW, HIGH = Metric("fid", "lower", "fid"), Metric("flow", "higher", "flow")
TABLE = Table("table6", 6, "test", (LOW, HIGH), {"a": {"t": {"fid": 1.0, "flow": 5.0}},
                                                  "b": {"t": {"fid": 2.0, "flow": 5.0}}}, "test")


def rows(a_fid, a_flow, b_fid=(2.0, 2.1, 1.9), b_flow=(5.0, 5.0, 5.0)):
    def row(fid, flow):
        return {"t": cells([{"fid": f, "flow": w} for f, w in zip(fid, flow)], (LOW, HIGH))}
    return {"a": row(a_fid, a_flow), "b": row(b_fid, b_flow)}


def test_a_strict_claim_needs_every_metric_better_in_its_direction():
    assert claim(TABLE, rows((1.0, 1.1, 0.9), (6.0, 6.1, 5.9)), ["t"], "a", "b", (LOW, HIGH))["t"]["held"]
    assert not claim(TABLE, rows((1.0, 1.1, 0.9), (4.0, 4.1, 3.9)), ["t"], "a", "b", (LOW, HIGH))["t"]["held"]
    assert not claim(TABLE, rows((3.0, 3.1, 2.9), (6.0, 6.1, 5.9)), ["t"], "a", "b", (LOW, HIGH))["t"]["held"]


def test_at_least_as_good_accepts_ties_and_the_paper_verdict_follows_its_numbers():
    tie = claim(TABLE, rows((1.0, 1.1, 0.9), (5.0, 5.0, 5.0)), ["t"], "a", "b", (LOW, HIGH), strict=False)["t"]
    assert tie["held"] and tie["paper_held"]  # paper: a's fid lower, flow equal
    assert tie["per_metric"] == {"fid": "better", "flow": "tied"}
    strict = claim(TABLE, rows((1.0, 1.1, 0.9), (5.0, 5.0, 5.0)), ["t"], "a", "b", (LOW, HIGH))["t"]
    assert not strict["held"] and strict["paper_held"] is False
    assert strict["intervals_separated"] == {"fid": True, "flow": False}


def test_a_claim_without_paper_numbers_says_so():
    table = Table("table6", 6, "test", (LOW, HIGH), {}, "test")
    assert claim(table, rows((1.0, 1.1, 0.9), (6.0, 6.1, 5.9)), ["t"], "a", "b", (LOW,), strict=False)["t"][
        "paper_held"] is None


def test_video_features_average_frames_and_append_motion():
    frames = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)
    motion = np.ones((2, 2, 2))
    out = video_features(frames, motion)
    np.testing.assert_allclose(out[:, :4], frames.mean(axis=1))
    np.testing.assert_allclose(out[:, 4:], 1.0)
    assert out.shape == (2, 8)
