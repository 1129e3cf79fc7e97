"""Students of diffusers teachers: phases initialised from the right expert, trained one per run or jointly."""

import json

import pytest
import torch

from phased_dmd.engine.loop import plan_phases
from phased_dmd.jobs.student import load_student, main, phase_floor, sample_student, serving_experts
from phased_dmd.teachers.flow_model import Condition
from shipped import distill

TINY = ["distill.iterations=2", "distill.batch_size=4", "distill.ttur=1", "checkpoint_every=1"]


TEACHER_KIND = "wan2.2"


def test_wan22_phases_take_the_expert_of_their_levels_and_phase_1_renoises_above_the_boundary(student_setup):
    from phased_dmd.teachers.flow_model import load_teacher

    teacher = load_teacher(student_setup / "teacher")
    # the tiny Wan2.2's boundary is the paper's 0.875 unshifted by 5: 7/12; a grid of shift 7/5 ends phase 1
    # there (s_1 = 1.4 * 0.5 / 1.2 = 7/12, 0.58333331 in float32: on the boundary within jobs.student's tolerance)
    assert teacher.info.boundary == pytest.approx(7 / 12)
    two = plan_phases(distill(method="phased", num_phases=2, shift=1.4))
    assert two[0].end_level == pytest.approx(7 / 12)
    assert [serving_experts(teacher, p) for p in two] == [[0], [1]]
    assert [phase_floor(teacher, p) for p in two] == [pytest.approx(7 / 12), 0.0]
    one = plan_phases(distill(method="sgts", shift=1.4))  # SGTS spans both experts: a two-expert generator
    assert serving_experts(teacher, one[0]) == [0, 1] and phase_floor(teacher, one[0]) == 0.0
    across = plan_phases(distill(method="phased", num_phases=2, shift=1.0))  # s_1 = 0.5: phase 1 spans both
    assert serving_experts(teacher, across[0]) == [0, 1]


@pytest.mark.parametrize("schedule", ["progressive", "joint"])
def test_a_two_phase_student_trains_saves_and_samples(student_setup, schedule):
    out = student_setup / schedule
    root = student_setup
    common = [f"teacher={root / 'teacher'}", f"data_dir={root / 'fmnist'}", f"out_dir={out}", "seed=3",
              "student=phased", "distill.shift=1.4", f"distill.schedule={schedule}", *TINY]
    for phase in (1, 2) if schedule == "progressive" else (1,):
        assert main([*common, f"phase={phase}"]) == 0
    experts = load_student(out, 2)
    assert [len(e.experts) for e in experts] == [1, 1]
    assert [json.loads((out / f"phase{p}/generator/teacher.json").read_text())["boundary"] for p in (1, 2)] == [
        None, None]
    history = (out / ("joint" if schedule == "joint" else "phase2") / "losses.csv").read_text().splitlines()
    phases = [row.split(",")[1] for row in history[1:]]
    assert phases == (["1", "2", "1", "2"] if schedule == "joint" else ["2", "2"])
    cfg = distill(method="phased", num_phases=2, shift=1.4)
    x = sample_student(experts, cfg, Condition(torch.arange(4)), torch.Generator().manual_seed(0))
    assert x.shape == (4, 1, 16, 16) and torch.isfinite(x).all()


def test_a_later_phase_without_its_earlier_phase_is_refused(student_setup, capsys):
    root = student_setup
    code = main([f"teacher={root / 'teacher'}", f"data_dir={root / 'fmnist'}", f"out_dir={root / 'empty'}",
                 "phase=2", "student=phased", *TINY])
    assert code == 1
    assert "phase 1 of this student is not trained yet (run phase 1 first)" in capsys.readouterr().err


def test_gradient_checkpointing_changes_no_weight(student_setup):
    """Activations recomputed in backward (configs/student.yaml gradient_checkpointing) give the same student."""
    from safetensors.torch import load_file

    from phased_dmd.jobs.student import checkpoint_activations
    from phased_dmd.teachers.flow_model import load_teacher

    root = student_setup
    teacher = load_teacher(root / "teacher")
    checkpoint_activations(teacher)
    assert all(e.gradient_checkpointing for e in teacher.experts)
    outs = {flag: root / f"checkpointing-{flag}" for flag in ("false", "true")}
    for flag, out in outs.items():
        assert main([f"teacher={root / 'teacher'}", f"data_dir={root / 'fmnist'}", f"out_dir={out}", "phase=1",
                     "distill.method=sgts", f"gradient_checkpointing={flag}", *TINY]) == 0
    weights = [load_file(out / "phase1/generator/transformer/diffusion_pytorch_model.safetensors")
               for out in outs.values()]
    assert max(float((weights[0][k] - weights[1][k]).abs().max()) for k in weights[0]) <= 1e-6


def test_compiled_transformers_give_eager_outputs_and_gradients(student_setup):
    """torch.compile of every transformer (configs/student.yaml compile) is the same maths: outputs and gradients of
    both Wan2.2 experts equal eager's to rounding, and a student phase trains with it."""
    import copy

    from phased_dmd.jobs.student import compile_transformers
    from phased_dmd.teachers.flow_model import load_teacher

    root = student_setup
    eager = load_teacher(root / "teacher")
    compiled = copy.deepcopy(eager)
    compile_transformers([compiled])
    gen = torch.Generator().manual_seed(0)
    x, t = torch.randn(6, 1, 16, 16, generator=gen), torch.tensor([0.95, 0.9, 0.8, 0.3, 0.2, 0.1])  # both experts
    results = []
    for model in (eager, compiled):
        out = model(x, t, Condition(torch.arange(6)))
        out.square().mean().backward()
        results.append((out.detach(), [p.grad for p in model.parameters() if p.requires_grad]))
    (out_e, grads_e), (out_c, grads_c) = results
    assert len(grads_e) == len(grads_c) > 0 and all(g is not None for g in grads_e + grads_c)
    assert (out_c - out_e).abs().max() <= 1e-5 * out_e.abs().max()
    for g_e, g_c in zip(grads_e, grads_c):
        assert (g_c - g_e).abs().max() <= 1e-4 * g_e.abs().max() + 1e-8
    assert main([f"teacher={root / 'teacher'}", f"data_dir={root / 'fmnist'}", f"out_dir={root / 'compiled'}",
                 "phase=1", "distill.method=sgts", "compile=true", *TINY]) == 0
    assert (root / "compiled/phase1/generator/transformer").is_dir()
