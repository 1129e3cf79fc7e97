"""The embedded feature network: a small CNN trained by the pipeline to classify Fashion-MNIST.

It measures at embedded scale what pretrained networks measure at paper scale: whether a sample
shows the prompted class (accuracy), and, through its features, diversity and distances. It sees
16x16 frames: the centred images of the image teachers and, in half of each batch, frames of moving
items (data/moving.py), so it reads the video teachers' frames too.

    python -m phased_dmd.metrics.classifier data_dir=data/fashion-mnist out_dir=results/classifier
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from omegaconf import MISSING
from torch import Tensor, nn
from tqdm import trange

from phased_dmd import config as C
from phased_dmd.data.fashion_mnist import load
from phased_dmd.data.moving import moving_clips
from phased_dmd.diffusers_api import ConfigMixin, ModelMixin, register_to_config
from phased_dmd.io import write_json
from phased_dmd.runs import params_section, run_main


class FeatureNet(ModelMixin, ConfigMixin):
    """conv 32 -> conv 64 (stride 2) -> conv 128 (stride 2) -> mean pool -> 10 classes; 16x16 input."""

    @register_to_config
    def __init__(self, classes: int = 10, widths: tuple[int, ...] = (32, 64, 128)):
        super().__init__()
        blocks, c_in = [], 1
        for i, c in enumerate(widths):
            blocks.append(nn.Sequential(nn.Conv2d(c_in, c, 3, stride=1 if i == 0 else 2, padding=1), nn.GELU()))
            c_in = c
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(c_in, classes)

    def layers(self, x: Tensor) -> list[Tensor]:
        """The activations of every block, for perceptual distances."""
        out = []
        for block in self.blocks:
            x = block(x)
            out.append(x)
        return out

    def features(self, x: Tensor) -> Tensor:
        """The pooled last-layer features (B, widths[-1])."""
        return self.layers(x)[-1].mean(dim=(2, 3))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


@dataclass
class ClassifierTrainConfig:
    iterations: int = MISSING
    batch_size: int = MISSING
    lr: float = MISSING
    video_share: float = MISSING  # share of each batch that are frames of moving items
    seed: int = MISSING

    def check(self):
        for key in ("iterations", "batch_size", "lr"):
            yield from C.positive(key, getattr(self, key))
        yield from C.unit_interval("video_share", self.video_share)


@dataclass
class ClassifierRunConfig:
    data_dir: str = MISSING
    out_dir: str = MISSING
    params: str = MISSING  # params.yaml: the data's resolution and the moving items' size (data.*)
    resolution: int = MISSING
    item: int = MISSING  # the moving items' size, as in the video teachers
    train: ClassifierTrainConfig = field(default_factory=ClassifierTrainConfig)


def classifier_knobs(run) -> dict:
    """The data the feature network sees, as the teachers do (params.yaml data.*)."""
    from phased_dmd.data.config import DataParams

    data = params_section(run.params, "data", DataParams)
    return {"resolution": data.resolution, "item": data.video.item}


def moving_frames(items: Tensor, canvas: int, gen: torch.Generator) -> Tensor:
    """One random frame of a moving clip per item: the item at a random offset on the canvas."""
    return moving_clips(items, 1, canvas, gen)[:, :, 0]


def train_classifier(images: Tensor, items: Tensor, labels: Tensor, cfg: ClassifierTrainConfig) -> FeatureNet:
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    net = FeatureNet()
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.lr, total_steps=cfg.iterations)
    n_video = int(cfg.batch_size * cfg.video_share)
    bar = trange(cfg.iterations, desc="classifier", mininterval=1.0)
    for _ in bar:
        idx = torch.randint(len(images), (cfg.batch_size,), generator=gen)
        x = images[idx].clone()
        x[:n_video] = moving_frames(items[idx[:n_video]], images.shape[-1], gen)
        loss = nn.functional.cross_entropy(net(x), labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    return net.eval()


@torch.no_grad()
def predict(net: FeatureNet, x: Tensor, batch: int = 1000) -> Tensor:
    """Class probabilities of images (N, 1, H, W), or of videos (N, 1, F, H, W) averaged over frames."""
    if x.ndim == 5:
        n, c, f, h, w = x.shape
        return predict(net, x.transpose(1, 2).reshape(n * f, c, h, w), batch).view(n, f, -1).mean(dim=1)
    return torch.cat([net(x[i: i + batch]).softmax(dim=1) for i in range(0, len(x), batch)])


def run(cfg: ClassifierRunConfig) -> None:
    torch.set_num_threads(1)
    start, out = time.time(), Path(cfg.out_dir)
    data = {split: [torch.from_numpy(a) for a in (*load(Path(cfg.data_dir), split, cfg.resolution),
                                                 load(Path(cfg.data_dir), split, cfg.item)[0])]
            for split in ("train", "test")}
    images, labels, items = data["train"]
    net = train_classifier(images[:, None], items[:, None], labels, cfg.train)
    test_images, test_labels, test_items = data["test"]
    gen = torch.Generator().manual_seed(1)
    accuracy = {
        "images": float((predict(net, test_images[:, None]).argmax(1) == test_labels).float().mean()),
        "moving_frames": float((predict(net, moving_frames(test_items[:, None], cfg.resolution, gen)).argmax(1)
                                == test_labels).float().mean()),
    }
    net.save_pretrained(out / "model")
    write_json(out / "metrics.json", {"held_out_accuracy": accuracy, "test_samples": len(test_labels),
                                      "seconds": time.time() - start})
    print(f"classifier: held-out accuracy {accuracy} in {time.time() - start:.0f} s; saved to {out}/model")


def main(argv: list[str] | None = None) -> int:
    return run_main("classifier", ClassifierRunConfig, run, __doc__, argv, classifier_knobs)


if __name__ == "__main__":
    sys.exit(main())
