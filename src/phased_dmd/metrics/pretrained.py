"""The paper's metric networks (paper scale), loaded from one local weights folder, and what each measures.

    python -m phased_dmd.metrics.pretrained results/metric-weights    # fetch them (needs the hub)

- DINOv3 (transformers): pooled image features; their mean pairwise cosine is Table 2's diversity.
- LPIPS (lpips, AlexNet): Table 2's perceptual distance.
- RAFT (torchvision, trained on FlyingChairs + FlyingThings like VBench's `raft-things`): optical flow
  for Table 3's mean absolute flow and VBench's dynamic degree.
- Inception (pytorch-fid's FID network): 2048-d pool features for FID.
- I3D (cd-fvd's PyTorch port of the Kinetics-400 I3D): logits for FVD.

The weights folder has the torch hub layout, so the libraries' own loading code finds the files:

    <weights>/dinov3/                       config.json + model.safetensors (save_pretrained layout)
    <weights>/checkpoints/<file>            AlexNet, Inception and RAFT, named as their download URLs
    <weights>/i3d_pretrained_400.pt         I3D

`snakemake metric_weights` fills it where the hub is reachable (`fetch_weights`). Loading never
downloads and never unpickles (every torch.load is weights_only); a missing file stops with an error
that names it and says how to get it.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from phased_dmd.torchvision_import import allow_torchvision_import

DINOV3_ID = "facebook/dinov3-vitb16-pretrain-lvd1689m"  # gated on the hub: accept its licence, then log in
ALEXNET_URL = "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"
RAFT_URL = "https://download.pytorch.org/models/raft_large_C_T_V2-1bb1363a.pth"
INCEPTION_URL = ("https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
                 "pt_inception-2015-12-05-6726825d.pth")
I3D_URL = "https://github.com/songweige/TATS/raw/main/tats/fvd/i3d_pretrained_400.pt"  # cd-fvd's source
URLS = {"alexnet": ALEXNET_URL, "raft": RAFT_URL, "inception": INCEPTION_URL, "i3d": I3D_URL}  # besides DINOv3
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # DINOv3's LVD-1689M weights expect ImageNet-normalised RGB
IMAGENET_STD = (0.229, 0.224, 0.225)


class MissingWeights(FileNotFoundError):
    """The weights of a paper-scale metric network are not on this machine."""


def weight_files(folder: Path) -> dict[str, Path]:
    """Where each network's weights lie in the weights folder."""
    folder = Path(folder)
    return {"dinov3": folder / "dinov3" / "config.json",
            **{name: (folder if name == "i3d" else folder / "checkpoints") / Path(url).name
               for name, url in URLS.items()}}


def require(folder: Path, name: str) -> Path:
    """The path of one network's weights, or MissingWeights naming it and how to get it."""
    path = weight_files(folder)[name]
    if not path.is_file():
        source = URLS.get(name, f"{DINOV3_ID} from the hub")
        raise MissingWeights(f"{name} weights not found: {path} does not exist. Run `snakemake metric_weights` "
                             f"where the hub is reachable, or copy {source} there.")
    return path


@contextmanager
def local_hub(folder: Path):
    """torch.hub reads `folder/checkpoints`, and every torch.load inside is weights_only."""
    previous, forced = torch.hub.get_dir(), os.environ.get("TORCH_FORCE_WEIGHTS_ONLY_LOAD")
    torch.hub.set_dir(str(folder))
    os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = "1"
    try:
        yield
    finally:
        torch.hub.set_dir(previous)
        if forced is None:
            os.environ.pop("TORCH_FORCE_WEIGHTS_ONLY_LOAD")
        else:
            os.environ["TORCH_FORCE_WEIGHTS_ONLY_LOAD"] = forced


def fetch_weights(folder: Path) -> None:
    """Download every network's weights into `folder` (needs the hub; DINOv3 needs a logged-in account)."""
    from huggingface_hub import snapshot_download

    snapshot_download(DINOV3_ID, local_dir=str(Path(folder) / "dinov3"))
    for name, url in URLS.items():
        path = weight_files(folder)[name]
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(url, str(path))


def to_rgb(images: Tensor, size: int | None = None) -> Tensor:
    """Images (N, C, H, W) in [-1, 1], grey or RGB -> RGB in [0, 1], resized (bicubic) to size x size."""
    x = (images.float().clamp(-1, 1) + 1) / 2
    if x.shape[1] == 1:
        x = x.repeat(1, 3, 1, 1)
    if size is not None and x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False, antialias=True).clamp(0, 1)
    return x


def load_dinov3(folder: Path) -> nn.Module:
    """The DINOv3 backbone in `folder/dinov3` (transformers, local files only)."""
    require(folder, "dinov3")
    allow_torchvision_import()
    from transformers import AutoModel

    return AutoModel.from_pretrained(str(Path(folder) / "dinov3"), local_files_only=True).eval()


@torch.no_grad()
def dinov3_features(model: nn.Module, images: Tensor, size: int | None = None) -> Tensor:
    """Images (N, C, H, W) in [-1, 1] -> pooled features (N, D), preprocessed as DINOv3's image processor does
    (resized to `size`, default the model's image size; ImageNet-normalised)."""
    x = to_rgb(images, size or model.config.image_size)
    mean, std = (torch.tensor(v).view(1, 3, 1, 1).to(x) for v in (IMAGENET_MEAN, IMAGENET_STD))
    return model(pixel_values=(x - mean) / std).pooler_output


def load_lpips(folder: Path) -> nn.Module:
    """LPIPS with the AlexNet backbone (torchvision's ImageNet weights from the folder; LPIPS's own linear
    layer weights ship with the lpips package)."""
    require(folder, "alexnet")
    allow_torchvision_import()
    import lpips

    with local_hub(folder):
        return lpips.LPIPS(net="alex", verbose=False).eval()


@torch.no_grad()
def lpips_distance(model: nn.Module, a: Tensor, b: Tensor, size: int = 224) -> Tensor:
    """LPIPS between image pairs (N, C, H, W) in [-1, 1] -> (N,), at size x size (AlexNet needs >= 64 px)."""
    return model(to_rgb(a, size) * 2 - 1, to_rgb(b, size) * 2 - 1).flatten()


def load_raft(folder: Path) -> nn.Module:
    """RAFT-large (torchvision) with the weights trained on FlyingChairs + FlyingThings."""
    path = require(folder, "raft")
    allow_torchvision_import()
    from torchvision.models.optical_flow import raft_large

    model = raft_large(weights=None)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


@torch.no_grad()
def raft_flow(model: nn.Module, video: Tensor, min_size: int = 128) -> np.ndarray:
    """Flow between consecutive frames of a grey or RGB video (C, F, H, W) in [-1, 1] -> (F-1, H, W, 2), in
    pixels of the video. Frames smaller than RAFT's minimum (128 px) are upsampled by a whole factor first,
    and the flow is brought back to the video's size and pixel units."""
    frames = to_rgb(video.transpose(0, 1)) * 2 - 1  # (F, 3, H, W)
    height, width = frames.shape[-2:]
    scale = math.ceil(min_size / min(height, width)) if min(height, width) < min_size else 1
    big = F.interpolate(frames, scale_factor=scale, mode="bilinear", align_corners=False) if scale > 1 else frames
    flow = model(big[:-1], big[1:])[-1]  # (F-1, 2, H * scale, W * scale)
    if scale > 1:
        flow = F.interpolate(flow, size=(height, width), mode="area") / scale
    return flow.permute(0, 2, 3, 1).double().cpu().numpy()


def load_inception(folder: Path) -> nn.Module:
    """pytorch-fid's Inception network (the TensorFlow FID weights), returning its 2048-d pool features."""
    require(folder, "inception")
    allow_torchvision_import()
    from pytorch_fid.inception import InceptionV3

    with local_hub(folder):
        return InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()


@torch.no_grad()
def inception_features(model: nn.Module, images: Tensor) -> Tensor:
    """Images (N, C, H, W) in [-1, 1] -> FID's pool features (N, 2048) (resized to 299 by the network)."""
    return model(to_rgb(images))[0].flatten(1)


def load_i3d(folder: Path) -> nn.Module:
    """cd-fvd's I3D (Kinetics-400), the network behind FVD."""
    path = require(folder, "i3d")
    from cdfvd.third_party.i3d.utils import load_i3d_model

    with local_hub(folder):
        return load_i3d_model("cpu", str(path)).eval()


@torch.no_grad()
def i3d_features(model: nn.Module, videos: Tensor, min_frames: int = 10, size: int = 224) -> Tensor:
    """Videos (N, C, F, H, W) in [-1, 1] -> I3D logits (N, 400), cd-fvd's FVD features. Frames are resized to
    size x size (bilinear, as cd-fvd). I3D needs at least 10 frames: shorter videos repeat each frame."""
    n, _, frames, height, width = videos.shape
    x = to_rgb(videos.transpose(1, 2).flatten(0, 1))  # (N F, 3, H, W) in [0, 1]
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False) * 2 - 1
    x = x.view(n, frames, 3, size, size).transpose(1, 2)
    if frames < min_frames:
        x = x.repeat_interleave(math.ceil(min_frames / frames), dim=2)
    return model(x)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Fetch the paper's metric networks into a weights folder "
                                     "(DINOv3 is gated on the hub: accept its licence and log in first).")
    parser.add_argument("folder", type=Path, help="the weights folder (params.yaml evaluation.weights)")
    folder = parser.parse_args(argv).folder
    fetch_weights(folder)
    files = ", ".join(str(p.relative_to(folder)) for p in weight_files(folder).values())
    print(f"metric weights in {folder}/: {files}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
