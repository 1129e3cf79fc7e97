"""VBench's quality dimensions (metrics/video_quality.py) on videos whose scores are known by hand."""

import numpy as np
import pytest
import torch

from phased_dmd.metrics.video_quality import (
    blend,
    feature_consistency,
    motion_smoothness,
    temporal_flickering,
    to_uint8,
)


def ramp(step: int, frames: int = 5) -> np.ndarray:
    """Frames of constant grey 10, 10 + step, 10 + 2 step, ... (F, 4, 4, 1)."""
    return np.stack([np.full((4, 4, 1), 10 + step * i, dtype=np.uint8) for i in range(frames)])


def test_a_still_video_scores_one_everywhere():
    still = ramp(0)
    assert temporal_flickering(still) == 1.0 and motion_smoothness(still) == 1.0
    assert feature_consistency(torch.ones(5, 3)) == pytest.approx(1.0)


def test_flickering_is_the_mean_frame_difference_over_255():
    assert temporal_flickering(ramp(51)) == pytest.approx((255 - 51) / 255)
    alternating = np.stack([np.full((2, 2, 1), 255 * (i % 2), dtype=np.uint8) for i in range(5)])
    assert temporal_flickering(alternating) == 0.0


def test_smoothness_compares_the_interpolated_odd_frames_with_the_real_ones():
    assert motion_smoothness(ramp(40)) == 1.0  # a linear ramp is what the blend predicts
    jumpy = ramp(0).copy()
    jumpy[1] = 110  # frame 1 is 100 off its neighbours' blend, frame 3 is exact
    assert motion_smoothness(jumpy) == pytest.approx((255 - 50) / 255)
    truth = iter([jumpy[1], jumpy[3]])
    assert motion_smoothness(jumpy, interpolate=lambda a, b: next(truth)) == 1.0  # a perfect interpolator
    assert blend(np.array([1], np.uint8), np.array([4], np.uint8))[0] == 2  # rint(2.5) = 2 (to even)


def test_consistency_keeps_only_positive_cosines_with_the_previous_and_first_frames():
    e1, e2 = torch.eye(2)
    # frame 1: cos with previous (e1) 0, with first 0 -> 0; frame 2: previous (e2) 0, first (e1) 1 -> 0.5
    assert feature_consistency(torch.stack([e1, e2, e1])) == pytest.approx(0.25)
    assert feature_consistency(torch.stack([e1, -e1])) == 0.0  # negative cosines count as 0


def test_frames_are_read_as_a_saved_video_holds_them():
    video = torch.tensor([-1.0, 0.0, 1.0]).view(1, 3, 1, 1)  # (C, F, H, W)
    assert to_uint8(video).ravel().tolist() == [0, 128, 255] and to_uint8(video).shape == (3, 1, 1, 1)
