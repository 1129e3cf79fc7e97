"""LoRA roles (distill.generator_train / fake_train: lora) through peft: a role's view runs its adapter alone over
the shared teacher transformer and merges (peft's fuse) to the same outputs; gradients reach the generator's
adapter through the teacher's and the fake's calls, with gradient checkpointing too; a Phased student's experts
are adapters over one teacher, saved and checkpointed without the base, loaded again alone or onto the teacher,
and a run killed with SIGKILL resumes to the weights of an uninterrupted one."""

import copy

import pytest
import torch
from safetensors.torch import load_file

from phased_dmd.engine.lora import AdapterView, base_only, new_adapter
from phased_dmd.jobs.student import load_student, main, sample_student
from phased_dmd.sample import student_settings
from phased_dmd.teachers.architectures import tiny_transformer, wan_velocity
from phased_dmd.teachers.flow_model import Condition, load_teacher
from test_precision import args, kill_and_resume, max_difference

TEACHER_KIND = "wan2.2"  # two experts: a phase-2 generator and every fake are adapters over both
SPEC = {"rank": 4, "alpha": 8.0, "targets": ["to_q", "to_k", "to_v", "to_out.0", "ffn.net.0.proj", "ffn.net.2"],
        "dropout": 0.0, "teacher": "none", "expert": 0}
LORA = ["distill.generator_train=lora", "distill.fake_train=lora", "distill.lora_rank=4", "distill.lora_alpha=8"]


def base_with(names):
    """A tiny Wan transformer with trainable adapters `names`, each with a random (nonzero) B."""
    torch.manual_seed(0)
    base = tiny_transformer("wan", 1)
    views = {n: new_adapter(base, n, SPEC) for n in names}
    for view in views.values():
        view.requires_grad_(True)  # peft leaves only the last adapter added trainable; the job marks each role
        for name, p in view.named_parameters():
            if "lora_B" in name:
                torch.nn.init.normal_(p, std=0.2)
    return base, views


def call(model, x, t, text):
    return wan_velocity(model, x, t, text, None)


@pytest.fixture
def inputs():
    g = torch.Generator().manual_seed(1)
    return torch.randn(2, 1, 1, 16, 16, generator=g), torch.rand(2, generator=g), torch.randn(2, 4, 32, generator=g)


def test_a_view_runs_its_adapter_alone_and_merges_to_the_same_outputs(inputs):
    torch.manual_seed(0)
    plain = tiny_transformer("wan", 1)
    base, views = base_with(["generator1", "fake1"])
    assert {n for n, _ in views["generator1"].named_parameters()} == {
        n for n, _ in views["generator1"].named_parameters() if "lora_" in n}  # the adapter only, no base weight
    with base_only(base):
        torch.testing.assert_close(call(base, *inputs), call(plain, *inputs), rtol=0, atol=0)
    own = call(views["generator1"], *inputs)
    assert float((own - call(views["fake1"], *inputs)).abs().max().detach()) > 1e-3  # each role its own adapter
    merged = copy.deepcopy(base)
    merged.fuse_lora(adapter_names=["generator1"])
    merged.unload_lora()
    assert not any("lora" in n for n, _ in merged.named_parameters())  # full weights, as a plain transformer
    assert float((call(merged, *inputs) - own).abs().max().detach()) <= 1e-5


@pytest.mark.parametrize("checkpointing", [False, True], ids=["plain", "checkpointed"])
def test_gradients_reach_the_adapter_through_the_other_roles_calls(inputs, checkpointing):
    base, views = base_with(["generator1", "fake1"])
    alone, alone_views = base_with(["generator1"])  # the same generator adapter, and no other role
    alone_views["generator1"].load_state_dict(views["generator1"].state_dict())
    if checkpointing:
        base.enable_gradient_checkpointing()
    out = call(views["generator1"], *inputs)
    with torch.no_grad(), base_only(base):  # the teacher's and the fake's calls between forward and backward
        call(base, *inputs)
        call(views["fake1"], *inputs)
    out.square().mean().backward()
    call(alone_views["generator1"], *inputs).square().mean().backward()
    grads = {n: p.grad for n, p in views["generator1"].named_parameters()}
    assert all(g is not None for g in grads.values()) and max(float(g.abs().max()) for g in grads.values()) > 0
    for n, p in alone_views["generator1"].named_parameters():
        torch.testing.assert_close(grads[n], p.grad, rtol=1e-5, atol=1e-7)
    assert all(p.grad is None for p in views["fake1"].parameters())


PHASED = ["distill.method=phased", "distill.num_phases=2", "distill.iterations=2", "distill.batch_size=4",
          "distill.ttur=1"]


@pytest.fixture(scope="module")
def lora_student(student_setup):
    out = student_setup / "lora-phased"
    for phase in (1, 2):
        assert main([f"teacher={student_setup / 'teacher'}", f"data_dir={student_setup / 'fmnist'}",
                     f"out_dir={out}", f"phase={phase}", *PHASED, *LORA]) == 0
    return out


def test_a_phased_students_experts_are_adapters_saved_without_the_base(student_setup, lora_student):
    for phase in (1, 2):
        folder = lora_student / f"phase{phase}" / "generator"
        assert not list((folder / "transformer").glob("diffusion_pytorch_model*"))  # no transformer weights
        weights = load_file(folder / "transformer" / "adapter.safetensors")
        assert weights and all("lora_A" in k or "lora_B" in k for k in weights)
        checkpoint = next((lora_student / f"phase{phase}" / "checkpoints").glob("iter-*"))
        for role in ("expert", "fake"):
            saved = load_file(checkpoint / f"{role}{phase}.safetensors")
            assert not [k for k in saved if "lora_" not in k and not k.startswith("text_encoder.")]
    # the student's own sampling: loaded alone (a base each) and onto the teacher (shared)
    teacher = load_teacher(student_setup / "teacher")
    alone, shared = load_student(lora_student, 2), load_student(lora_student, 2, teacher)
    assert all(isinstance(e, AdapterView) for m in shared for e in m.experts)
    assert shared[0].experts[0].base is teacher.experts[0]  # over the teacher's own transformer
    settings = student_settings(lora_student)
    cond = Condition(torch.arange(4))
    a = sample_student(alone, settings, cond, torch.Generator().manual_seed(0))
    b = sample_student(shared, settings, cond, torch.Generator().manual_seed(0))
    torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    plain = load_teacher(student_setup / "teacher")  # the same steps with the teacher's experts: the adapters
    c = sample_student([plain, plain], settings, cond, torch.Generator().manual_seed(0))  # changed what they do
    assert float((a - c).abs().max()) > 1e-4


def test_a_lora_run_killed_resumes_to_the_weights_of_an_uninterrupted_one(student_setup):
    whole, killed = kill_and_resume(student_setup, "lora", LORA)
    assert any("lora_B" in k for k in whole)
    assert max_difference(whole, killed) <= 1e-6


def test_lora_with_a_weight_average_or_sharding_is_refused_before_anything_is_written(student_setup, capsys,
                                                                                       monkeypatch):
    out = student_setup / "lora-ema"
    assert main(args(student_setup, out, "distill.generator_train=lora", "distill.ema=0.9")) != 0
    assert "ema" in capsys.readouterr().err and not out.exists()
    monkeypatch.setenv("PHASED_DMD_PARALLEL", "shard")
    assert main(args(student_setup, out, "distill.fake_train=lora")) != 0
    assert "replicate with a lora role" in capsys.readouterr().err and not out.exists()


def test_a_bf16_lora_phase_keeps_its_adapters_in_fp32_over_a_bf16_teacher(student_setup):
    out = student_setup / "lora-bf16"
    assert main(args(student_setup, out, *LORA, "precision=bf16")) == 0
    saved = load_file(out / "phase1" / "generator" / "transformer" / "adapter.safetensors")
    assert {v.dtype for v in saved.values()} == {torch.float32}
    assert all(torch.isfinite(v).all() for v in saved.values())
    assert max(float(v.abs().max()) for k, v in saved.items() if "lora_B" in k) > 0  # B left zero: trained
