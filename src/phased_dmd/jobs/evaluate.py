"""Sample one source for the tables and measure it.

A source is the held-out data (`real`), the base teacher (`base`: its sampler, 40 Euler steps with
CFG) or a few-step student (`student`). For every class prompt it draws `per_prompt` samples and
measures, as in the paper's Sec. 5.1: diversity within groups of `group` seeds (mean pairwise cosine of
features, lower = more diverse; mean pairwise perceptual distance, higher = more diverse), and in pixels
(mean pairwise root-mean-square difference); prompt adherence (the share of samples whose class the
embedded feature network names); the Frechet distance of their features to the held-out data's; and,
prompt by prompt, precision, recall, density and coverage (metrics.prdc) against another split of
that prompt's held-out data. Videos are measured frame by frame, their motion
(paper Table 3) by the mean absolute optical flow and VBench's dynamic degree, and their quality (Tables 4
and 5) by VBench's subject consistency, temporal flickering and motion smoothness. The networks are those of
the backend (`backend=embedded`: the pipeline's feature network and OpenCV flow; `backend=paper`:
DINOv3, LPIPS, Inception, RAFT and I3D from `weights`). The features behind the measures are saved too,
for distances between sources (Table 6).

    python -m phased_dmd.jobs.evaluate source=student teacher=results/teachers/wan2.1 \
        student=results/students/wan2.1/phased/seed0 classifier=results/classifier/model \
        data_dir=data/fashion-mnist out_dir=results/evaluation/wan2.1/phased

The knobs come from params.yaml (its evaluation section; the seeds of every report that shows the source, or
students.seeds; the settings of the student its folder names) unless the command line sets them, e.g.
per_prompt=8 seeds=[0].
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from torch import Tensor

from phased_dmd.config import ConfigError
from phased_dmd.engine.device import compute_device, model_device
from phased_dmd.io import atomic_write, write_json
from phased_dmd.jobs.evaluation_config import EvaluationRunConfig, evaluation_knobs
from phased_dmd.jobs.student import load_student, sample_student
from phased_dmd.method.phases import plan_phases
from phased_dmd.metrics.backends import EmbeddedBackend, PaperBackend, backend
from phased_dmd.metrics.classifier import FeatureNet
from phased_dmd.metrics.diversity import mean_pairwise_cosine, mean_pairwise_distance, pixel_distance
from phased_dmd.metrics.frechet import feature_frechet
from phased_dmd.metrics.motion import is_dynamic, mean_absolute_flow, motion_statistics
from phased_dmd.metrics.prdc import neighbours, per_prompt_prdc
from phased_dmd.metrics.recognition import recognition
from phased_dmd.metrics.video_quality import feature_consistency, motion_smoothness, temporal_flickering, to_uint8
from phased_dmd.runs import run_main
from phased_dmd.teachers.data import every_item, load_items, prompt_conditions
from phased_dmd.teachers.flow_model import Condition, FlowModel, load_teacher
from phased_dmd.teachers.hub import decode, load_vae
from phased_dmd.teachers.sampling import sample


def frames(x: Tensor) -> list[Tensor]:
    """Images (N, C, H, W) as one frame; videos (N, C, F, H, W) as F frames."""
    return [x] if x.ndim == 4 else list(x.unbind(dim=2))


@dataclass
class Reference:
    """The held-out data the samples are measured against: Frechet features of every item (N, D), and of another
    split of each prompt's items with their prompt ids (for per-prompt precision, recall, density, coverage)."""

    frechet: Tensor
    per_prompt: Tensor
    prompt_ids: Tensor


@torch.no_grad()
def measure(metrics: EmbeddedBackend | PaperBackend, net: FeatureNet | None, samples: Tensor, prompt_ids: Tensor,
            prompts: list[str], group: int, reference: Reference | None) -> tuple[dict, dict[str, Tensor]]:
    """The table metrics of samples whose consecutive groups of `group` share a prompt, and the features
    behind them: Frechet features per frame (N, F, D); for videos, per frame pair (N, F-1, 2: mean and top-5%
    flow) and, where the backend has them, per video (N, D'). Without the feature network (paper scale: no
    judge of the prompts) there is no adherence; without held-out data, no distance to it."""
    cosine, perceptual, pixel, feats, looks = [], [], [], [], []
    for frame in frames(samples):
        looks.append(metrics.features(frame))
        cosine.append(mean_pairwise_cosine(looks[-1].unflatten(0, (-1, group))).mean())
        perceptual.append(mean_pairwise_distance(metrics.perceptual, metrics.perceptual_parts(frame), group).mean())
        pixel.append(mean_pairwise_distance(pixel_distance, [frame.float()], group).mean())
        feats.append(metrics.frechet_features(frame))
    result = {"cosine": float(torch.stack(cosine).mean()), "perceptual": float(torch.stack(perceptual).mean()),
              "pixel": float(torch.stack(pixel).mean())}
    if net is not None:
        result["adherence"] = recognition(net, samples, prompt_ids, prompts)["accuracy"]
    if reference is not None:
        mean_feats = torch.stack(feats).mean(dim=0)
        result["frechet"] = feature_frechet(mean_feats.numpy(), reference.frechet.numpy())
        k = neighbours(int(torch.bincount(prompt_ids).max()))
        against = per_prompt_prdc(reference.per_prompt, reference.prompt_ids, mean_feats, prompt_ids, k)
        result.update({f"{name}_data": value for name, value in against.items()})
    features = {"frames": torch.stack(feats, dim=1)}
    if samples.ndim == 5:
        flows = [metrics.flow(video) for video in samples]
        result["flow"] = float(np.mean([mean_absolute_flow(f) for f in flows]))
        result["dynamic"] = float(np.mean([is_dynamic(f) for f in flows]))
        eight_bit = [to_uint8(video) for video in samples]
        result["subject_consistency"] = float(np.mean([feature_consistency(f) for f in torch.stack(looks, dim=1)]))
        result["temporal_flickering"] = float(np.mean([temporal_flickering(v) for v in eight_bit]))
        result["motion_smoothness"] = float(np.mean([motion_smoothness(v) for v in eight_bit]))
        features["motion"] = torch.from_numpy(np.stack([motion_statistics(f) for f in flows])).float()
        video = metrics.video_features(samples)
        if video is not None:
            features["video"] = video
    return result, features


@torch.no_grad()
def reference_features(metrics: EmbeddedBackend | PaperBackend, reference: Tensor) -> Tensor:
    """Frechet features of held-out data, averaged over frames (N, D): computed once per evaluation."""
    return torch.stack([metrics.frechet_features(f) for f in frames(reference)]).mean(dim=0)


def held_out(metrics: EmbeddedBackend | PaperBackend, info, items: Tensor, labels: Tensor, per_prompt: int,
             gen: torch.Generator) -> Reference:
    """Every held-out item, and per prompt the `per_prompt` items after those that source=real shows (so that
    held-out data is measured against another split of itself)."""
    split, cond = prompt_conditions(info, items, labels, per_prompt, gen, skip=per_prompt)
    return Reference(reference_features(metrics, every_item(info, items, labels, gen)),
                     reference_features(metrics, split), cond.prompt_ids)


def draw(cfg: EvaluationRunConfig, teacher: FlowModel, real: Tensor, cond: Condition, seed: int,
         gen: torch.Generator) -> Tensor:
    """The source's samples for the conditions (on the teacher's device): held-out data, the base teacher's or
    a student's."""
    if cfg.source == "real":
        return real
    if cfg.source == "base":
        return sample(teacher, cond, cfg.teacher_steps, cfg.teacher_cfg_scale, cfg.teacher_cfg_form, gen)
    experts = load_student(Path(cfg.student) / f"seed{seed}", len(plan_phases(cfg.distill)))
    return sample_student([e.to(model_device(teacher)) for e in experts], cfg.distill, cond, generator=gen)


def run(cfg: EvaluationRunConfig) -> None:
    torch.set_num_threads(1)
    start, out = time.time(), Path(cfg.out_dir)
    device = compute_device()
    teacher = load_teacher(Path(cfg.teacher)).requires_grad_(False).to(device)
    paper_scale = bool(teacher.info.hub)  # a teacher from the hub: latents, no data, no feature network
    if paper_scale and (cfg.source == "real" or cfg.backend != "paper"):
        raise ConfigError(f"{cfg.teacher} is a paper-scale teacher: it has no held-out data (source=real) and is "
                          f"measured with backend=paper (got source={cfg.source}, backend={cfg.backend})")
    net = None if paper_scale else FeatureNet.from_pretrained(cfg.classifier).eval()
    metrics = backend(cfg.backend, net, Path(cfg.weights), device)
    began = time.time()
    if paper_scale:
        vae = load_vae(Path(teacher.info.hub)).to(device)
        reference, prompt_ids = None, torch.arange(len(teacher.info.prompts)).repeat_interleave(cfg.per_prompt)
        conditions = lambda gen: (None, Condition(prompt_ids))  # noqa: E731
    else:
        items, labels = load_items(teacher.info, Path(cfg.data_dir), "test")
        reference = held_out(metrics, teacher.info, items, labels, cfg.per_prompt,
                             torch.Generator().manual_seed(cfg.sample_seed))
        conditions = lambda gen: prompt_conditions(teacher.info, items, labels, cfg.per_prompt, gen)  # noqa: E731
    per_seed, tensors, features, measuring = {}, {}, {}, time.time() - began  # measuring: the reference's too
    for seed in cfg.seeds:
        gen = torch.Generator().manual_seed(cfg.sample_seed + seed)
        real, cond = conditions(gen)
        samples = draw(cfg, teacher, real, cond, seed, gen)
        if paper_scale:
            samples = torch.cat([decode(vae, part).cpu() for part in samples.split(cfg.decode_batch)])
        samples = samples.cpu()
        began = time.time()
        per_seed[seed], feats = measure(metrics, net, samples, cond.prompt_ids, teacher.info.prompts, cfg.group,
                                        reference)
        measuring += time.time() - began
        tensors[f"seed{seed}"] = samples.to(torch.float16).contiguous()
        features.update({f"seed{seed}/{name}": t.contiguous() for name, t in feats.items()})
        print(f"{cfg.source} of {teacher.info.kind}, seed {seed}: " + ", ".join(
            f"{k} {v:.4f}" for k, v in per_seed[seed].items()))
    tensors["prompt_ids"] = cond.prompt_ids.contiguous()
    atomic_write(out / "samples.safetensors", lambda tmp: save_file(tensors, str(tmp)))
    atomic_write(out / "features.safetensors", lambda tmp: save_file(features, str(tmp)))
    write_json(out / "metrics.json", {"seeds": per_seed, "source": cfg.source, "kind": teacher.info.kind,
                                      "samples_per_seed": len(cond), "group": cfg.group, "backend": metrics.description,
                                      "seconds": time.time() - start, "seconds_measuring": measuring})
    print(f"evaluated {cfg.source} of {teacher.info.kind} over seeds {cfg.seeds} in {time.time() - start:.0f} s; "
          f"metrics and samples in {out}/")


def main(argv: list[str] | None = None) -> int:
    return run_main("evaluation", EvaluationRunConfig, run, __doc__, argv, evaluation_knobs)


if __name__ == "__main__":
    sys.exit(main())
