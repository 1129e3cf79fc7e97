"""Motion of generated videos: mean absolute optical flow and VBench's dynamic degree (paper Table 3).

The paper measures flow with RAFT; the embedded backend uses OpenCV's DIS flow (dense inverse search,
Kroeger et al. 2016: no weights, within 0.05 px of known shifts on 16x16 frames, exactly zero on still
frames; OpenCV 5's Farneback reported up to 0.35 px of motion along two borders of a still video). Both metrics follow their definitions given a flow
field, whichever estimator made it:

- mean absolute optical flow (paper Sec. 5.2.3): the flow magnitude averaged over all pixels and all
  consecutive frame pairs;
- dynamic degree (VBench, `vbench/dynamic_degree.py`): per frame pair, the mean of the largest 5% flow
  magnitudes; a video is dynamic when at least round(4 F / 16) of its pairs exceed
  max(1, 8 / fps) * 6 * min(H, W) / 256 pixels; the metric is the share of dynamic videos.
"""

from __future__ import annotations

import cv2
import numpy as np

TOP_SHARE = 0.05  # VBench: the mean of the largest 5% of magnitudes per frame pair


def optical_flow(video: np.ndarray) -> np.ndarray:
    """DIS flow between consecutive frames of a grey video (F, H, W) in [-1, 1] -> (F-1, H, W, 2), pixels (x, y)."""
    frames = np.clip(np.rint((np.asarray(video, dtype=np.float64) + 1) * 127.5), 0, 255).astype(np.uint8)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    dis.setPatchSize(4)  # small patches, every pixel, full resolution: the frames are 16x16
    dis.setPatchStride(1)
    dis.setFinestScale(0)
    return np.stack([dis.calc(a, b, None) for a, b in zip(frames[:-1], frames[1:])])


def magnitudes(flow: np.ndarray) -> np.ndarray:
    """|flow| = sqrt(u^2 + v^2) per pixel: (..., 2) -> (...)."""
    return np.sqrt((np.asarray(flow, dtype=np.float64) ** 2).sum(axis=-1))


def mean_absolute_flow(flow: np.ndarray) -> float:
    """Paper Sec. 5.2.3: the flow magnitude averaged over pixels and frame pairs of one video (F-1, H, W, 2)."""
    return float(magnitudes(flow).mean())


def top_flow(pair: np.ndarray) -> float:
    """VBench's score of one frame pair (H, W, 2): the mean of its largest 5% flow magnitudes."""
    m = np.sort(magnitudes(pair).ravel())[::-1]
    return float(m[: int(m.size * TOP_SHARE)].mean())


def dynamic_rule(frames: int, height: int, width: int, fps: float = 8.0) -> tuple[float, int]:
    """VBench's threshold in pixels and how many frame pairs must exceed it, for a video of this size."""
    threshold = max(1.0, 8.0 / fps) * 6.0 * min(height, width) / 256.0
    return threshold, round(4 * frames / 16.0)


def is_dynamic(flow: np.ndarray, fps: float = 8.0) -> bool:
    """VBench's check_move for one video's flow (F-1, H, W, 2)."""
    pairs, height, width = flow.shape[:3]
    threshold, needed = dynamic_rule(pairs + 1, height, width, fps)
    return sum(top_flow(pair) > threshold for pair in flow) >= needed


def motion_statistics(flow: np.ndarray) -> np.ndarray:
    """Per frame pair: mean flow magnitude and VBench's top-5% score, (F-1, 2): the motion part of a video's
    features for Frechet video distances."""
    return np.array([[magnitudes(pair).mean(), top_flow(pair)] for pair in flow])
