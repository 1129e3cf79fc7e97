"""Sample a distilled student: its generator experts run in sequence over their phases, in its few steps.

    python -m phased_dmd.sample --student results/students/wan2.1/phased/seed0 --prompt Trouser --seed 0 --out out.png
    python -m phased_dmd.sample --student results/students/wan2.2-t2v/phased/seed0 --prompt Sneaker --out out.gif
    python -m phased_dmd.sample --student results/students/wan2.2-i2v/phased/seed0 --prompt Bag --image bag.png \\
        --out out.gif

--student is a student's folder as the workflow writes it (config.yaml, phase<p>/generator/ for every phase).
The prompt is one the student was distilled on: the embedded teachers know the ten Fashion-MNIST class names, a
paper-scale teacher the prompts its teacher rule encoded (teachers.prompts). Images are written as PNG, videos as
GIF; an embedded sample (16 x 16, one channel) is enlarged --zoom times, a paper-scale one is decoded by its
pipeline's VAE. Image-to-video: embedded students take the first frame from --image (any image, converted to the
teacher's size and grey levels); paper-scale ones from the image their teacher rule encoded for the prompt.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from phased_dmd.config import ConfigError, build, read_yaml
from phased_dmd.jobs.student import load_student, sample_student
from phased_dmd.method.distill_config import DistillConfig
from phased_dmd.method.phases import plan_phases
from phased_dmd.teachers.flow_model import Condition, FlowModel
from phased_dmd.teachers.hub import decode, load_vae

SUFFIXES = {False: ".png", True: ".gif"}  # an image, a video


def student_settings(folder: Path) -> DistillConfig:
    """The distill settings the student was trained with (its config.yaml, written by the student job)."""
    path = folder / "config.yaml"
    if not path.is_file():
        raise ConfigError(f"{path}: not found; --student expects a student's folder (config.yaml, phase1/, ...)")
    return build(DistillConfig, read_yaml(path)["distill"], str(path))


def condition(expert: FlowModel, prompt: str, image: Path | None) -> Condition:
    """The prompt's index among the teacher's prompts, and the first frame an embedded image-to-video needs."""
    info = expert.info
    if prompt not in info.prompts:
        raise ConfigError(f"--prompt {prompt!r}: not a prompt of this student; expected one of {info.prompts}")
    ids = torch.tensor([info.prompts.index(prompt)])
    if info.task != "i2v" or info.hub:
        return Condition(ids)
    if image is None:
        raise ConfigError("--image: an image-to-video student needs the first frame (an image file)")
    grey = Image.open(image).convert("L").resize((info.resolution, info.resolution), Image.Resampling.BOX)
    frame = torch.from_numpy(np.asarray(grey, dtype=np.float32) / 127.5 - 1.0)
    return Condition(ids, frame.expand(1, info.channels, *frame.shape).clone())


def to_frames(expert: FlowModel, sample: torch.Tensor, zoom: int) -> list[Image.Image]:
    """A sample (C, H, W) or (C, F, H, W) in [-1, 1] as 8-bit frames: decoded by the pipeline's VAE at paper scale,
    enlarged `zoom` times at the embedded scale."""
    if expert.info.hub:
        sample = decode(load_vae(Path(expert.info.hub)).to(sample.device), sample[None])[0]
    video = sample if sample.ndim == 4 else sample.unsqueeze(1)  # (C, F, H, W)
    pixels = ((video.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 3, 0).cpu().numpy()
    frames = [Image.fromarray(f[..., 0] if f.shape[-1] == 1 else f) for f in pixels]
    if not expert.info.hub:
        frames = [f.resize((f.width * zoom, f.height * zoom), Image.Resampling.NEAREST) for f in frames]
    return frames


def write(frames: list[Image.Image], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial" + out.suffix)
    if len(frames) == 1:
        frames[0].save(partial)
    else:
        frames[0].save(partial, save_all=True, append_images=frames[1:], duration=250, loop=0)
    partial.replace(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m phased_dmd.sample", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--student", type=Path, required=True, help="a student's folder (config.yaml, phase<p>/generator/)")
    ap.add_argument("--prompt", required=True, help="one of the prompts the student was distilled on")
    ap.add_argument("--seed", type=int, default=0, help="the sampling noise (default 0)")
    ap.add_argument("--out", type=Path, required=True, help="where to write: .png (image) or .gif (video)")
    ap.add_argument("--image", type=Path, help="image-to-video at the embedded scale: the first frame")
    ap.add_argument("--zoom", type=int, default=8, help="enlargement of an embedded sample (default 8)")
    args = ap.parse_args(argv)
    try:
        cfg = student_settings(args.student)
        experts = load_student(args.student, len(plan_phases(cfg)))
        expected = SUFFIXES[experts[0].info.task != "t2i"]
        if args.out.suffix != expected:
            raise ConfigError(f"--out {args.out}: expected a {expected} file for a {experts[0].info.task} student")
        cond = condition(experts[0], args.prompt, args.image)
        sample = sample_student(experts, cfg, cond, torch.Generator().manual_seed(args.seed))[0]
        write(to_frames(experts[0], sample, args.zoom), args.out)
    except (ConfigError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"sample of {args.student} ({cfg.method}, {cfg.num_steps if cfg.method != 'dmd' else 1} step(s)) for "
          f"{args.prompt!r}, seed {args.seed}: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
