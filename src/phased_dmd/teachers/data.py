"""What a teacher is trained and evaluated on: Fashion-MNIST images, or moving-item clips made from them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from phased_dmd.data.fashion_mnist import load
from phased_dmd.data.moving import moving_clips
from phased_dmd.teachers.flow_model import Condition, TeacherInfo

Batches = Callable[[int, torch.Generator], tuple[Tensor, Condition]]  # (n, generator) -> (x_0, condition)


def load_items(info: TeacherInfo, data_dir: Path, split: str) -> tuple[Tensor, Tensor]:
    """Images (N, 1, r, r) at the teacher's resolution, or the moving items of its videos; labels (N,)."""
    images, labels = load(Path(data_dir), split, info.resolution if info.task == "t2i" else info.item)
    return torch.from_numpy(images[:, None]), torch.from_numpy(labels)


def _samples(info: TeacherInfo, items: Tensor, labels: Tensor, idx: Tensor,
             gen: torch.Generator) -> tuple[Tensor, Condition]:
    if info.task == "t2i":
        return items[idx], Condition(labels[idx])
    clips = moving_clips(items[idx], info.frames, info.resolution, gen)
    return clips, Condition(labels[idx], clips[:, :, 0] if info.task == "i2v" else None)


def every_item(info: TeacherInfo, items: Tensor, labels: Tensor, gen: torch.Generator) -> Tensor:
    """Every item as a sample: the images, or one clip of each item (a reference set for distances)."""
    return _samples(info, items, labels, torch.arange(len(items)), gen)[0]


def training_batches(info: TeacherInfo, items: Tensor, labels: Tensor) -> Batches:
    """Random batches: images, or clips drawn on the fly (with their first frame as condition for i2v)."""
    return lambda n, gen: _samples(info, items, labels, torch.randint(len(items), (n,), generator=gen), gen)


def prompt_batches(info: TeacherInfo) -> Batches:
    """Paper scale, where distillation sees no data: random prompts, with an empty x_0 of the latents' shape."""
    return lambda n, gen: (torch.empty(n, *info.shape),
                           Condition(torch.randint(len(info.prompts), (n,), generator=gen)))


def prompt_conditions(info: TeacherInfo, items: Tensor, labels: Tensor, per_prompt: int,
                      gen: torch.Generator, skip: int = 0) -> tuple[Tensor, Condition]:
    """`per_prompt` real samples of every prompt in order (from held-out items, after the first `skip` of each
    class: another split of them) and their conditions."""
    idx = torch.cat([(labels == c).nonzero().squeeze(1)[skip:skip + per_prompt] for c in range(len(info.prompts))])
    return _samples(info, items, labels, idx, gen)
