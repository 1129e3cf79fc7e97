"""Benchmark: what one generator update and sampling cost, per method, on one tiny teacher.

A generator update is `distill.generator_update`, the code the training runs: phase input from the
frozen earlier experts, the phase's output with gradient (one step; SGTS: one of the phase's steps;
full backprop: all of them), teacher and fake at the re-noised x_t, the DMD loss, backward, AdamW.
Time: median wall time over `repeats` updates on one thread, after one warm-up update. Memory:
peak of tensor memory allocated during one update above what was held before it (weights, AdamW
state and the previous gradients), from the PyTorch CPU allocator's events (torch.profiler with
profile_memory), the largest of three updates. Phased methods: time averaged over phases, memory
the largest phase. Sampling: the teacher's Euler sampler with CFG against the 4-step student.

    python -m phased_dmd.jobs.bench teacher_dir=results/teachers/wan2.1 out_dir=results/bench   (knobs: params.yaml)
"""

from __future__ import annotations

import dataclasses
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from phased_dmd.engine.loop import generator_update
from phased_dmd.io import write_json
from phased_dmd.jobs.bench_config import BenchRunConfig, bench_knobs
from phased_dmd.jobs.student import phase_generator, phase_models, sample_student
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


def update_cost(teacher: FlowModel, cfg: DistillConfig, p: int, repeats: int, seed: int) -> dict:
    """Seconds (median) and peak MiB of one generator update of phase p (earlier experts frozen)."""
    phases = plan_phases(cfg)
    models = phase_models(teacher, cfg, [p], [phase_generator(teacher, phases[q]).requires_grad_(False)
                                             for q in range(p)])
    gen = torch.Generator().manual_seed(seed)
    prompts = len(teacher.info.prompts)
    batch = lambda n, g: (torch.randn((n, *teacher.info.shape), generator=g),  # noqa: E731
                          Condition(torch.randint(prompts, (n,), generator=g)))
    opt = torch.optim.AdamW(models.experts[p].parameters(), cfg.lr_generator, (cfg.beta1, cfg.beta2))
    update = lambda: generator_update(models, p, cfg, batch, gen, opt)  # noqa: E731
    update()  # warm-up: AdamW state and gradients exist from here on, as in training
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        update()
        seconds.append(time.perf_counter() - start)
    return {"seconds": statistics.median(seconds), "repeats": seconds,
            "peak_mb": max(peak_allocated_mb(update) for _ in range(3))}


def generator_updates(teacher: FlowModel, cfg: BenchRunConfig) -> dict:
    out = {}
    for name, settings in VARIANTS.items():
        dc = dataclasses.replace(cfg.distill, **settings)
        phases = [update_cost(teacher, dc, p, cfg.repeats, cfg.seed) for p in range(len(plan_phases(dc)))]
        out[name] = {"seconds": statistics.mean(c["seconds"] for c in phases),
                     "peak_mb": max(c["peak_mb"] for c in phases), "per_phase": phases}
        print(f"bench: {name}: {out[name]['seconds']:.3f} s, {out[name]['peak_mb']:.1f} MiB", flush=True)
    return out


@torch.no_grad()
def sampling(teacher: FlowModel, cfg: BenchRunConfig) -> dict:
    """Wall time to draw cfg.samples images: teacher (teacher_steps Euler steps with CFG) vs the 4-step student."""
    dc = dataclasses.replace(cfg.distill, method="phased", num_phases=2)
    student = [phase_generator(teacher, phase).eval() for phase in plan_phases(dc)]
    cond = Condition(torch.arange(cfg.samples) % len(teacher.info.prompts))

    def best_of_3(fn) -> float:
        times = []
        for _ in range(3):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    gen = torch.Generator().manual_seed(cfg.seed)
    t_teacher = best_of_3(lambda: sample(teacher, cond, cfg.teacher_steps, cfg.teacher_cfg_scale, generator=gen))
    t_student = best_of_3(lambda: sample_student(student, dc, cond, gen))
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
