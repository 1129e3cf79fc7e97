"""The networks behind the tables' measures: the embedded backend or the paper's (params.yaml evaluation.backend).

Both give, for a batch of frames (N, C, H, W) in [-1, 1]: features for the diversity cosine, a perceptual
distance between pairs (of `perceptual_parts`, computed once per frame), features for Frechet distances;
for a video (C, F, H, W): optical flow; for videos (N, C, F, H, W): video features for FVD (the embedded
backend has none: the tables build them from frame features and motion statistics). Prompt adherence is
the embedded feature network's in both: it is the only judge of the Fashion-MNIST classes here.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from phased_dmd.metrics import pretrained as P
from phased_dmd.metrics.classifier import FeatureNet
from phased_dmd.metrics.diversity import perceptual_distance
from phased_dmd.metrics.motion import optical_flow


class EmbeddedBackend:
    """The Fashion-MNIST feature network the pipeline trains, and OpenCV's DIS flow."""

    description = {
        "name": "embedded", "features": "the embedded feature network (a Fashion-MNIST CNN the pipeline trains; "
        "pooled last-layer features)", "perceptual": "LPIPS's formula with unit weights over the same network's "
        "three layers", "adherence": "its accuracy at naming the prompt's class",
        "frechet": "Frechet distance of its features to held-out data",
        "fid": "the same network's features per frame (not Inception)",
        "fvd": "the same features averaged over frames, then the mean and top-5% flow of each frame pair (not I3D)",
        "flow": "OpenCV DIS optical flow (not RAFT): mean magnitude over pixels and frame pairs, in pixels",
        "dynamic": "VBench's dynamic degree rule applied to the same DIS flow (not RAFT)",
        "consistency": "VBench's subject consistency rule on the same network's features (not DINO)",
        "smoothness": "VBench's motion smoothness rule with the average of neighbouring frames (not AMT-S)"}

    def __init__(self, net: FeatureNet):
        self.net = net

    def features(self, frames: Tensor) -> Tensor:
        return self.net.layers(frames)[-1].mean(dim=(2, 3))

    def perceptual_parts(self, frames: Tensor) -> list[Tensor]:
        return self.net.layers(frames)

    def perceptual(self, a: list[Tensor], b: list[Tensor]) -> Tensor:
        return perceptual_distance(a, b)

    def frechet_features(self, frames: Tensor) -> Tensor:
        return self.features(frames)

    def flow(self, video: Tensor) -> np.ndarray:
        return optical_flow(video[0].float().numpy())

    def video_features(self, videos: Tensor) -> Tensor | None:
        return None


class PaperBackend:
    """The paper's networks (metrics.pretrained), from a local weights folder; loaded when first used."""

    description = {
        "name": "paper", "features": "DINOv3 ViT-B/16 pooled features", "perceptual": "LPIPS (AlexNet)",
        "adherence": "the embedded feature network's accuracy at naming the prompt's class",
        "frechet": "FID: Frechet distance of Inception pool features to held-out data",
        "fid": "Inception pool features per frame (pytorch-fid)", "fvd": "I3D logits per video (cd-fvd)",
        "flow": "RAFT-large optical flow (torchvision): mean magnitude over pixels and frame pairs, in pixels",
        "dynamic": "VBench's dynamic degree rule on the same RAFT flow",
        "consistency": "VBench's subject consistency rule on DINOv3 features (VBench: DINO ViT-B/16)",
        "smoothness": "VBench's motion smoothness rule with the average of neighbouring frames (not AMT-S)"}

    def __init__(self, weights: Path, device: torch.device | str = "cpu"):
        self.weights, self.device = Path(weights), torch.device(device)

    @cached_property
    def dinov3(self):
        return P.load_dinov3(self.weights).to(self.device)

    @cached_property
    def lpips(self):
        return P.load_lpips(self.weights).to(self.device)

    @cached_property
    def inception(self):
        return P.load_inception(self.weights).to(self.device)

    @cached_property
    def raft(self):
        return P.load_raft(self.weights).to(self.device)

    @cached_property
    def i3d(self):
        return P.load_i3d(self.weights).to(self.device)

    def features(self, frames: Tensor) -> Tensor:
        return P.dinov3_features(self.dinov3, frames.to(self.device)).cpu()

    def perceptual_parts(self, frames: Tensor) -> list[Tensor]:
        return [frames.to(self.device)]

    def perceptual(self, a: list[Tensor], b: list[Tensor]) -> Tensor:
        return P.lpips_distance(self.lpips, a[0], b[0]).cpu()

    def frechet_features(self, frames: Tensor) -> Tensor:
        return P.inception_features(self.inception, frames.to(self.device)).cpu()

    def flow(self, video: Tensor) -> np.ndarray:
        return P.raft_flow(self.raft, video.float().to(self.device))

    def video_features(self, videos: Tensor) -> Tensor | None:
        return P.i3d_features(self.i3d, videos.float().to(self.device)).cpu()


def backend(name: str, net: FeatureNet | None, weights: Path,
            device: torch.device | str = "cpu") -> EmbeddedBackend | PaperBackend:
    """The backend called `name` (the paper's networks on `device`; the embedded ones are small and stay on the
    CPU); the paper's checks that its weights are all there before anything is drawn."""
    if name == "embedded":
        return EmbeddedBackend(net)
    for network in P.weight_files(weights):
        P.require(weights, network)
    return PaperBackend(weights, device)

