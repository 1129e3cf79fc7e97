"""reports/paper_scale.{md,json,png}: what the paper's tables cost at paper scale, from the real diffusers models
built without weights (cost/measure.py), the engine's calls per iteration (cost/iteration.py) and its memory
(cost/memory.py). Runs on a CPU in a few minutes; no weight is downloaded.

    python -m phased_dmd.reports.paper_scale --params params.yaml --out reports/paper_scale
"""

from __future__ import annotations

import dataclasses
import sys
import time
from functools import cache
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from phased_dmd.config import read_yaml  # noqa: E402
from phased_dmd.cost.config import PAPER_TABLES  # noqa: E402
from phased_dmd.cost.iteration import fake_update_calls, generator_update_calls, iteration_flops  # noqa: E402
from phased_dmd.cost.measure import (  # noqa: E402
    CallCost,
    adapter_parameters,
    block_parameters,
    measure_call,
    meta_transformer,
    parameter_count,
)
from phased_dmd.cost.memory import Setting, phase_memory, phase_roles  # noqa: E402
from phased_dmd.io import save_figure, write_json, write_text  # noqa: E402
from phased_dmd.kinds import KINDS  # noqa: E402
from phased_dmd.method.phases import plan_phases  # noqa: E402
from phased_dmd.reports.common import git_revision, report_main  # noqa: E402
from phased_dmd.runs import config_dir  # noqa: E402

GB = 1e9
TFLOP = 1e12
SETTINGS = [Setting(training, precision, 1, checkpointing) for training in ("full", "lora")
            for precision in ("bf16", "fp32") for checkpointing in (True, False)]
FOCUS = "wan2.2-t2v"  # the question: a Wan2.2-A14B Phased phase with LoRA + bf16 + FSDP on 8 GPUs


def latent_shape(architecture: str, size: list[int], latents: dict) -> tuple[int, ...]:
    """Latents of a [frames, height, width] size: Wan (F', h, w) with F' = (F - 1) / 4 + 1; Qwen-Image (h, w)
    with each side rounded down to a multiple of 16 pixels, as its pipeline does."""
    frames, height, width = size
    s = latents["spatial"]
    if architecture == "wan":
        return ((frames - 1) // latents["temporal"] + 1, height // s, width // s)
    return (2 * (height // (2 * s)), 2 * (width // (2 * s)))


class Models:
    """The paper's transformers on the meta device, each call measured once."""

    def __init__(self, facts: dict):
        self.facts = facts

    @cache
    def model(self, kind: str, precision: str):
        spec = self.facts["models"][kind]
        return meta_transformer(spec["architecture"], spec["config"], precision)

    @cache
    def call(self, kind: str, size: tuple[int, ...], precision: str) -> CallCost:
        spec = self.facts["models"][kind]
        latent = latent_shape(spec["architecture"], list(size), self.facts["latents"])
        return measure_call(spec["architecture"], self.model(kind, precision), latent, self.facts["text_tokens"],
                            precision)

    def sizes(self, kind: str) -> list[tuple[tuple[int, ...], float]]:
        return [(tuple(size), p) for size, p in self.facts["sizes"][self.facts["models"][kind]["sizes"]]]

    def mean_call(self, kind: str) -> CallCost:
        """FLOPs averaged over the paper's sizes (by their probabilities); memory of the largest."""
        calls = [(self.call(kind, size, "bf16"), p) for size, p in self.sizes(kind)]
        total = sum(p for _, p in calls)
        return dataclasses.replace(self.call(kind, self.largest(kind), "bf16"),
                                   forward_flops=sum(c.forward_flops * p for c, p in calls) / total,
                                   backward_flops=sum(c.backward_flops * p for c, p in calls) / total)

    def largest(self, kind: str) -> tuple[int, ...]:
        return max(self.sizes(kind), key=lambda sp: self.call(kind, sp[0], "bf16").tokens)[0]


def model_rows(models: Models) -> dict:
    rows = {}
    for kind, spec in models.facts["models"].items():
        m = models.model(kind, "bf16")
        rows[kind] = {"paper_model": KINDS[kind].paper_model, "experts": KINDS[kind].num_experts,
                      "parameters": parameter_count(m), "published": spec["published"],
                      "block_parameters": block_parameters(spec["architecture"], m),
                      "sizes": [{"size": list(size), "probability": p, "tokens": call.tokens,
                                 "forward_tflops": call.forward_flops / TFLOP,
                                 "backward_tflops": call.backward_flops / TFLOP}
                                for size, p in models.sizes(kind) for call in [models.call(kind, size, "bf16")]]}
    return rows


def student_cost(params, models: Models, kind: str, student: str) -> dict:
    """Calls and FLOPs per iteration of every phase, and the whole run's PFLOPs (one seed)."""
    spec, ps = models.facts["models"][kind], params.paper_scale
    cfg = dataclasses.replace(params.students.settings(student, kind), shift=spec["grid_shift"],
                              iterations=ps.iterations)
    call, phases = models.mean_call(kind), plan_phases(cfg)
    per_phase = []
    for phase in phases:
        fake, gen = fake_update_calls(cfg, phase), generator_update_calls(cfg, phase)
        per_phase.append({"phase": phase.index + 1, "fake_update_tflops": fake.flops(call) / TFLOP,
                          "generator_update_tflops": gen.flops(call) / TFLOP,
                          "iteration_tflops": iteration_flops(cfg, phase, call) / TFLOP,
                          "calls": {"fake_update": dataclasses.asdict(fake),
                                    "generator_update": dataclasses.asdict(gen)}})
    samples = ps.iterations * ps.gpus * ps.batch_per_gpu
    run_flops = sum(p["iteration_tflops"] for p in per_phase) * TFLOP * samples
    return {"method": cfg.method, "num_steps": cfg.num_steps, "phases": len(phases), "ttur": cfg.ttur,
            "per_phase": per_phase, "run_pflops": run_flops / 1e15,
            "gpu_hours": run_flops / (ps.mfu * models.facts["gpus"]["H100"]["bf16_tflops"] * TFLOP) / 3600}


def memory_rows(params, models: Models, kind: str) -> dict:
    """Memory per GPU of the Phased student's phases, at the largest size, for every setting and shard count."""
    spec, ps = models.facts["models"][kind], params.paper_scale
    cfg = dataclasses.replace(params.students.settings("phased", kind), shift=spec["grid_shift"])
    phases, nested = plan_phases(cfg), cfg.interval == "nested"
    roles = [phase_roles(phases, p.index, KINDS[kind].boundary, nested) for p in phases]
    model = models.model(kind, "bf16")
    parameters, blocks = parameter_count(model), block_parameters(spec["architecture"], model)
    adapters = adapter_parameters(model, ps.lora_rank, ps.lora_targets)
    size = models.largest(kind)
    rows = []
    for setting in SETTINGS:
        call = models.call(kind, size, setting.precision)
        for shards in ps.shard_counts:
            s = dataclasses.replace(setting, shards=shards)
            memory, phase = max(((phase_memory(r, parameters, adapters, blocks, call, s, ps.batch_per_gpu), p + 1)
                                 for p, r in enumerate(roles)), key=lambda mp: mp[0].total)
            rows.append({**dataclasses.asdict(s), "phase": phase, "states_gb": memory.states / GB,
                         "gathered_gb": memory.gathered / GB, "activations_gb": memory.activations / GB,
                         "total_gb": memory.total / GB,
                         "fits": {gpu: memory.total / GB <= g["memory_gb"] for gpu, g in models.facts["gpus"].items()}})
    return {"size": list(size), "adapter_parameters": adapters, "roles": [dataclasses.asdict(r) for r in roles],
            "rows": rows}


def table_costs(params, models: Models) -> dict:
    """Each paper table's students (one seed) on each of its teachers."""
    costs = {}
    for name in PAPER_TABLES:
        spec = getattr(params.evaluation, name)
        costs[name] = {kind: {student: student_cost(params, models, kind, student) for student in spec.students}
                       for kind in spec.teachers}
    return costs


def gb(x: float) -> str:
    return f"{x:.0f}" if x >= 10 else f"{x:.1f}"


def markdown(data: dict) -> str:
    a, facts = data["assumptions"], data["facts"]
    lines = ["# Paper scale: what each table costs", "",
             "Computed, not run: the paper's transformers are built from their published configs "
             "(configs/paper_scale.yaml) on PyTorch's meta device, so no weight is allocated and nothing is "
             "computed; their calls are counted as they run (FLOPs by torch's FlopCounterMode, the memory autograd "
             "keeps by saved-tensor hooks, attention through the flash kernel's operator as on a GPU). The calls per "
             "iteration are the engine's (engine/loop.py), the roles per phase the student job's "
             "(jobs/student.py). Method: `python -m phased_dmd.reports.paper_scale`.", "",
             f"Assumed (params.yaml `paper_scale`): {a['gpus']} GPUs, batch {a['batch_per_gpu']} per GPU, "
             f"{a['iterations']} generator updates per phase, MFU {a['mfu']:.2f} of the dense bf16 peak "
             f"({facts['gpus']['H100']['bf16_tflops']:.0f} TFLOP/s on H100 and on H200: equal GPU-hours at equal MFU; "
             f"H200's {facts['gpus']['H200']['memory_gb']} GB against H100's {facts['gpus']['H100']['memory_gb']} GB "
             f"changes what fits), LoRA rank {a['lora_rank']} on {', '.join(a['lora_targets'])}. The recipe (steps, "
             "phases, TTUR) is students.distill's; the step grid's shift is the paper's per model "
             "(configs/paper_scale.yaml). One distillation seed; text tokens "
             f"{facts['text_tokens']} per prompt; text encoders and VAEs are not held during distillation "
             "(prompts are encoded once by the teacher rule).", "",
             "## The models", "",
             "| teacher kind | hub model | experts | parameters per expert (measured) | published | "
             "sizes (frames x H x W), tokens, forward TFLOPs per call |", "|---|---|---|---|---|---|"]
    for kind, m in data["models"].items():
        sizes = "; ".join(f"{'x'.join(map(str, s['size']))}: {s['tokens']}, {s['forward_tflops']:.0f}"
                          for s in m["sizes"])
        lines.append(f"| {kind} | {m['paper_model']} | {m['experts']} | {m['parameters'] / 1e9:.2f} B | "
                     f"{m['published'] / 1e9:.0f} B | {sizes} |")
    lines += ["", "## FLOPs and GPU-hours per table", "",
              "Per sample, averaged over the paper's sizes (Supplement C) by their probabilities; one iteration is "
              "TTUR fake updates and one generator update. GPU-hours: every phase's iterations x GPUs x batch, at the "
              "assumed MFU.", "",
              "| table | teacher | student | phases | TFLOPs per iteration (each phase) | generator update / fake "
              "update, TFLOPs (phase 1) | PFLOPs per run | GPU-hours | hours on "
              f"{a['gpus']} GPUs |", "|---|---|---|---|---|---|---|---|---|"]
    for table, kinds in data["tables"].items():
        for kind, students in kinds.items():
            for student, c in students.items():
                first = c["per_phase"][0]
                each = " / ".join(f"{p['iteration_tflops']:.0f}" for p in c["per_phase"])
                lines.append(
                    f"| {table} | {kind} | {student} | {c['phases']} | {each} | "
                    f"{first['generator_update_tflops']:.0f} / {first['fake_update_tflops']:.0f} | "
                    f"{c['run_pflops']:.0f} | {c['gpu_hours']:.0f} | {c['gpu_hours'] / a['gpus']:.1f} |")
    lines += ["", "Tables 3, 4 and 5 show the same students: a workflow trains them once. Distinct runs of all "
              f"five tables: {data['distinct_runs']['runs']}, {data['distinct_runs']['gpu_hours']:.0f} GPU-hours at "
              f"MFU {a['mfu']:.2f} (one seed each).", ""]
    focus = data["memory"][FOCUS]
    lines += [f"## Memory per GPU: Phased DMD on {FOCUS} ({data['models'][FOCUS]['paper_model']})", "",
              f"GB per GPU at the largest size ({'x'.join(map(str, focus['size']))}), batch {a['batch_per_gpu']}, "
              "at the phase that needs most. Roles per phase (transformers of "
              f"{data['models'][FOCUS]['parameters'] / 1e9:.1f} B): "
              + "; ".join(f"phase {i + 1}: teacher {r['teacher']} frozen, earlier experts {r['frozen']} frozen, "
                          f"{r['trained']} trained, {r['idle']} idle" for i, r in enumerate(focus["roles"]))
              + f". LoRA adapters: {focus['adapter_parameters'] / 1e6:.0f} M parameters per transformer. "
              "Its rows count every generator expert and fake as an adapter over the teacher's own transformers, "
              "held once, as the engine's LoRA roles run them (distill.generator_train and fake_train: lora; "
              "engine/lora.py); sharded LoRA is not built in the engine yet.", ""]
    shards = a["shard_counts"]
    lines += ["| training | precision | checkpointing | "
              + " | ".join(f"{n} GPU{'s' if n > 1 else ''}: states + gathered + activations = total" for n in shards)
              + " |", "|---|---|---|" + "---|" * len(shards)]
    for setting in SETTINGS:
        cells = []
        for n in shards:
            r = next(r for r in focus["rows"] if (r["training"], r["precision"], r["checkpointing"], r["shards"])
                     == (setting.training, setting.precision, setting.checkpointing, n))
            fits = "fits 80" if r["fits"]["H100"] else "fits 141" if r["fits"]["H200"] else "fits neither"
            cells.append(f"{gb(r['states_gb'])} + {gb(r['gathered_gb'])} + {gb(r['activations_gb'])} = "
                         f"**{gb(r['total_gb'])}** ({fits})")
        lines.append(f"| {setting.training} | {setting.precision} | {'on' if setting.checkpointing else 'off'} | "
                     + " | ".join(cells) + " |")
    t = data["target"]
    lines += ["", f"**The issue's question**: a Wan2.2-A14B Phased phase with LoRA, bf16, FSDP on {a['gpus']} GPUs "
              f"and gradient checkpointing needs {t['total_gb']:.0f} GB per GPU at 720p ({t['activations_gb']:.0f} GB "
              f"of it activations): {'it fits' if t['fits']['H100'] else 'it does not fit'} 80 GB. "
              f"Full fine-tuning in the same setting: {t['full_total_gb']:.0f} GB.", "",
              "## Every model, bf16 with checkpointing", "",
              "| teacher kind | training | " + " | ".join(f"{n} GPUs" for n in shards) + " |",
              "|---|---|" + "---|" * len(shards)]
    for kind, mem in data["memory"].items():
        for training in ("full", "lora"):
            cells = [next(r for r in mem["rows"] if (r["training"], r["precision"], r["checkpointing"], r["shards"])
                          == (training, "bf16", True, n))["total_gb"] for n in shards]
            lines.append(f"| {kind} | {training} | " + " | ".join(gb(c) for c in cells) + " |")
    lines += ["", "## Published costs of comparable runs", "",
              "As their authors state them; their recipes differ from the paper's (not modelled here).", "",
              "| who | what | cost | source |", "|---|---|---|---|"]
    lines += [f"| {p['who']} | {p['what']} | {p['cost']} | {p['source']} |" for p in facts["peers"]]
    lines += ["", "## What the model leaves out", "",
              "- Activation memory is what autograd keeps for one call with gradient; with checkpointing, every "
              "block's inputs plus the largest block's tensors while it is recomputed. Transient buffers (the "
              "no-gradient calls of the teacher and of earlier experts, gradient buffers in flight, the allocator's "
              "fragmentation) are not counted: leave 10-20% headroom.",
              "- Sequence parallelism would divide activations by its degree; the engine has none.",
              "- FLOPs count matrix products and attention (forward and backward); element-wise work is not counted "
              "and is why a real MFU is below 1.",
              f"- The MFU of {a['mfu']:.2f} is assumed; the GPU check (issue 14, not run yet) is where it is "
              "measured.", "",
              f"Git revision {data['provenance']['git']}; computed in {data['provenance']['seconds']:.0f} s.", ""]
    return "\n".join(lines)


def plot(data: dict, path: Path) -> None:
    """Memory per GPU of the focus model's Phased phase at the run's GPU count, by setting."""
    a, focus = data["assumptions"], data["memory"][FOCUS]
    rows = [r for r in focus["rows"] if r["shards"] == a["gpus"]]
    labels = [f"{r['training']}\n{r['precision']}\n{'ckpt' if r['checkpointing'] else 'no ckpt'}" for r in rows]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    bottom = [0.0] * len(rows)
    for key, colour in (("states_gb", "tab:blue"), ("gathered_gb", "tab:orange"), ("activations_gb", "tab:green")):
        values = [r[key] for r in rows]
        ax.bar(labels, values, bottom=bottom, color=colour, label=key.removesuffix("_gb"))
        bottom = [b + v for b, v in zip(bottom, values)]
    for gpu, g in data["facts"]["gpus"].items():
        ax.axhline(g["memory_gb"], color="grey", ls="--", lw=0.8)
        ax.text(len(rows) - 0.5, g["memory_gb"], f"{gpu} {g['memory_gb']} GB", ha="right", va="bottom", fontsize=7)
    ax.set_yscale("log")
    ax.set_ylabel("GB per GPU")
    ax.set_title(f"Phased DMD, {FOCUS} at {'x'.join(map(str, focus['size']))}, {a['gpus']} GPUs (FSDP)", fontsize=9)
    ax.tick_params(axis="x", labelsize=7)
    ax.legend(fontsize=7)
    save_figure(fig, path)


def write_report(params, results: Path, out: Path) -> None:
    start = time.time()
    facts = read_yaml(config_dir() / "paper_scale.yaml")
    models = Models(facts)
    ps = params.paper_scale
    data = {"scale": "paper (computed on the meta device, not run)", "assumptions": dataclasses.asdict(ps),
            "facts": facts, "models": model_rows(models), "tables": table_costs(params, models),
            "memory": {kind: memory_rows(params, models, kind) for kind in facts["models"]}}
    runs = {(kind, student): c for kinds in data["tables"].values() for kind, students in kinds.items()
            for student, c in students.items()}
    data["distinct_runs"] = {"runs": len(runs), "gpu_hours": sum(c["gpu_hours"] for c in runs.values())}
    pick = {r["training"]: r for r in data["memory"][FOCUS]["rows"]
            if (r["precision"], r["checkpointing"], r["shards"]) == ("bf16", True, ps.gpus)}
    data["target"] = {**pick["lora"], "full_total_gb": pick["full"]["total_gb"]}
    data["provenance"] = {"git": git_revision(), "seconds": time.time() - start}
    out.parent.mkdir(parents=True, exist_ok=True)
    plot(data, out.with_suffix(".png"))
    write_json(out.with_suffix(".json"), data)
    write_text(out.with_suffix(".md"), markdown(data))


def main(argv: list[str] | None = None) -> int:
    return report_main("paper_scale", __doc__, write_report, argv, section=None)


if __name__ == "__main__":
    sys.exit(main())
