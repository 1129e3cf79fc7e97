"""Distil a saved teacher (embedded or hub) into a few-step student, one phase per run.

The student of a method is a list of generator experts, one per phase (DMD and SGTS: one). Each
expert starts as a copy of the teacher's expert that serves its phase (Wan2.2: the high-noise
expert for a phase above the boundary, the low-noise one below; a phase across the boundary keeps
both, routed by t); the fake model starts as a copy of the whole teacher, so that with a Wan2.2
teacher every re-noised t goes to the teacher and the fake of its own expert. A phase served by
the high-noise expert alone re-noises only above the boundary (t in (boundary, 1)).

    python -m phased_dmd.jobs.student teacher=results/teachers/wan2.1 data_dir=data/fashion-mnist \
        out_dir=results/students/wan2.1/phased/seed0 student=phased phase=1 seed=0

The distill knobs are params.yaml's for that student and teacher (`students`, in layers); a
`distill.<knob>=<value>` override changes one for this run, e.g. distill.iterations=10.

Data parallel over several GPUs or nodes (the same weights as one process, up to float rounding):

    torchrun --nproc_per_node 8 -m phased_dmd.jobs.student ...   (or the launcher with --tasks-per-node 8)
"""

from __future__ import annotations

import copy
import hashlib
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch

from phased_dmd.engine import data_parallel, precision
from phased_dmd.engine.device import compute_device, model_device
from phased_dmd.engine.loop import PhaseModels, train_phase
from phased_dmd.engine.lora import adapter_spec, base_only, new_adapter
from phased_dmd.jobs.student_config import StudentRunConfig, student_knobs
from phased_dmd.method import grids
from phased_dmd.method.distill_config import DistillConfig
from phased_dmd.method.grids import Phase
from phased_dmd.method.phases import plan_phases, run_experts
from phased_dmd.plots import loss_curves
from phased_dmd.runs import run_main
from phased_dmd.teachers.data import load_items, prompt_batches, training_batches
from phased_dmd.teachers.flow_model import EXPERT_FOLDERS, Condition, FlowModel, load_adapters, load_teacher


def phase_dir(out_dir: Path, phase: int) -> Path:
    return Path(out_dir) / f"phase{phase}"


def serving_experts(teacher: FlowModel, phase: Phase) -> list[int]:
    """The teacher experts whose t-range meets the phase's open interval (s_p, s_{p-1})."""
    return grids.serving_experts(teacher.info.boundary, phase.start_level, phase.end_level)


def phase_generator(teacher: FlowModel, phase: Phase) -> FlowModel:
    """The phase's generator expert, initialised from the teacher expert(s) that serve its phase."""
    experts = serving_experts(teacher, phase)
    return teacher.expert_copy(experts[0]) if len(experts) == 1 else copy.deepcopy(teacher)


def adapters(teacher: FlowModel, experts: list[int], name: str, settings: DistillConfig,
             teacher_dir: str) -> FlowModel:
    """A role trained as LoRA adapters `name` over the teacher's own experts `experts` (indices), which it shares
    with the teacher and the other roles (engine/lora.py)."""
    spec = {"rank": settings.lora_rank, "alpha": settings.lora_alpha, "targets": list(settings.lora_targets),
            "dropout": settings.lora_dropout, "teacher": str(teacher_dir)}
    views = [new_adapter(teacher.experts[i], name, {**spec, "expert": i}) for i in experts]
    info = teacher.info if len(experts) == len(teacher.experts) else replace(teacher.info, boundary=None)
    return FlowModel(info, views, teacher.text_encoder, teacher.image_conditions)


def trainable(model: FlowModel) -> FlowModel:
    """Train the transformer expert(s); the text encoder stays frozen (shared with the teacher)."""
    model.train().experts.requires_grad_(True)
    return model


def phase_floor(teacher: FlowModel, phase: Phase) -> float:
    """Wan2.2: a phase of the high-noise expert alone re-noises with t clamped to (boundary, 1)."""
    high_only = teacher.info.boundary is not None and serving_experts(teacher, phase) == [0]
    return teacher.info.boundary if high_only else 0.0


def checkpoint_activations(model: FlowModel) -> None:
    """diffusers' gradient checkpointing in every transformer of `model`: the same gradients, less memory."""
    for expert in model.experts:
        expert.enable_gradient_checkpointing()


def compile_transformers(models: list[FlowModel]) -> None:
    """torch.compile (inductor) of every transformer of `models`, in place: the same maths, fused kernels; each
    input shape compiles once per process (a warm inductor cache on disk makes the next process's faster)."""
    for model in models:
        for expert in model.experts:
            expert.compile()


def weights_digest(folders: list[Path]) -> str:
    """SHA-256 of the safetensors weights under `folders`: what a phase started from (for resume)."""
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(Path(folder).rglob("*.safetensors")):
            digest.update(path.read_bytes())
    return digest.hexdigest()


def load_student(out_dir: Path, phases: int, teacher: FlowModel | None = None) -> list[FlowModel]:
    """The generator experts of phases 1..phases, saved by earlier runs (with the teacher loader); experts saved
    as LoRA adapters go onto `teacher`'s transformers when it is given (else each loads its own base)."""
    experts = []
    for p in range(1, phases + 1):
        folder = phase_dir(out_dir, p) / "generator"
        if not (folder / "teacher.json").is_file():
            raise FileNotFoundError(f"{folder}: phase {p} of this student is not trained yet (run phase {p} first)")
        shared = teacher is not None and adapter_spec(folder / EXPERT_FOLDERS[0]) is not None
        experts.append((load_adapters(folder, teacher) if shared else load_teacher(folder)).requires_grad_(False))
    return experts


def phase_models(teacher: FlowModel, settings: DistillConfig, trained: list[int],
                 frozen: Callable[[], list[FlowModel]], teacher_dir: str = "teacher") -> PhaseModels:
    """The models of a run that trains phases `trained` (0-based) of a student of `teacher` (saved in
    `teacher_dir`): the `frozen()` experts of the phases before them, a generator expert per trained phase (from
    the teacher's expert that serves it) and a fake per trained phase (the whole teacher), each a copy (full) or
    adapters over the teacher's own transformers (lora); the guided teacher, without adapters, as the real score.
    The copies are taken first, from the teacher before any adapter is on it."""
    phases = plan_phases(settings)
    generators = {p: phase_generator(teacher, phases[p]) for p in trained if settings.generator_train == "full"}
    fakes = {p: copy.deepcopy(teacher) for p in trained if settings.fake_train == "full"}
    earlier = frozen()
    for p in trained:
        if settings.generator_train == "lora":
            generators[p] = adapters(teacher, serving_experts(teacher, phases[p]), f"generator{p + 1}", settings,
                                     teacher_dir)
        if settings.fake_train == "lora":
            fakes[p] = adapters(teacher, list(range(len(teacher.experts))), f"fake{p + 1}", settings, teacher_dir)

    def real_score(x: torch.Tensor, t: torch.Tensor, cond: Condition) -> torch.Tensor:
        with base_only(teacher):
            return teacher.guided(x, t, cond, settings.cfg_scale, settings.cfg_form)

    return PhaseModels(real_score, experts=[*earlier, *(trainable(generators[p]) for p in trained)],
                       fakes=[trainable(fakes[p]) for p in trained],
                       floors={p: phase_floor(teacher, phases[p]) for p in trained})


@torch.no_grad()
def sample_student(experts: list[FlowModel], cfg: DistillConfig, cond: Condition,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Few-step samples: the experts run in sequence over their phases (a mixture of experts by noise level)."""
    device = model_device(experts[0])
    noise = torch.randn((len(cond), *experts[0].info.shape), generator=generator).to(device)
    return run_experts(experts, plan_phases(cfg), noise, cond.to(device), cfg, generator)


def run(cfg: StudentRunConfig) -> None:
    torch.set_num_threads(1)
    start, out, settings = time.time(), Path(cfg.out_dir), cfg.distill
    phases = plan_phases(settings)
    if cfg.phase > len(phases):
        raise SystemExit(f"error: phase={cfg.phase}, but method {settings.method} with {settings.num_steps} "
                         f"steps has {len(phases)} phase(s)")
    joint = settings.schedule == "joint"
    trained = list(range(len(phases))) if joint else [cfg.phase - 1]
    device = compute_device()
    teacher = load_teacher(Path(cfg.teacher)).requires_grad_(False).to(device)
    torch.manual_seed(cfg.seed)
    earlier = lambda: [e.to(device) for e in load_student(out, trained[0], teacher)]  # noqa: E731
    models = phase_models(teacher, settings, trained, earlier, cfg.teacher)
    for model in (teacher, *models.experts[:trained[0]]):  # frozen: held in the compute precision
        precision.hold_frozen(model.experts, cfg.precision)
    if cfg.gradient_checkpointing:
        for model in (*(models.experts[p] for p in trained), *models.fakes):
            checkpoint_activations(model)
    if cfg.compile:
        compile_transformers([teacher, *models.experts, *models.fakes])
    if teacher.info.hub:  # a paper-scale teacher: data-free, prompts only
        batches = prompt_batches(teacher.info)
    else:
        batches = training_batches(teacher.info, *load_items(teacher.info, Path(cfg.data_dir), "train"))

    def sample_batch(n: int, gen: torch.Generator) -> tuple[torch.Tensor, Condition]:
        x0, cond = batches(n, gen)
        return torch.randn(x0.shape, generator=gen).to(device), cond.to(device)

    run_dir = out / "joint" if joint else phase_dir(out, cfg.phase)
    sources = [Path(cfg.teacher), *(phase_dir(out, p + 1) / "generator" for p in range(trained[0]))]
    with data_parallel.process_group():
        if data_parallel.sharding():  # every transformer sharded over the processes (FSDP2)
            for model in (teacher, *models.experts, *models.fakes):
                for expert in model.experts:
                    data_parallel.shard_model(expert, cfg.precision)
        with precision.compute(cfg.precision, device):
            history = train_phase(models, settings, sample_batch, run_dir, seed=cfg.seed + 100 * cfg.phase,
                                  desc=f"{teacher.info.kind} {settings.method} seed {cfg.seed}",
                                  inputs=f"{weights_digest(sources)} {cfg.precision}",
                                  checkpoint_every=cfg.checkpoint_every)
        for p in trained:
            models.experts[p].eval().save(phase_dir(out, p + 1) / "generator")
        if data_parallel.is_main():
            loss_curves(history, run_dir / "losses.png")
            print(f"student {settings.method}, phase(s) {[p + 1 for p in trained]} of {len(phases)} "
                  f"({settings.schedule}) in {time.time() - start:.0f} s: generators in {out}/phase*/generator/, "
                  f"losses in {run_dir / 'losses.png'}")


def main(argv: list[str] | None = None) -> int:
    return run_main("student", StudentRunConfig, run, __doc__, argv, student_knobs)


if __name__ == "__main__":
    sys.exit(main())
