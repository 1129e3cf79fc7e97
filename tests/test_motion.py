"""Motion metrics against known answers: flow of a known translation, VBench's rule on hand-made flow fields."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from phased_dmd.data.moving import moving_clips
from phased_dmd.metrics.motion import (
    dynamic_rule,
    is_dynamic,
    mean_absolute_flow,
    motion_statistics,
    optical_flow,
    top_flow,
)


def texture(size: int = 16, seed: int = 0) -> np.ndarray:
    """A smooth random grey pattern in [-1, 1] (Farneback needs texture everywhere)."""
    x = ndimage.gaussian_filter(np.random.default_rng(seed).normal(size=(size, size)), 1.5, mode="wrap")
    return 0.9 * x / np.abs(x).max()


@pytest.mark.parametrize("dx, dy", [(1.0, 0.0), (0.0, -1.0), (0.7, 0.4), (-1.5, 1.0)])
def test_flow_recovers_a_known_translation(dx, dy):
    first = texture()
    frames = [ndimage.shift(first, (k * dy, k * dx), order=3, mode="grid-wrap") for k in range(3)]
    flow = optical_flow(np.stack(frames))
    assert flow.shape == (2, 16, 16, 2)
    inner = flow[:, 3:-3, 3:-3].reshape(-1, 2)  # away from the border, where the wrap is not seen
    np.testing.assert_allclose(np.median(inner, axis=0), [dx, dy], atol=0.05)
    assert mean_absolute_flow(flow[:, 3:-3, 3:-3]) == pytest.approx(np.hypot(dx, dy), abs=0.2)


def test_a_still_video_has_no_flow_and_is_not_dynamic():
    flow = optical_flow(np.stack([texture()] * 5))
    assert mean_absolute_flow(flow) == 0.0
    assert not is_dynamic(flow)


def test_mean_flow_and_top_share_on_a_hand_made_field():
    pair = np.zeros((20, 20, 2))
    pair.reshape(-1, 2)[:20] = (3.0, 4.0)  # 20 of 400 pixels (5%) move by 5 px
    assert top_flow(pair) == pytest.approx(5.0)
    assert mean_absolute_flow(pair[None]) == pytest.approx(5.0 * 20 / 400)
    pair.reshape(-1, 2)[:40] = (3.0, 4.0)  # the top 5% is still 5 px, the mean doubles
    assert top_flow(pair) == pytest.approx(5.0)
    np.testing.assert_allclose(motion_statistics(pair[None]), [[0.5, 5.0]])


def test_vbench_threshold_and_count():
    assert dynamic_rule(frames=16, height=256, width=448) == (6.0, 4)  # VBench's own videos
    assert dynamic_rule(frames=5, height=16, width=16) == (0.375, 1)  # the embedded clips
    assert dynamic_rule(frames=16, height=512, width=512, fps=4.0) == (24.0, 4)  # low fps doubles it
    assert dynamic_rule(frames=10, height=16, width=16)[1] == 2  # round(2.5) = 2, as Python (and VBench) round


def test_a_video_is_dynamic_when_enough_pairs_exceed_the_threshold():
    def video(scores):  # one pair per score, 5% of 16x16 pixels moving by that many pixels
        flow = np.zeros((len(scores), 16, 16, 2))
        for f, s in enumerate(scores):
            flow[f].reshape(-1, 2)[:12, 0] = s  # int(256 * 0.05) = 12 pixels
        return flow

    threshold, needed = dynamic_rule(frames=9, height=16, width=16)  # 0.375 px, 2 pairs
    assert needed == 2
    assert not is_dynamic(video([1.0, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]))
    assert is_dynamic(video([1.0, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.4]))
    assert not is_dynamic(video([threshold] * 8))  # strictly above


def test_moving_clips_move_and_static_ones_do_not():
    items = torch.from_numpy(np.stack([texture(10, seed) for seed in range(4)])[:, None]).float()
    clips = moving_clips(items, frames=5, canvas=16, generator=torch.Generator().manual_seed(0)).numpy()
    flows = [optical_flow(c[0]) for c in clips]
    assert all(mean_absolute_flow(f) > 0 for f in flows)
    still = np.repeat(clips[:, :, :1], 5, axis=2)
    assert all(mean_absolute_flow(optical_flow(c[0])) == 0.0 for c in still)
