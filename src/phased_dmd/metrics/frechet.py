"""Frechet distance between Gaussians fitted to two sets of features (FID, FVD; Heusel et al. 2017)."""

from __future__ import annotations

import numpy as np

from phased_dmd.torchvision_import import allow_torchvision_import


def gaussian_fit(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of features (N, D)."""
    x = np.asarray(features, dtype=np.float64)
    return x.mean(axis=0), np.cov(x, rowvar=False)


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + tr(C1 + C2 - 2 (C1 C2)^(1/2)): the squared 2-Wasserstein distance of two Gaussians,
    by pytorch-fid's own function (FID's reference code: an eps on the diagonal when the product is singular,
    and an error, not a silent drop, when the root's imaginary part is not numerical noise)."""
    allow_torchvision_import()  # pytorch_fid.fid_score imports torchvision
    from pytorch_fid.fid_score import calculate_frechet_distance

    return float(calculate_frechet_distance(mu1, cov1, mu2, cov2))


def feature_frechet(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between the Gaussian fits of two feature sets (N, D) and (M, D)."""
    return frechet_distance(*gaussian_fit(a), *gaussian_fit(b))


def video_features(frames: np.ndarray, motion: np.ndarray) -> np.ndarray:
    """The embedded stand-in for I3D features (FVD): per video, its frame features averaged over frames
    (N, F, D) -> (N, D), followed by its motion statistics per frame pair (N, F-1, 2: mean and top-5% flow)."""
    return np.concatenate([frames.mean(axis=1), motion.reshape(len(motion), -1)], axis=1)
