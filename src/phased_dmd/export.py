"""Export a distilled student of a paper-scale teacher as a diffusers pipeline folder, and LoRA files.

    python -m phased_dmd.export --student results/students/wan2.2-t2v/phased/seed0 --out exported/wan2.2-t2v

--student is a student's folder as the workflow writes it (config.yaml, phase<p>/generator/); its teacher must
come from a diffusers pipeline (params.yaml `teachers.scale: paper`): the text encoder, tokenizer and VAE of that
pipeline are copied (hard links where the file system allows) into --out, beside the student's transformer(s) and
a FlowMatchEulerDiscreteScheduler configured so that `set_timesteps(N)` gives exactly the student's step grid.
The folder loads with `DiffusionPipeline.from_pretrained(out)` without this package; call it with
num_inference_steps = N (4) and no guidance (Wan: guidance_scale=1.0; Qwen-Image: true_cfg_scale=1.0), as
student.json in the folder records.

The steps of a Phased student are served by its phase experts in turn (Wan2.2: a phase across the teacher's
boundary by both of its transformers). Wan: the first serving transformer is `transformer`, the second
`transformer_2`, and `boundary_ratio` (model_index.json) lies midway between the last level of the first and the
first level of the second. Qwen-Image has no two-transformer pipeline: the second is written to transformer_2/
(outside model_index.json) and swapped in by a step-end callback (README, "Exporting a student"). A student
served by more than two transformers is refused. Transformers that carry PEFT LoRA adapters are written fused,
and their adapters as LoRA files under lora/ (diffusers' format for `load_lora_weights`, and ComfyUI's).

Students of the embedded teachers (trained here) are refused: they have no text encoder or VAE that a diffusers
pipeline could run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import torch
from torch import nn

from phased_dmd.config import ConfigError
from phased_dmd.diffusers_api import (
    FlowMatchEulerDiscreteScheduler,
    QwenImagePipeline,
    WanImageToVideoPipeline,
    WanPipeline,
)
from phased_dmd.engine.lora import AdapterView
from phased_dmd.io import write_json
from phased_dmd.jobs.student import load_student
from phased_dmd.kinds import KINDS
from phased_dmd.method.distill_config import DistillConfig
from phased_dmd.method.phases import levels, plan_phases
from phased_dmd.method.schedule import shift_timestep
from phased_dmd.sample import student_settings
from phased_dmd.teachers.flow_model import EXPERT_FOLDERS, FlowModel

PIPELINES = {cls.__name__: cls for cls in (WanPipeline, WanImageToVideoPipeline, QwenImagePipeline)}
OWN = ("transformer", "transformer_2", "scheduler")  # the components the export writes; the others are copied
TRAIN_TIMESTEPS = 1000  # FlowMatchEulerDiscreteScheduler's num_train_timesteps (the pipelines' t = 1000 sigma)


# ---- which transformer makes each step

def step_transformers(experts: list[FlowModel], cfg: DistillConfig) -> list[nn.Module]:
    """The transformer that makes step i (i < N) as the student samples: its phase's expert, and in an expert
    of two transformers (a Wan2.2 phase across the boundary) the one that serves t = tau_i in float32."""
    grid = levels(cfg)
    return [transformer(expert.experts[int(expert.expert_index(torch.tensor([grid[i]], dtype=torch.float32)))])
            for expert, phase in zip(experts, plan_phases(cfg)) for i in range(phase.first_step, phase.end_step)]


def transformer(expert: nn.Module) -> nn.Module:
    """The diffusers transformer of an expert: itself, or a LoRA expert's base with its one adapter on it (a
    student loaded alone: engine/lora.py)."""
    return expert.base if isinstance(expert, AdapterView) else expert


def routing(experts: list[FlowModel], cfg: DistillConfig, student: Path) -> tuple[list[nn.Module], float | None]:
    """The distinct transformers in the order they serve (at most two) and the boundary between them: midway
    between the last level of the first and the first level of the second (None: one transformer)."""
    steps = step_transformers(experts, cfg)
    served = list(dict.fromkeys(steps))
    if len(served) > 2:
        raise ConfigError(f"{student}: its steps are served by {len(served)} transformers; a diffusers pipeline "
                          "holds at most two (transformer, transformer_2 below a boundary)")
    if len(served) == 1:
        return served, None
    grid, switch = levels(cfg), steps.index(served[1])
    return served, (grid[switch - 1] + grid[switch]) / 2


# ---- the scheduler of the student's grid

def wan_scheduler_shift(shift: float, steps: int) -> dict:
    """FlowMatchEulerDiscreteScheduler settings whose set_timesteps(steps) gives sigmas = the grid of `shift`
    (WanPipeline passes no sigmas): a shift s' and shift_terminal = tau_{N-1}. Its linspace(1, m, N) with
    m = f_{s'}(1/1000), shifted by s' and stretched to end at tau_{N-1}, is f_s(linspace(1, 1/N, N)) when
    s' = 1 + (s - 1) b / c, b = (N - 1) / (N (1 - m)), c = 1 + (s - 1)(1 - b): a fixed point in s'."""
    if steps == 1:
        return {"shift": 1.0}
    s = shift
    for _ in range(200):
        m = float(shift_timestep(1 / TRAIN_TIMESTEPS, s))
        b = (steps - 1) / (steps * (1 - m))
        s, previous = 1 + (shift - 1) * b / (1 + (shift - 1) * (1 - b)), s
        if abs(s - previous) < 1e-15:
            break
    return {"shift": s, "shift_terminal": float(shift_timestep(1 / steps, shift))}


def student_scheduler(architecture: str, cfg: DistillConfig) -> FlowMatchEulerDiscreteScheduler:
    """Euler on the student's grid: Qwen-Image's pipeline passes sigmas linspace(1, 1/N, N), which a fixed
    shift maps onto the grid; Wan's passes none (wan_scheduler_shift)."""
    if architecture == "qwen-image":
        return FlowMatchEulerDiscreteScheduler(num_train_timesteps=TRAIN_TIMESTEPS, shift=cfg.shift,
                                               use_dynamic_shifting=False)
    steps = len(levels(cfg)) - 1
    return FlowMatchEulerDiscreteScheduler(num_train_timesteps=TRAIN_TIMESTEPS,
                                           **wan_scheduler_shift(cfg.shift, steps))


# ---- LoRA files

WAN_BLOCK_NAMES = {  # diffusers' module in blocks.<i> -> the original Wan / ComfyUI name
    "attn1.to_q": "self_attn.q", "attn1.to_k": "self_attn.k", "attn1.to_v": "self_attn.v",
    "attn1.to_out.0": "self_attn.o", "attn2.to_q": "cross_attn.q", "attn2.to_k": "cross_attn.k",
    "attn2.to_v": "cross_attn.v", "attn2.to_out.0": "cross_attn.o", "attn2.add_k_proj": "cross_attn.k_img",
    "attn2.add_v_proj": "cross_attn.v_img", "ffn.net.0.proj": "ffn.0", "ffn.net.2": "ffn.2"}
WAN_TOP_NAMES = {
    "condition_embedder.time_proj": "time_projection.1", "proj_out": "head.head",
    "condition_embedder.text_embedder.linear_1": "text_embedding.0",
    "condition_embedder.text_embedder.linear_2": "text_embedding.2",
    "condition_embedder.time_embedder.linear_1": "time_embedding.0",
    "condition_embedder.time_embedder.linear_2": "time_embedding.2"}


def comfyui_module(architecture: str, module: str) -> str:
    """ComfyUI's name of a diffusers module: Qwen-Image's are the same; Wan's are the original Wan names."""
    if architecture == "qwen-image":
        return module
    head, _, rest = module.partition(".")
    if head == "blocks" and rest.partition(".")[2] in WAN_BLOCK_NAMES:
        index, _, name = rest.partition(".")
        return f"blocks.{index}.{WAN_BLOCK_NAMES[name]}"
    if module in WAN_TOP_NAMES:
        return WAN_TOP_NAMES[module]
    raise ValueError(f"LoRA on {module}: no ComfyUI name for this Wan module (expected one of blocks.<i>."
                     f"{{{', '.join(WAN_BLOCK_NAMES)}}} or {', '.join(WAN_TOP_NAMES)})")


def adapter_of(transformer: nn.Module) -> str:
    """The one active PEFT adapter of a transformer (add_adapter)."""
    active = transformer.active_adapters()
    if len(active) != 1:
        raise ValueError(f"a transformer with adapters {active}: expected exactly one active adapter to export")
    return active[0]


def lora_weights(transformer: nn.Module) -> dict[str, torch.Tensor]:
    """The adapter's lora_A / lora_B weights, keyed by module (peft's get_peft_model_state_dict)."""
    from peft.utils import get_peft_model_state_dict

    return get_peft_model_state_dict(transformer, adapter_name=adapter_of(transformer))


def comfyui_lora(transformer: nn.Module, architecture: str, weights: dict) -> dict[str, torch.Tensor]:
    """The adapter's `weights` (lora_weights) in ComfyUI's naming: diffusion_model.<module>.lora_down.weight /
    .lora_up.weight, with the module's scale (lora_alpha / r) folded into lora_up, so no .alpha keys (ComfyUI and
    diffusers: scale 1)."""
    adapter, out = adapter_of(transformer), {}
    for key, weight in weights.items():
        module, _, part = key.rpartition(".lora_")
        if part not in ("A.weight", "B.weight"):
            raise ValueError(f"LoRA key {key}: only lora_A / lora_B weights can be exported")
        scale = transformer.get_submodule(module).scaling[adapter] if part == "B.weight" else 1.0
        name = "lora_down" if part == "A.weight" else "lora_up"
        out[f"diffusion_model.{comfyui_module(architecture, module)}.{name}.weight"] = weight * scale
    return out


def write_loras(folder: Path, pipeline: str, architecture: str, transformers: list[nn.Module]) -> list[Path]:
    """The adapter of each transformer (`transformer`, `transformer_2`) as folder/<name>.safetensors, in the format
    the pipeline's load_lora_weights reads (its own save_lora_weights), and folder/comfyui/<name>.safetensors."""
    from safetensors.torch import save_file

    written = []
    for name, transformer in zip(EXPERT_FOLDERS, transformers):
        config, weights = transformer.peft_config[adapter_of(transformer)].to_dict(), lora_weights(transformer)
        PIPELINES[pipeline].save_lora_weights(folder, transformer_lora_layers=weights,
                                              transformer_lora_adapter_metadata=config,
                                              weight_name=f"{name}.safetensors")
        (folder / "comfyui").mkdir(parents=True, exist_ok=True)
        comfy = {k: v.contiguous() for k, v in comfyui_lora(transformer, architecture, weights).items()}
        save_file(comfy, str(folder / "comfyui" / f"{name}.safetensors"))
        written += [folder / f"{name}.safetensors", folder / "comfyui" / f"{name}.safetensors"]
    return written


def has_adapters(transformer: nn.Module) -> bool:
    return bool(getattr(transformer, "peft_config", None))


def fused(transformer: nn.Module) -> nn.Module:
    """The transformer with its LoRA adapter merged into its weights, in place (no copy of a 14B transformer;
    its LoRA files are written first); a plain one as it is."""
    if has_adapters(transformer):
        transformer.fuse_lora(adapter_names=[adapter_of(transformer)])
        transformer.unload_lora()
    return transformer


# ---- the pipeline folder

def link_or_copy(src: str, dst: str) -> str:
    """A hard link to src (no copy of a text encoder's gigabytes), or a copy across file systems."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
    return dst


def exportable(student: Path, experts: list[FlowModel], cfg: DistillConfig) -> Path:
    """The pipeline folder of the student's teacher, once the student is one a diffusers pipeline can run."""
    info = experts[0].info
    if not info.hub:
        raise ConfigError(f"{student}: a student of the embedded teacher {info.kind} (trained here, without a text "
                          "encoder or VAE a diffusers pipeline could run); expected a student of a paper-scale "
                          "teacher (params.yaml teachers.scale: paper)")
    if cfg.step_rule != "euler" and any(p.num_steps > 1 for p in plan_phases(cfg)):
        raise ConfigError(f"{student}: step_rule {cfg.step_rule} re-noises between steps; the pipeline's "
                          "FlowMatchEulerDiscreteScheduler takes Euler steps (expected step_rule euler)")
    hub = Path(info.hub)
    if not (hub / "model_index.json").is_file():
        raise FileNotFoundError(f"{hub}/model_index.json not found: the teacher's pipeline folder (teacher.json "
                                "`hub`) is where its text encoder and VAE are copied from")
    return hub


def write_pipeline(out: Path, hub: Path, transformers: list[nn.Module], boundary: float | None,
                   scheduler: FlowMatchEulerDiscreteScheduler, call: dict) -> None:
    """The hub pipeline's other components, the transformers (fused), the scheduler, model_index.json and
    student.json (how to call it)."""
    index = json.loads((hub / "model_index.json").read_text())
    for name, spec in index.items():
        if isinstance(spec, list) and spec[0] and name not in OWN:
            shutil.copytree(hub / name, out / name, copy_function=link_or_copy)
    for name, transformer in zip(EXPERT_FOLDERS, transformers):
        fused(transformer).save_pretrained(out / name)
    scheduler.save_pretrained(out / "scheduler")
    index["scheduler"] = ["diffusers", type(scheduler).__name__]
    if "transformer_2" in index:  # Wan: the second transformer below boundary_ratio
        second = transformers[1:]
        index["transformer_2"] = ["diffusers", type(second[0]).__name__] if second else [None, None]
        index["boundary_ratio"] = boundary
    write_json(out / "model_index.json", index)
    write_json(out / "student.json", {"call": call, "boundary_ratio": boundary,
                                      "transformers": list(EXPERT_FOLDERS[:len(transformers)])})


def export(student: Path, out: Path) -> dict:
    """Write the student's pipeline folder (and LoRA files) to `out`, through a temporary folder beside it."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--out {out}: exists and is not an empty folder; expected a new folder")
    cfg = student_settings(student)
    experts = load_student(student, len(plan_phases(cfg)))
    hub = exportable(student, experts, cfg)
    transformers, boundary = routing(experts, cfg, student)
    pipeline, architecture = KINDS[experts[0].info.kind].paper_pipeline, experts[0].info.architecture
    call = {"num_inference_steps": len(levels(cfg)) - 1,
            **({"true_cfg_scale": 1.0} if architecture == "qwen-image" else {"guidance_scale": 1.0})}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        if any(has_adapters(t) for t in transformers):  # before write_pipeline fuses them
            write_loras(tmp / "lora", pipeline, architecture, transformers)
        write_pipeline(tmp, hub, transformers, boundary, student_scheduler(architecture, cfg), call)
    except BaseException:
        shutil.rmtree(tmp)
        raise
    if out.exists():
        out.rmdir()
    tmp.replace(out)
    return {"pipeline": pipeline, "transformers": len(transformers), "boundary_ratio": boundary, **call}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m phased_dmd.export", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--student", type=Path, required=True, help="a student's folder (config.yaml, phase<p>/generator/)")
    ap.add_argument("--out", type=Path, required=True, help="the pipeline folder to write (new, or an empty folder)")
    args = ap.parse_args(argv)
    try:
        summary = export(args.student, args.out)
    except (ConfigError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"exported {args.student} to {args.out}: {json.dumps(summary)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
