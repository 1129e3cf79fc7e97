"""Train one embedded teacher on Fashion-MNIST, save it in the diffusers layout, draw its sample grid.

    python -m phased_dmd.jobs.teacher kind=wan2.1 out_dir=results/teachers/wan2.1 \
        data_dir=data/fashion-mnist grid=reports/teacher_wan2.1.png   (knobs: params.yaml data, teachers.train)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

from phased_dmd.data.fashion_mnist import CLASS_NAMES
from phased_dmd.io import write_json
from phased_dmd.plots import sample_grid
from phased_dmd.runs import run_main
from phased_dmd.teachers.config import TeacherRunConfig, teacher_knobs
from phased_dmd.teachers.data import load_items, prompt_conditions, training_batches
from phased_dmd.teachers.flow_model import teacher_info, tiny_teacher
from phased_dmd.teachers.sampling import sample
from phased_dmd.teachers.train import train_teacher


def run(cfg: TeacherRunConfig) -> None:
    """Train the embedded teacher on Fashion-MNIST, save it (teacher.json last), draw its sample grid."""
    torch.set_num_threads(1)
    start, out = time.time(), Path(cfg.out_dir)
    info = teacher_info(cfg.kind, list(CLASS_NAMES), cfg.resolution, frames=cfg.video.frames, item=cfg.video.item)
    items, labels = load_items(info, Path(cfg.data_dir), "train")
    batch_size = cfg.train.batch_size if info.task == "t2i" else cfg.train.video_batch_size
    torch.manual_seed(cfg.train.seed)  # the initial weights too: the same settings give the same teacher
    model = train_teacher(tiny_teacher(info), training_batches(info, items, labels), cfg.train, batch_size)
    trained = time.time() - start
    gen = torch.Generator().manual_seed(cfg.sample.seed)
    per_prompt = cfg.sample.per_prompt if info.task == "t2i" else -(-cfg.sample.per_prompt // info.frames)
    _, cond = prompt_conditions(info, *load_items(info, Path(cfg.data_dir), "test"), per_prompt, gen)
    samples = sample(model, cond, cfg.sample.steps, cfg.sample.cfg_scale, cfg.sample.cfg_form, gen)
    sample_grid(samples, list(CLASS_NAMES), Path(cfg.grid))
    write_json(out / "training.json", {"seconds": trained, "iterations": cfg.train.iterations, "batch_size": batch_size,
                                       "parameters": sum(p.numel() for p in model.parameters())})
    model.save(out)
    print(f"teacher {cfg.kind}: trained in {trained:.0f} s, {cfg.train.iterations} iterations; saved to {out}/, "
          f"sample grid ({cfg.sample.steps} steps, CFG {cfg.sample.cfg_scale}) in {cfg.grid}")


def main(argv: list[str] | None = None) -> int:
    return run_main("teacher", TeacherRunConfig, run, __doc__, argv, teacher_knobs)


if __name__ == "__main__":
    sys.exit(main())
