"""Export of students (export.py) on the tiny hub-layout pipelines: the exported folder runs in diffusers alone (a
Python whose path holds no phased_dmd) and gives our own sampling of the student; LoRA files load with
`load_lora_weights` (diffusers' and ComfyUI's naming) and give the adapted transformers' output; bad input is
refused with its path and nothing is written."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from phased_dmd.export import fused, main, student_scheduler, write_loras
from phased_dmd.jobs.student import load_student, sample_student
from phased_dmd.jobs.student import main as student_main
from phased_dmd.method.grids import step_grid
from phased_dmd.sample import student_settings
from phased_dmd.teachers.architectures import pack_patches
from phased_dmd.teachers.flow_model import Condition
from phased_dmd.teachers.hub import HubTeacherConfig, fetch_teacher, load_pipeline
from shipped import run_config
from test_hub_qwen import PROMPTS as QWEN_PROMPTS
from test_hub_qwen import tiny_qwen_pipeline
from test_hub_teacher import PROMPTS as WAN_PROMPTS
from test_hub_teacher import tiny_wan_pipeline

OUTSIDE = """
import importlib.util, os, sys
sys.path = [p for p in sys.path if not os.path.isdir(os.path.join(p, "phased_dmd"))]  # not installed here
assert importlib.util.find_spec("phased_dmd") is None
import torch  # this machine's torchvision is a CUDA build beside CPU torch: declare its two operators (as
spec = importlib.util.find_spec("torchvision")  # phased_dmd/torchvision_import.py does) so diffusers imports
try:
    torch.ops.load_library(os.path.join(os.path.dirname(spec.origin), "_C.so"))
except OSError:
    for op in ("nms", "qnms"):
        torch.library.define(f"torchvision::{op}", "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
from diffusers import DiffusionPipeline
from safetensors.torch import load_file, save_file
"""


def outside(script: str, folder: Path) -> None:
    """Run `script` in a fresh Python that cannot import phased_dmd (-I: no PYTHONPATH; the editable install's
    path entry removed), in `folder`."""
    done = subprocess.run([sys.executable, "-I", "-c", OUTSIDE + script], cwd=folder, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def distil(teacher: Path, out: Path, *overrides: str, data: Path | None = None) -> Path:
    """Both phases of a Phased DMD student of `teacher` (hub teachers need no `data`), one update each."""
    for phase in (1, 2):
        assert student_main([f"teacher={teacher}", f"data_dir={data or out / 'no-data'}", f"out_dir={out}",
                             "student=phased",
                             f"phase={phase}", "distill.iterations=1", "distill.ttur=1", "distill.batch_size=2",
                             *overrides]) == 0
    return out


def hub_teacher(root: Path, kind: str, pipeline: str, **sizes) -> Path:
    cfg = run_config("hub_teacher", HubTeacherConfig, kind=kind, source=str(root / pipeline), out_dir=str(root / kind),
                     images=[], negative_prompt="blurry", dtype="float32", **sizes)
    fetch_teacher(cfg)
    return root / kind


@pytest.fixture(scope="module")
def wan(tmp_path_factory):
    """A Wan2.2-T2V pipeline (boundary 0.875) and a Phased student with the paper's grid shift 7, which puts s_1
    on the boundary: phase 1 from the high-noise expert, phase 2 from the low-noise one."""
    root = tmp_path_factory.mktemp("wan")
    tiny_wan_pipeline(root / "Wan2.2-T2V-A14B-Diffusers")
    teacher = hub_teacher(root, "wan2.2-t2v", "Wan2.2-T2V-A14B-Diffusers", prompts=WAN_PROMPTS, height=16, width=32,
                          num_frames=5, max_sequence_length=8)
    return root, distil(teacher, root / "students" / "phased" / "seed0", "distill.shift=7.0")


@pytest.fixture(scope="module")
def qwen(tmp_path_factory):
    """A Qwen-Image pipeline and a Phased student of it (grid shift 3): two transformers, one per phase."""
    root = tmp_path_factory.mktemp("qwen")
    tiny_qwen_pipeline(root / "Qwen-Image")
    teacher = hub_teacher(root, "qwen-image", "Qwen-Image", prompts=QWEN_PROMPTS, height=32, width=48,
                          max_sequence_length=1024)
    return root, distil(teacher, root / "students" / "phased" / "seed0", "distill.shift=3.0")


def ours(student: Path, prompt: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The noise of `seed` and our sampling of the student from it."""
    cfg = student_settings(student)
    experts = load_student(student, 2)
    noise = torch.randn((1, *experts[0].info.shape), generator=torch.Generator().manual_seed(seed))
    return noise, sample_student(experts, cfg, Condition(torch.tensor([prompt])), torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("architecture, shift", [("wan", 1.0), ("wan", 7.0), ("wan", 12.0), ("qwen-image", 3.0)])
def test_the_scheduler_steps_on_the_students_grid(architecture, shift):
    """set_timesteps(4) as each pipeline calls it (Wan: no sigmas; Qwen-Image: linspace(1, 1/4, 4), a mu that is
    ignored) gives the grid tau_0..tau_4 to float32 rounding."""
    import numpy as np

    from phased_dmd.method.distill_config import DistillConfig

    cfg = DistillConfig(method="phased", num_steps=4, num_phases=2, shift=shift)
    scheduler = student_scheduler(architecture, cfg)
    if architecture == "wan":
        scheduler.set_timesteps(4)
    else:
        scheduler.set_timesteps(4, sigmas=np.linspace(1.0, 0.25, 4), mu=0.7)
    assert float((scheduler.sigmas.double() - step_grid(4, shift)).abs().max()) < 1e-7


def test_the_wan_student_exports_as_a_pipeline_with_two_experts_that_diffusers_runs_alone(wan):
    """The exported WanPipeline (transformer for the phase-1 steps, transformer_2 below boundary_ratio), loaded by
    DiffusionPipeline.from_pretrained where phased_dmd cannot be imported, makes from the same noise the latents
    our sample_student makes (1e-4), each expert serving its two steps; the VAE and text encoder are hard links."""
    root, student = wan
    out = root / "export"
    assert main(["--student", str(student), "--out", str(out)]) == 0
    index = json.loads((out / "model_index.json").read_text())
    tau = step_grid(4, 7.0).tolist()  # 1, 0.955, 0.875, 0.7, 0
    assert index["transformer_2"] == ["diffusers", "WanTransformer3DModel"]
    assert index["boundary_ratio"] == pytest.approx((tau[1] + tau[2]) / 2)
    assert json.loads((out / "student.json").read_text())["call"] == {"num_inference_steps": 4, "guidance_scale": 1.0}
    hub = root / "Wan2.2-T2V-A14B-Diffusers"
    assert (out / "vae/diffusion_pytorch_model.safetensors").samefile(hub / "vae/diffusion_pytorch_model.safetensors")
    noise, latents = ours(student, 1, 5)
    save_file({"noise": noise}, str(root / "noise.safetensors"))
    outside(f"""
import json
pipe = DiffusionPipeline.from_pretrained("export")
served = []
for name in ("transformer", "transformer_2"):
    getattr(pipe, name).register_forward_pre_hook(lambda m, a, kw, name=name: served.append(name), with_kwargs=True)
call = json.load(open("export/student.json"))["call"]
latents = pipe(prompt={WAN_PROMPTS[1]!r}, height=16, width=32, num_frames=5, max_sequence_length=8,
               latents=load_file("noise.safetensors")["noise"], output_type="latent", **call).frames
assert served == ["transformer", "transformer", "transformer_2", "transformer_2"], served
save_file({{"latents": latents}}, "theirs.safetensors")
""", root)
    theirs = load_file(str(root / "theirs.safetensors"))["latents"]
    assert theirs.shape == latents.shape == (1, 16, 2, 2, 4)
    assert float((theirs - latents).abs().max()) < 1e-4


def test_a_lora_student_exports_fused_and_as_lora_files_the_base_pipeline_loads(wan):
    """A Phased student whose experts are LoRA adapters over the teacher (distill.generator_train: lora): the
    exported pipeline holds them fused, and the hub's own pipeline with the exported LoRA files loaded
    (transformer_2's with load_into_transformer_2=True), the student's scheduler and boundary, makes the same
    latents as our sampling of the student (1e-4)."""
    root, _ = wan
    student = distil(root / "wan2.2-t2v", root / "students" / "phased_lora" / "seed0", "distill.shift=7.0",
                     "distill.generator_train=lora", "distill.lora_rank=4", "distill.lora_alpha=8",
                     "distill.lr_generator=0.05")  # a large step: adapters that visibly change the samples
    out = root / "export-lora"
    assert main(["--student", str(student), "--out", str(out)]) == 0
    assert {p.name for p in (out / "lora").glob("*.safetensors")} == {"transformer.safetensors",
                                                                      "transformer_2.safetensors"}
    noise, latents = ours(student, 0, 6)
    save_file({"noise": noise}, str(root / "noise-lora.safetensors"))
    outside(f"""
import json
from diffusers import FlowMatchEulerDiscreteScheduler
student = json.load(open("export-lora/student.json"))
base = DiffusionPipeline.from_pretrained("Wan2.2-T2V-A14B-Diffusers")
base.scheduler = FlowMatchEulerDiscreteScheduler.from_pretrained("export-lora/scheduler")
base.register_to_config(boundary_ratio=student["boundary_ratio"])
def run(name, pipe):
    latents = pipe(prompt={WAN_PROMPTS[0]!r}, height=16, width=32, num_frames=5, max_sequence_length=8,
                   latents=load_file("noise-lora.safetensors")["noise"], output_type="latent",
                   **student["call"]).frames
    save_file({{"latents": latents}}, f"theirs-{{name}}.safetensors")
run("teacher", base)
base.load_lora_weights("export-lora/lora/transformer.safetensors")
base.load_lora_weights("export-lora/lora/transformer_2.safetensors", load_into_transformer_2=True)
run("lora", base)
run("fused", DiffusionPipeline.from_pretrained("export-lora"))
""", root)
    theirs = {name: load_file(str(root / f"theirs-{name}.safetensors"))["latents"]
              for name in ("teacher", "lora", "fused")}
    assert float((theirs["teacher"] - latents).abs().max()) > 1e-2  # the adapters matter
    for name in ("fused", "lora"):
        assert float((theirs[name] - latents).abs().max()) < 1e-4, name


def test_the_qwen_student_exports_with_its_second_expert_swapped_in_by_a_callback(qwen):
    """Qwen-Image: the pipeline folder holds phase 1's transformer; phase 2's is transformer_2/ beside it, swapped
    in by the README's step-end callback at student.json's boundary_ratio; run by diffusers alone, it gives our
    sampling of the student (1e-4)."""
    root, student = qwen
    out = root / "export"
    assert main(["--student", str(student), "--out", str(out)]) == 0
    assert "transformer_2" not in json.loads((out / "model_index.json").read_text())
    noise, latents = ours(student, 1, 2)
    save_file({"noise": pack_patches(noise, 2)}, str(root / "noise.safetensors"))
    outside(f"""
import json
from diffusers import QwenImageTransformer2DModel

pipe = DiffusionPipeline.from_pretrained("export")
spec = json.load(open("export/student.json"))
high, low = pipe.transformer, QwenImageTransformer2DModel.from_pretrained("export/transformer_2")
boundary = spec["boundary_ratio"] * pipe.scheduler.config.num_train_timesteps

def swap(pipe, i, t, kwargs):  # the transformer of the next step
    if i + 1 < len(pipe.scheduler.timesteps):
        pipe.transformer = high if pipe.scheduler.timesteps[i + 1] >= boundary else low
    return {{}}

latents = pipe(prompt={QWEN_PROMPTS[1]!r}, height=32, width=48, latents=load_file("noise.safetensors")["noise"],
               output_type="latent", callback_on_step_end=swap, **spec["call"]).images
assert pipe.transformer is low
save_file({{"latents": latents}}, "theirs.safetensors")
""", root)
    theirs = load_file(str(root / "theirs.safetensors"))["latents"]
    assert float((theirs - pack_patches(latents, 2)).abs().max()) < 1e-4


def adapted(transformer, targets: list[str], seed: int):
    """A copy of `transformer` with a LoRA adapter (rank 4, alpha 8) whose lora_B weights are random, not zero."""
    from peft import LoraConfig

    out = type(transformer).from_config(transformer.config)
    out.load_state_dict(transformer.state_dict())
    out.add_adapter(LoraConfig(r=4, lora_alpha=8, target_modules=targets), adapter_name="phase")
    gen = torch.Generator().manual_seed(seed)
    for name, p in out.named_parameters():
        if "lora_B" in name:
            p.data = torch.randn(p.shape, generator=gen) * 0.1
    return out.eval()


WAN_TARGETS = ["to_q", "to_k", "to_v", "to_out.0", "ffn.net.0.proj", "ffn.net.2", "proj_out", "time_proj",
               "text_embedder.linear_1", "time_embedder.linear_2"]


def test_lora_files_load_into_the_base_wan_pipeline_and_give_the_adapted_experts(tmp_path, gen):
    """Both experts of a Wan2.2 pipeline given LoRA adapters: the diffusers file of each, loaded by
    load_lora_weights (transformer_2's with load_into_transformer_2=True) into the base pipeline, and ComfyUI's
    (diffusion_model.blocks.<i>.self_attn.q.lora_down.weight ..., mapped back by diffusers' own converter), give
    the adapted transformers' velocities (1e-4); so does the fused copy the pipeline folder holds."""
    base = tiny_wan_pipeline(tmp_path / "wan")
    experts = [adapted(base.transformer, WAN_TARGETS, 0), adapted(base.transformer_2, WAN_TARGETS, 1)]
    write_loras(tmp_path / "lora", "WanPipeline", "wan", experts)
    comfy = load_file(str(tmp_path / "lora/comfyui/transformer.safetensors"))
    assert {"diffusion_model.blocks.1.self_attn.q.lora_down.weight", "diffusion_model.blocks.0.cross_attn.o.lora_up"
            ".weight", "diffusion_model.head.head.lora_up.weight", "diffusion_model.time_projection.1.lora_down.weight",
            "diffusion_model.text_embedding.0.lora_down.weight"} <= set(comfy)
    x, t, text = torch.randn(1, 16, 2, 2, 4, generator=gen), torch.tensor([600.0]), torch.randn(1, 8, 16, generator=gen)
    with torch.no_grad():
        want = [e(x, t, text, return_dict=False)[0] for e in experts]
        for folder in ("lora", "lora/comfyui"):
            pipe = load_pipeline(tmp_path / "wan", torch.float32)
            pipe.load_lora_weights(str(tmp_path / folder / "transformer.safetensors"))
            pipe.load_lora_weights(str(tmp_path / folder / "transformer_2.safetensors"), load_into_transformer_2=True)
            for expert, v in zip((pipe.transformer, pipe.transformer_2), want):
                assert float((expert(x, t, text, return_dict=False)[0] - v).abs().max()) < 1e-4
        assert float((fused(experts[0])(x, t, text, return_dict=False)[0] - want[0]).abs().max()) < 1e-4
        plain = base.transformer(x, t, text, return_dict=False)[0]
        assert float((plain - want[0]).abs().max()) > 1e-2  # the adapter changes the output


def test_lora_files_load_into_the_base_qwen_pipeline(tmp_path, gen):
    """Qwen-Image: the diffusers file and ComfyUI's (diffusion_model.<diffusers module>.lora_down.weight) both load
    into the base QwenImagePipeline's transformer and give the adapted one's output (1e-4)."""
    base = tiny_qwen_pipeline(tmp_path / "qwen")
    expert = adapted(base.transformer, ["to_q", "add_k_proj", "to_add_out", "img_mlp.net.0.proj", "img_mod.1",
                                        "proj_out"], 0)
    write_loras(tmp_path / "lora", "QwenImagePipeline", "qwen-image", [expert])
    assert "diffusion_model.transformer_blocks.0.attn.to_q.lora_down.weight" in load_file(
        str(tmp_path / "lora/comfyui/transformer.safetensors"))
    x, text = torch.randn(1, 6, 64, generator=gen), torch.randn(1, 5, 16, generator=gen)
    args = dict(encoder_hidden_states=text, timestep=torch.tensor([0.6]), img_shapes=[[(1, 2, 3)]], return_dict=False)
    with torch.no_grad():
        want = expert(x, **args)[0]
        for folder in ("lora", "lora/comfyui"):
            pipe = tiny_qwen_pipeline(tmp_path / "qwen")
            pipe.load_lora_weights(str(tmp_path / folder / "transformer.safetensors"))
            assert float((pipe.transformer(x, **args)[0] - want).abs().max()) < 1e-4


def refused(capsys, student: Path, out: Path, *expected: str) -> None:
    """The export exits 2 with a message holding `expected`, and writes nothing beside --out."""
    before = set(out.parent.iterdir()) if out.parent.exists() else set()
    assert main(["--student", str(student), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert all(e in err for e in expected), err
    assert (set(out.parent.iterdir()) if out.parent.exists() else set()) == before


TEACHER_KIND = "qwen-image"  # the embedded teacher of student_setup (conftest.py)


def test_bad_input_is_refused_with_its_path_and_nothing_is_written(wan, student_setup, capsys, tmp_path):
    """No student there; an --out that is not empty; a Wan2.2 student whose steps need three transformers (grid
    shift 1.4: phase 1 straddles the boundary); a student of an embedded teacher."""
    root, student = wan
    refused(capsys, tmp_path / "nothing", tmp_path / "out", f"{tmp_path / 'nothing'}/config.yaml: not found")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    refused(capsys, student, tmp_path / "full", f"--out {tmp_path / 'full'}: exists and is not an empty folder")
    three = distil(root / "wan2.2-t2v", root / "students" / "shift1.4" / "seed0", "distill.shift=1.4")
    refused(capsys, three, tmp_path / "out", f"{three}: its steps are served by 3 transformers")
    embedded = distil(student_setup / "teacher", tmp_path / "embedded", data=student_setup / "fmnist")
    refused(capsys, embedded, tmp_path / "out", f"{embedded}: a student of the embedded teacher qwen-image",
            "teachers.scale: paper")


def test_the_workflow_exports_students_of_paper_scale_teachers_only(repo):
    """`snakemake results/export/<teacher>/<student>/seed<seed>`: at paper scale the export runs after the
    student's two phases (a dry run); at the embedded scale the target stops the DAG with the reason."""
    from workflow_repo import dry_run_jobs, edit_params, run

    bad = run(["snakemake", "-n", "results/export/wan2.1/phased/seed0"], repo, check=False)
    assert bad.returncode == 1 and "export needs a student of a paper-scale teacher" in bad.stdout + bad.stderr
    edit_params(repo, "teachers", scale="paper", names=["wan2.1"], prompts=WAN_PROMPTS,
                sources={"wan2.1": "Wan-AI/Wan2.1-T2V-14B-Diffusers"})
    edit_params(repo, "evaluation", backend="paper")
    jobs = dry_run_jobs(repo, "results/export/wan2.1/phased/seed0")
    assert jobs == ["export", "fashion_mnist", "student_phase", "student_phase", "teacher"]  # (the data: every phase's)
