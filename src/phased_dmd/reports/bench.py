"""reports/bench.{md,json,png}: cost of one generator update per method, and of sampling, measured.

    python -m phased_dmd.reports.bench --params params.yaml --results results/bench --out reports/bench
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from phased_dmd.io import (  # noqa: E402
    save_figure,  # noqa: E402
    write_json,
    write_text,
)
from phased_dmd.reports.common import git_revision, report_main  # noqa: E402

ROWS = {"dmd": "DMD, 1 step", "full_backprop": "4 steps, backprop through all steps",
        "sgts": "4 steps, SGTS", "phased_2": "Phased DMD, 4 steps, 2 phases",
        "phased_4": "Phased DMD, 4 steps, 4 phases"}


def with_ratios(updates: dict) -> dict:
    """Each method's seconds and peak_mb, plus both as a ratio to one-step DMD."""
    base = updates["dmd"]
    return {name: {**cost, "seconds_ratio": cost["seconds"] / base["seconds"],
                   "peak_ratio": cost["peak_mb"] / base["peak_mb"]} for name, cost in updates.items()}


def targets(updates: dict, sampling: dict) -> dict:
    return {
        "phased_peak_at_most_1.2x_dmd": {
            "held": max(updates[m]["peak_ratio"] for m in ("phased_2", "phased_4")) <= 1.2,
            "text": "Phased DMD's peak memory per generator update is at most 1.2x one-step DMD's"},
        "full_backprop_peak_at_least_2.5x_dmd": {
            "held": updates["full_backprop"]["peak_ratio"] >= 2.5,
            "text": "backprop through all 4 steps needs at least 2.5x one-step DMD's peak memory"},
        "sampling_speedup_at_least_15x": {
            "held": sampling["speedup"] >= 15,
            "text": "the 4-step student samples at least 15x faster than the teacher's 40 steps with CFG"},
    }


def iteration_lines(it: dict) -> list[str]:
    """Where a training iteration's time goes: the table over batch sizes, threads, and what it means for
    buying more updates."""
    rows, two = it["batches"], it["two_threads"]
    base = next(r for r in rows if r["batch_size"] == two["batch_size"])
    big = rows[-1]
    lines = ["## Where a training iteration's time goes", "",
             f"One training iteration of one-step DMD ({it['ttur']} fake updates, then the generator update: what a "
             "phase repeats), median of the repeats; FLOPs counted by torch's FlopCounterMode (matrix products and "
             f"attention, forward and backward); the CPU's measured fp32 matmul peak: {it['peak_gflops']:.1f} GFLOP/s "
             "on one thread (1024 x 1024 products).", "",
             "| batch | seconds per iteration | GFLOP per iteration | GFLOP/s | share of the matmul peak | "
             "samples per second |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['batch_size']} | {r['seconds']:.3f} | {r['gflop']:.2f} | {r['gflop'] / r['seconds']:.2f} | "
              f"{r['share_of_peak']:.1%} | {r['samples_per_second']:.0f} |" for r in rows]
    lines += ["", f"- Two threads at batch {two['batch_size']}: {two['seconds']:.3f} s per iteration, "
              f"{base['seconds'] / two['seconds']:.2f}x one thread's speed ({two['share_of_peak']:.1%} of the "
              f"two-thread peak, {two['peak_gflops']:.1f} GFLOP/s).",
              f"- {big['batch_size'] // base['batch_size']}x the batch costs {big['seconds'] / base['seconds']:.2f}x "
              f"the time per iteration: each sample costs {base['seconds'] / base['batch_size'] * 1e3:.1f} ms at "
              f"batch {base['batch_size']} and {big['seconds'] / big['batch_size'] * 1e3:.1f} ms at batch "
              f"{big['batch_size']}.", ""]
    return lines


def compile_lines(c: dict) -> list[str]:
    """torch.compile against eager for the students' training iteration, and where it pays off."""
    n, saved = c["iterations_per_phase"], c["eager_seconds"] - c["compiled_seconds"]
    pays = (f"it pays off after {c['compile_warm_seconds'] / saved:.0f} iterations warm "
            f"({c['compile_cold_seconds'] / saved:.0f} cold)" if saved > 0 else "it never pays off")
    eager, warm = n * c["eager_seconds"], n * c["compiled_seconds"] + c["compile_warm_seconds"]
    cold = n * c["compiled_seconds"] + c["compile_cold_seconds"]
    return ["## torch.compile", "",
            f"The same iteration at the students' batch ({c['batch_size']}), one thread, with every transformer "
            "(teacher, generator, fake) under torch.compile (inductor; the student run setting `compile`). "
            "Compiling: the extra seconds of a run's first iteration, cold (an empty inductor cache) and warm "
            "(compiled again in the same process from the cache the cold compile left on disk; a new job also "
            "starts inductor's compile workers, so its warm start is slower: this is a lower bound).", "",
            "| | seconds per iteration | compiling, cold | compiling, warm |", "|---|---|---|---|",
            f"| eager | {c['eager_seconds']:.3f} | | |",
            f"| torch.compile | {c['compiled_seconds']:.3f} | {c['compile_cold_seconds']:.0f} s | "
            f"{c['compile_warm_seconds']:.0f} s |", "",
            f"Compiled iterations take **{c['compiled_seconds'] / c['eager_seconds']:.2f}x** eager's time; {pays}. "
            f"A phase of the students' {n} iterations: eager {eager:.0f} s, compiled {warm:.0f} s warm "
            f"({warm / eager:.2f}x eager's at best) and {cold:.0f} s cold, which the first job of every teacher and "
            "shape pays. The workflow's students stay eager; a long run (convergence at 320 iterations, a "
            "paper-scale phase) can set `compile=true`.", ""]


def precision_lines(costs: dict) -> list[str]:
    """fp32 against bf16 (configs/student.yaml `precision`) for one generator update."""
    fp32, bf16 = costs["fp32"], costs["bf16"]
    return ["## bf16 against fp32", "",
            "One generator update of Phased DMD's phase 2 (the teacher and the phase-1 expert frozen), as the run "
            "setting `precision` runs it: bf16 computes under autocast with fp32 master weights and AdamW moments "
            "and holds the frozen models in bf16.", "",
            "| precision | seconds | peak MiB |", "|---|---|---|",
            f"| fp32 | {fp32['seconds']:.3f} | {fp32['peak_mb']:.1f} |",
            f"| bf16 | {bf16['seconds']:.3f} | {bf16['peak_mb']:.1f} |", "",
            f"bf16 takes **{bf16['seconds'] / fp32['seconds']:.2f}x** the time of fp32 and "
            f"{bf16['peak_mb'] / fp32['peak_mb']:.2f}x its peak memory per update on this CPU. A CPU without bf16 "
            "matrix units converts rather than computes in bf16; the GPU check (issue 14) is where bf16's speed "
            "matters.", ""]


def lora_lines(lora: dict) -> list[str]:
    """Full fine-tuning against LoRA roles (distill.generator_train, fake_train) for one generator update."""
    roles, full = lora["roles"], lora["roles"]["full"]
    rows = [f"| {name} | {c['seconds']:.3f} | {c['peak_mb']:.1f} | {c['peak_mb'] / full['peak_mb']:.2f} | "
            f"{c['checkpoint_mb']:.2f} | {c['checkpoint_mb'] / full['checkpoint_mb']:.3f} |"
            for name, c in roles.items()]
    return ["## LoRA roles against full fine-tuning", "",
            f"One generator update of Phased DMD's phase 2, each role full or a rank-{lora['rank']} LoRA adapter "
            f"(peft; on {', '.join(lora['targets'])}) over the one teacher transformer that every role shares. "
            "Checkpoint: the weights a checkpoint of the phase holds (the trained expert and its fake; a LoRA role "
            "its adapter only, besides the frozen text encoder).", "",
            "| roles | seconds | peak MiB | x full | checkpoint MiB | x full |", "|---|---|---|---|---|---|", *rows, "",
            "What LoRA costs in quality at this scale: Table 2's `phased_lora` row.", ""]


def markdown(data: dict) -> str:
    setup, s = data["setup"], data["sampling"]
    lines = [
        "# Benchmark: cost of a generator update and of sampling",
        "",
        f"Scale: embedded (tiny {setup['teacher']} teacher, {setup['teacher_parameters']:,} parameters, 16x16 images); "
        f"CPU ({setup['machine']}, {setup['cpu_count']} cores), one thread, torch {setup['torch']}; generator "
        f"batch {setup['batch_size']}. Time: median of {setup['repeats']} updates after a warm-up "
        "(range over the repeats in brackets; Phased: mean over its phases). Memory: peak of tensor memory "
        "allocated during one update above what was held before it (weights, AdamW state, the previous gradients), "
        "from the PyTorch CPU allocator's events; Phased: its largest phase. Measurements, not seeds: "
        "there is no distillation seed here. Regenerate: `snakemake reports/bench.md --cores 2`.",
        "",
        "| generator update | seconds | x DMD | peak MiB | x DMD |",
        "|---|---|---|---|---|",
    ]
    for name, c in data["generator_update"].items():
        reps = [r for ph in c["per_phase"] for r in ph["repeats"]]
        lines.append(f"| {ROWS[name]} | {c['seconds']:.3f} [{min(reps):.3f}, {max(reps):.3f}] | "
                     f"{c['seconds_ratio']:.2f} | {c['peak_mb']:.1f} | {c['peak_ratio']:.2f} |")
    lines += [
        "",
        f"Sampling {setup['samples']} images: teacher {s['teacher_evaluations'] // 2} Euler steps with CFG "
        f"({s['teacher_evaluations']} evaluations, CFG batched) {s['teacher_seconds']:.2f} s; 4-step student "
        f"({s['student_evaluations']} evaluations) {s['student_seconds']:.3f} s: **{s['speedup']:.1f}x** faster "
        "(best of 3 each; the student's cost does not depend on its weights).",
        "",
        "The paper gives no measured numbers for these costs; its argument (Sec. 4) is that Phased DMD keeps the "
        "one-step memory per update while backpropagating through every step grows with the number of steps, "
        "and that 4 steps replace 40 steps with CFG.",
        "",
    ]
    for t in data["targets"].values():
        lines.append(f"- {t['text']}: **{'held' if t['held'] else 'did NOT hold'}**.")
    lines += [""] + precision_lines(data["precision"]) + lora_lines(data["lora"]) + iteration_lines(data["iteration"])
    lines += compile_lines(data["compile"])
    lines += ["![Time and peak memory of one generator update, as a ratio to one-step DMD](bench.png)", "",
              f"Git revision {data['provenance']['git']}; the measurements took {data['provenance']['seconds']:.0f} s.",
              ""]
    return "\n".join(lines)


def plot(path: Path, updates: dict) -> None:
    names = list(updates)
    fig, axes = plt.subplots(1, 2, figsize=(8, 2.8), dpi=90)
    for ax, key, title in zip(axes, ("seconds_ratio", "peak_ratio"), ("time per update", "peak memory per update")):
        ax.barh([ROWS[n] for n in names], [updates[n][key] for n in names], color="tab:blue")
        ax.axvline(1.0, color="k", lw=0.8)
        ax.set_title(f"{title} (x one-step DMD)", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.invert_yaxis()
    axes[1].set_yticklabels([])
    fig.tight_layout()
    save_figure(fig, path)


def write_report(params, results: Path, out: Path) -> None:
    raw = json.loads((results / "measurements.json").read_text())
    updates = with_ratios(raw["generator_update"])
    data = {"generator_update": updates, "sampling": raw["sampling"], "targets": targets(updates, raw["sampling"]),
            "iteration": raw["iteration"], "precision": raw["precision"], "lora": raw["lora"],
            "compile": raw["compile"], "setup": raw["setup"],
            "provenance": {"git": git_revision(), "seconds": raw["seconds"]}}
    plot(out.with_suffix(".png"), updates)
    write_json(out.with_suffix(".json"), data)
    write_text(out.with_suffix(".md"), markdown(data))


def main(argv: list[str] | None = None) -> int:
    return report_main("bench", __doc__, write_report, argv)


if __name__ == "__main__":
    sys.exit(main())
