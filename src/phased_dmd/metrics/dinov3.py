"""Paper-scale image features for diversity: DINOv3 through transformers (paper Table 2's cosine similarity).

The weights come from the hub at paper scale (MODEL_ID, fetched where the hub is reachable) or from a
local folder in the same layout (`config.json` and `model.safetensors`, as `save_pretrained` writes
them). Offline and without them, `load_dinov3` stops with an error that names the folder it looked in.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

MODEL_ID = "facebook/dinov3-vitb16-pretrain-lvd1689m"
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # DINOv3's LVD-1689M weights expect ImageNet-normalised RGB
IMAGENET_STD = (0.229, 0.224, 0.225)


class MissingWeights(FileNotFoundError):
    """The weights of a paper-scale metric network are not on this machine."""


def load_dinov3(folder: Path) -> nn.Module:
    """The DINOv3 backbone saved in `folder` (local files only: nothing is downloaded here)."""
    config = Path(folder) / "config.json"
    if not config.is_file():
        raise MissingWeights(f"DINOv3 weights not found: {config} does not exist. Download {MODEL_ID} where the "
                             f"hub is reachable (huggingface_hub.snapshot_download('{MODEL_ID}', "
                             f"local_dir='{folder}')) or copy a download in that layout there.")
    from transformers import AutoModel  # only the paper-scale backend needs transformers

    return AutoModel.from_pretrained(str(folder), local_files_only=True).eval()


@torch.no_grad()
def dinov3_features(model: nn.Module, images: Tensor, size: int | None = None) -> Tensor:
    """Images (N, C, H, W) in [-1, 1], grey or RGB -> the model's pooled features (N, D).

    Grey images are repeated to RGB, resized (bicubic) to `size` (default: the model's image size) and
    normalised with ImageNet's statistics, as DINOv3's image processor does.
    """
    x = (images.float().clamp(-1, 1) + 1) / 2
    if x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    size = size or model.config.image_size
    x = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False, antialias=True).clamp(0, 1)
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (IMAGENET_MEAN, IMAGENET_STD))
    return model(pixel_values=(x - mean) / std).pooler_output
