"""Benchmark: what one generator update and sampling cost, per method, on one tiny teacher.

A generator update is `distill.generator_update`, the code the training runs: phase input from the
frozen earlier experts, the phase's output with gradient (one step; SGTS: one of the phase's steps;
full backprop: all of them), teacher and fake at the re-noised x_t, the DMD loss, backward, AdamW.
Time: median wall time over `repeats` updates on one thread, after one warm-up update. Memory:
peak of tensor memory allocated during one update above what was held before it (weights, AdamW
state and the previous gradients), from the PyTorch CPU allocator's events (torch.profiler with
profile_memory), the largest of three updates. Phased methods: time averaged over phases, memory
the largest phase. Sampling: the teacher's Euler sampler with CFG against the 4-step student.
Training iteration (what a phase repeats: `ttur` fake updates, then the generator update), one-step DMD:
its time at several batch sizes and threads, its FLOPs (torch's FlopCounterMode: matrix products and
attention, forward and backward; cost/measure.flop_count) and their rate as a share of the CPU's measured fp32
matmul peak; and with every transformer under torch.compile (the student run setting `compile`): its time per
iteration and what compiling adds to a run's start, cold and from a warm inductor cache. The GPU check
(phased_dmd.gpu_check) times the same iteration on a GPU.

    python -m phased_dmd.jobs.bench teacher_dir=results/teachers/wan2.1 out_dir=results/bench   (knobs: params.yaml)
"""

from __future__ import annotations

import copy
import dataclasses
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import torch
from torch.profiler import ProfilerActivity, profile

from phased_dmd.choices import PRECISIONS
from phased_dmd.cost.measure import flop_count
from phased_dmd.engine import precision
from phased_dmd.engine.loop import fake_update, generator_update, optimisers
from phased_dmd.io import write_json
from phased_dmd.jobs.bench_config import BenchRunConfig, bench_knobs
from phased_dmd.jobs.student import compile_transformers, phase_generator, phase_models, sample_student
from phased_dmd.method.distill_config import DistillConfig
from phased_dmd.method.phases import plan_phases
from phased_dmd.runs import run_main
from phased_dmd.teachers.flow_model import Condition, FlowModel, load_teacher
from phased_dmd.teachers.sampling import sample

VARIANTS: dict[str, dict] = {  # DistillConfig settings of each benchmarked generator update
    "dmd": {"method": "dmd"},
    "full_backprop": {"method": "sgts", "full_backprop": True},
    "sgts": {"method": "sgts"},
    "phased_2": {"method": "phased", "num_phases": 2},
    "phased_4": {"method": "phased", "num_phases": 4},
}


def peak_allocated_mb(fn) -> float:
    """Peak of CPU tensor memory allocated while fn() runs, above the level at its start (MiB)."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events() if e.name() == "[memory]")
    level = peak = 0
    for _, nbytes in events:
        level += nbytes
        peak = max(peak, level)
    return peak / 2**20


CPU = torch.device("cpu")


def synchronize(device: torch.device) -> None:
    """Wait for the work queued on `device` (a GPU runs asynchronously; the CPU has nothing to wait for)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, repeats: int, device: torch.device = CPU) -> list[float]:
    """Wall seconds of each of `repeats` calls of fn, each until `device` has finished its work."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize(device)
        seconds.append(time.perf_counter() - start)
    return seconds


def phase_updates(teacher: FlowModel, cfg: DistillConfig, p: int, seed: int, compute: str = "fp32",
                  device: torch.device = CPU):
    """The two updates training repeats in phase p (earlier experts frozen), as callables: the generator's and
    the fake model's, each with its AdamW, at the `compute` precision (engine/precision.py: bf16 holds the
    teacher and the frozen experts in bf16, as the student job does), on `device` (where the teacher is; the
    batches are drawn on the CPU and moved there, as the student job draws them)."""
    phases = plan_phases(cfg)
    if compute != "fp32" or cfg.uses_lora:  # held in bf16, or given adapters: not the caller's teacher
        teacher = copy.deepcopy(teacher)
    models = phase_models(teacher, cfg, [p], lambda: [phase_generator(teacher, phases[q]).requires_grad_(False)
                                                              for q in range(p)])
    for model in (teacher, *models.experts[:p]):
        precision.hold_frozen(model.experts, compute)
    gen = torch.Generator().manual_seed(seed)
    prompts = len(teacher.info.prompts)
    batch = lambda n, g: (torch.randn((n, *teacher.info.shape), generator=g).to(device),  # noqa: E731
                          Condition(torch.randint(prompts, (n,), generator=g)).to(device))
    opt_g, opt_f = optimisers(models, cfg)[p]

    def run(update, opt):
        with precision.compute(compute, device):
            return update(models, p, cfg, batch, gen, opt)

    return lambda: run(generator_update, opt_g), lambda: run(fake_update, opt_f), models


def update_cost(teacher: FlowModel, cfg: DistillConfig, p: int, repeats: int, seed: int,
                compute: str = "fp32") -> dict:
    """Seconds (median) and peak MiB of one generator update of phase p (earlier experts frozen)."""
    update, _, models = phase_updates(teacher, cfg, p, seed, compute)
    update()  # warm-up: AdamW state and gradients exist from here on, as in training
    seconds = timed(update, repeats)
    checkpoint = [t for model in (models.experts[p], models.fake_of(p)) for t in model.state_dict().values()]
    return {"seconds": statistics.median(seconds), "repeats": seconds,
            "peak_mb": max(peak_allocated_mb(update) for _ in range(3)),
            "checkpoint_mb": sum(t.numel() * t.element_size() for t in checkpoint) / 2**20}


def matmul_peak_gflops(size: int = 1024, repeats: int = 5, device: torch.device = CPU,
                       dtype: torch.dtype = torch.float32) -> float:
    """The matrix-product rate of `device` in `dtype` (GFLOP/s; a CPU's on its current threads): best of
    `repeats` products of two size x size matrices, 2 size^3 FLOPs each, after one."""
    a, b = (torch.randn(size, size, device=device, dtype=dtype) for _ in range(2))
    timed(lambda: a @ b, 1, device)
    return 2 * size**3 / min(timed(lambda: a @ b, repeats, device)) / 1e9


def iteration_cost(teacher: FlowModel, cfg: DistillConfig, repeats: int, seed: int, compute: str = "fp32",
                   device: torch.device = CPU) -> dict:
    """One training iteration of one-step DMD (cfg.ttur fake updates, then the generator update) at the `compute`
    precision on `device` (where the teacher is): median seconds, FLOPs (flop_count) and samples of the generator
    batch per second."""
    iteration = training_iteration(*phase_updates(teacher, cfg, 0, seed, compute, device)[:2], cfg.ttur)
    timed(iteration, 1, device)  # warm-up
    with flop_count() as counter:
        iteration()
    seconds = statistics.median(timed(iteration, repeats, device))
    return {"batch_size": cfg.batch_size, "seconds": seconds, "gflop": counter.get_total_flops() / 1e9,
            "samples_per_second": cfg.batch_size / seconds}


def training_iteration(generator: Callable[[], float], fake: Callable[[], float], ttur: int) -> Callable[[], None]:
    """What a phase repeats: `ttur` fake updates, then the generator update."""
    def iteration():
        for _ in range(ttur):
            fake()
        generator()

    return iteration


def compiled_iteration(teacher: FlowModel, cfg: BenchRunConfig, eager: float) -> dict:
    """The students' training iteration (one-step DMD, the students' batch, one thread) with every transformer
    under torch.compile (the run setting `compile`), against `eager` (its seconds, measured by iteration_profile):
    seconds per iteration, and the seconds the compilation adds to a run's first iteration, cold (an empty inductor
    cache) and warm (the cache a first run left: every later job on the machine)."""
    dc = dataclasses.replace(cfg.distill, batch_size=cfg.batch_size)
    first = []
    with tempfile.TemporaryDirectory() as cache, mock.patch.dict(os.environ, TORCHINDUCTOR_CACHE_DIR=cache):
        for _ in ("cold", "warm"):  # cold: nothing compiled in this cache yet
            torch.compiler.reset()  # forget the compiled graphs of this process; the disk cache stays
            copied = copy.deepcopy(teacher)
            generator, fake, models = phase_updates(copied, dc, 0, cfg.seed)
            compile_transformers([copied, *models.experts, *models.fakes])
            iteration = training_iteration(generator, fake, dc.ttur)
            first.append(timed(iteration, 1)[0])
        seconds = statistics.median(timed(iteration, cfg.repeats))
        torch.compiler.reset()
    out = {"batch_size": dc.batch_size, "eager_seconds": eager, "compiled_seconds": seconds,
           "compile_cold_seconds": first[0] - seconds, "compile_warm_seconds": first[1] - seconds,
           "iterations_per_phase": dc.iterations}
    print(f"bench: compiled iteration {seconds:.3f} s against eager {eager:.3f} s; compiling adds "
          f"{out['compile_cold_seconds']:.0f} s cold, {out['compile_warm_seconds']:.0f} s warm", flush=True)
    return out


def iteration_profile(teacher: FlowModel, cfg: BenchRunConfig) -> dict:
    """Where a training iteration's time goes: its rate against the measured matmul peak at half, one, two and
    four times the students' batch on one thread, and the students' batch on two threads."""
    peak = matmul_peak_gflops()
    rows = []
    for multiple in (0.5, 1, 2, 4):
        dc = dataclasses.replace(cfg.distill, batch_size=max(1, round(multiple * cfg.batch_size)))
        rows.append(iteration_cost(teacher, dc, cfg.repeats, cfg.seed))
    for row in rows:
        row["share_of_peak"] = row["gflop"] / row["seconds"] / peak
        print(f"bench: iteration at batch {row['batch_size']}: {row['seconds']:.3f} s, {row['gflop']:.2f} GFLOP, "
              f"{row['share_of_peak']:.1%} of the matmul peak", flush=True)
    torch.set_num_threads(2)
    try:
        dc = dataclasses.replace(cfg.distill, batch_size=cfg.batch_size)
        two = {**iteration_cost(teacher, dc, cfg.repeats, cfg.seed), "peak_gflops": matmul_peak_gflops()}
    finally:
        torch.set_num_threads(1)
    two["share_of_peak"] = two["gflop"] / two["seconds"] / two["peak_gflops"]
    return {"peak_gflops": peak, "ttur": cfg.distill.ttur, "batches": rows, "two_threads": two}


def generator_updates(teacher: FlowModel, cfg: BenchRunConfig) -> dict:
    out = {}
    for name, settings in VARIANTS.items():
        dc = dataclasses.replace(cfg.distill, batch_size=cfg.batch_size, **settings)
        phases = [update_cost(teacher, dc, p, cfg.repeats, cfg.seed) for p in range(len(plan_phases(dc)))]
        out[name] = {"seconds": statistics.mean(c["seconds"] for c in phases),
                     "peak_mb": max(c["peak_mb"] for c in phases), "per_phase": phases}
        print(f"bench: {name}: {out[name]['seconds']:.3f} s, {out[name]['peak_mb']:.1f} MiB", flush=True)
    return out


def precisions(teacher: FlowModel, cfg: BenchRunConfig) -> dict:
    """One generator update of Phased DMD's phase 2 in fp32 and in bf16 (the run setting `precision`)."""
    dc = dataclasses.replace(cfg.distill, batch_size=cfg.batch_size, **VARIANTS["phased_2"])
    out = {compute: update_cost(teacher, dc, 1, cfg.repeats, cfg.seed, compute) for compute in PRECISIONS}
    for compute, cost in out.items():
        print(f"bench: phased_2 phase 2 in {compute}: {cost['seconds']:.3f} s, {cost['peak_mb']:.1f} MiB", flush=True)
    return out


LORA_ROLES = {"full": ("full", "full"), "lora generator": ("lora", "full"), "lora generator and fake": ("lora", "lora")}


def lora_roles(teacher: FlowModel, cfg: BenchRunConfig) -> dict:
    """One generator update of Phased DMD's phase 2 with each role full or a LoRA adapter over the teacher
    (distill.generator_train, fake_train, at distill's rank): time, peak memory and the checkpoint's weights."""
    out = {}
    for name, (generator, fake) in LORA_ROLES.items():
        dc = dataclasses.replace(cfg.distill, batch_size=cfg.batch_size, generator_train=generator, fake_train=fake,
                                 **VARIANTS["phased_2"])
        out[name] = update_cost(teacher, dc, 1, cfg.repeats, cfg.seed)
        print(f"bench: phased_2 phase 2, {name}: {out[name]['seconds']:.3f} s, {out[name]['peak_mb']:.1f} MiB, "
              f"checkpoint {out[name]['checkpoint_mb']:.2f} MiB", flush=True)
    return {"rank": cfg.distill.lora_rank, "targets": list(cfg.distill.lora_targets), "roles": out}


@torch.no_grad()
def sampling(teacher: FlowModel, cfg: BenchRunConfig) -> dict:
    """Wall time to draw cfg.samples images: teacher (teacher_steps Euler steps with CFG) vs the 4-step student."""
    dc = dataclasses.replace(cfg.distill, method="phased", num_phases=2)
    student = [phase_generator(teacher, phase).eval() for phase in plan_phases(dc)]
    cond = Condition(torch.arange(cfg.samples) % len(teacher.info.prompts))

    gen = torch.Generator().manual_seed(cfg.seed)
    t_teacher = min(timed(lambda: sample(teacher, cond, cfg.teacher_steps, cfg.teacher_cfg_scale, generator=gen), 3))
    t_student = min(timed(lambda: sample_student(student, dc, cond, gen), 3))
    return {"teacher_seconds": t_teacher, "student_seconds": t_student, "speedup": t_teacher / t_student,
            "teacher_evaluations": 2 * cfg.teacher_steps, "student_evaluations": cfg.distill.num_steps}


def run(cfg: BenchRunConfig) -> None:
    torch.set_num_threads(1)
    start = time.time()
    teacher = load_teacher(Path(cfg.teacher_dir)).requires_grad_(False)
    params = sum(p.numel() for p in teacher.parameters())
    result = {
        "generator_update": generator_updates(teacher, cfg),
        "sampling": sampling(teacher, cfg),
        "precision": precisions(teacher, cfg),
        "lora": lora_roles(teacher, cfg),
        "iteration": (profile := iteration_profile(teacher, cfg)),
        "compile": compiled_iteration(teacher, cfg, profile["batches"][1]["seconds"]),  # batches[1]: the students'
        "setup": {"teacher": cfg.teacher, "teacher_parameters": params, "batch_size": cfg.batch_size,
                  "num_steps": cfg.distill.num_steps, "repeats": cfg.repeats, "samples": cfg.samples, "threads": 1,
                  "torch": torch.__version__, "machine": platform.processor() or platform.machine(),
                  "cpu_count": os.cpu_count()},
        "seconds": time.time() - start,
    }
    write_json(Path(cfg.out_dir) / "measurements.json", result)
    print(f"bench: measurements in {cfg.out_dir}/measurements.json ({result['seconds']:.0f} s)")


def main(argv: list[str] | None = None) -> int:
    return run_main("bench", BenchRunConfig, run, __doc__, argv, bench_knobs)


if __name__ == "__main__":
    sys.exit(main())
