"""The teachers' prompt adherence at embedded scale: how often the feature network recognises the prompted
class in a teacher's samples (drawn as the tables' base row is: params.yaml evaluation.teacher_*).

    python -m phased_dmd.jobs.recognition teacher=results/teachers/wan2.1 classifier=results/classifier/model \
        data_dir=data/fashion-mnist out_dir=results/teachers/wan2.1/recognition
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from omegaconf import MISSING

from phased_dmd.io import write_json
from phased_dmd.metrics.classifier import FeatureNet
from phased_dmd.metrics.recognition import recognition
from phased_dmd.runs import run_main
from phased_dmd.teachers.data import load_items, prompt_conditions
from phased_dmd.teachers.flow_model import load_teacher
from phased_dmd.teachers.sampling import sample


@dataclass
class RecognitionRunConfig:
    teacher: str = MISSING
    classifier: str = MISSING
    data_dir: str = MISSING  # held-out first frames for image-to-video
    out_dir: str = MISSING  # writes recognition.json (and config.yaml)
    params: str = MISSING  # params.yaml: the base teacher's sampler (evaluation.teacher_steps, teacher_cfg_scale)
    per_prompt: int = MISSING
    steps: int = MISSING
    cfg_scale: float = MISSING
    seed: int = MISSING


def recognition_knobs(run) -> dict:
    """The teacher is sampled as the tables' base row is (params.yaml evaluation.teacher_*)."""
    from phased_dmd.jobs.params import params_of

    evaluation = params_of(run.params).evaluation
    return {"steps": evaluation.teacher_steps, "cfg_scale": evaluation.teacher_cfg_scale}


def run(cfg: RecognitionRunConfig) -> None:
    torch.set_num_threads(1)
    start = time.time()
    teacher, net = load_teacher(Path(cfg.teacher)), FeatureNet.from_pretrained(cfg.classifier).eval()
    gen = torch.Generator().manual_seed(cfg.seed)
    items, labels = load_items(teacher.info, Path(cfg.data_dir), "test")
    real, cond = prompt_conditions(teacher.info, items, labels, cfg.per_prompt, gen)
    samples = sample(teacher, cond, cfg.steps, cfg.cfg_scale, generator=gen)
    result = recognition(net, samples, cond.prompt_ids, teacher.info.prompts)
    write_json(Path(cfg.out_dir) / "recognition.json", {
        **result, "real": recognition(net, real, cond.prompt_ids, teacher.info.prompts),
        "kind": teacher.info.kind, "steps": cfg.steps, "cfg_scale": cfg.cfg_scale, "seconds": time.time() - start})
    print(f"recognition of {cfg.teacher}: {result['accuracy']:.3f} over {result['samples']} samples; in {cfg.out_dir}/")


def main(argv: list[str] | None = None) -> int:
    return run_main("recognition", RecognitionRunConfig, run, __doc__, argv, recognition_knobs)


if __name__ == "__main__":
    sys.exit(main())
