"""Prompt adherence at embedded scale: how often the feature network recognises the prompted class."""

from __future__ import annotations

from torch import Tensor

from phased_dmd.metrics.classifier import FeatureNet, predict


def recognition(net: FeatureNet, samples: Tensor, prompt_ids: Tensor, classes: list[str]) -> dict:
    """Accuracy of the classifier at naming each sample's prompt, overall and per class."""
    hit = (predict(net, samples).argmax(dim=1) == prompt_ids).float()
    per_class = {name: float(hit[prompt_ids == c].mean()) for c, name in enumerate(classes)}
    return {"accuracy": float(hit.mean()), "per_class": per_class, "samples": len(hit)}
