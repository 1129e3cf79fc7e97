"""The tables' judgement of a paper claim (paired differences over seeds), and the video features behind the
FVD stand-in."""

import json

import numpy as np
import pytest

from phased_dmd.metrics.frechet import video_features
from phased_dmd.reports.tables import Metric, Table, measurement, paired_claim
from phased_dmd.stats import paired

LOW, HIGH = Metric("fid", "lower", "fid"), Metric("flow", "higher", "flow")
TABLE = Table("table6", 6, "test", (LOW, HIGH), {"a": {"t": {"fid": 1.0, "flow": 5.0}},
                                                  "b": {"t": {"fid": 2.0, "flow": 5.0}}}, "test")


def measured(a_fid, a_flow, b_fid=(2.0, 2.1, 1.9), b_flow=(5.0, 5.0, 5.0)):
    def seeds(fid, flow):
        return {"t": [{"fid": f, "flow": w} for f, w in zip(fid, flow)]}
    return {"a": seeds(a_fid, a_flow), "b": seeds(b_fid, b_flow)}


def test_paired_difference_has_the_t_interval_and_the_smallest_detectable_effect():
    out = paired([2.0, 4.0, 6.0], [1.0, 2.0, 3.0], "higher")  # differences 1, 2, 3: mean 2, sd 1
    assert out["mean"] == pytest.approx(2.0)
    half = 4.302652729911275 / np.sqrt(3)  # t(0.975, 2 df)
    assert out["ci95"] == pytest.approx([2 - half, 2 + half])
    assert out["verdict"] == "undecided"
    assert out["mde"] == pytest.approx((4.302652729911275 + 1.0606601717798212) / np.sqrt(3))  # + t(0.8, 2 df)


def test_pairing_decides_what_overlapping_intervals_of_the_means_cannot():
    seeds = [1.0, 5.0, 9.0]  # a large spread between seeds, the same small gain in each
    out = paired([s + 0.1 for s in seeds], seeds, "higher")
    assert out["verdict"] == "held" and out["ci95"][0] > 0
    assert paired([s + 0.1 for s in seeds], seeds, "lower")["verdict"] == "reversed"
    assert paired([1.0, 2.0], [1.0, 2.0], "higher")["verdict"] == "undecided"
    assert paired([1.0], [0.0], "higher")["verdict"] == "undecided"  # one seed decides nothing
    with pytest.raises(ValueError, match="one per seed"):
        paired([1.0, 2.0], [1.0], "higher")


def test_a_claim_is_its_primary_measure_and_shows_the_others_and_the_paper():
    out = paired_claim(measured((1.0, 1.1, 0.9), (4.0, 4.1, 3.9)), ["t"], "a", "b", (LOW, HIGH), TABLE)["t"]
    assert out["measure"] == "fid" and out["verdict"] == "held"  # a's fid lower by 1 in every seed
    assert out["per_metric"]["flow"]["verdict"] == "reversed"
    assert out["paper_held"] is False  # the paper: fid lower, flow equal (not better)
    flipped = paired_claim(measured((1.0, 1.1, 0.9), (4.0, 4.1, 3.9)), ["t"], "a", "b", (HIGH, LOW), TABLE)["t"]
    assert flipped["verdict"] == "reversed"
    assert paired_claim(measured((1.0, 1.1, 0.9), (6.0, 6.1, 5.9)), ["t"], "a", "b", (LOW,))["t"]["paper_held"] is None


def test_video_features_average_frames_and_append_motion():
    frames = np.arange(2 * 3 * 4, dtype=float).reshape(2, 3, 4)
    motion = np.ones((2, 2, 2))
    out = video_features(frames, motion)
    np.testing.assert_allclose(out[:, :4], frames.mean(axis=1))
    np.testing.assert_allclose(out[:, 4:], 1.0)
    assert out.shape == (2, 8)


def test_a_report_reads_only_its_own_seeds_of_an_evaluation(tmp_path):
    folder = tmp_path / "evaluation" / "wan2.1" / "phased"
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps({"kind": "wan2.1", "seeds": {str(s): {"recall": s / 10}
                                                                                for s in range(5)}}))
    kept = measurement(tmp_path, "wan2.1", "phased", [0, 2])
    assert kept["kind"] == "wan2.1" and kept["seeds"] == {"0": {"recall": 0.0}, "2": {"recall": 0.2}}
    with pytest.raises(ValueError, match=r"phased/metrics.json has no seeds \[7\]: rerun its evaluation"):
        measurement(tmp_path, "wan2.1", "phased", [0, 7])
