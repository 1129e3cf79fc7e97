"""The cost model against known answers: published model sizes, a closed form of a tiny Wan call's FLOPs, memory
that grows linearly with tokens (flash attention), the engine's own calls per update, roles and bytes by hand."""

import dataclasses

import pytest
import torch
from torch import nn

from phased_dmd.config import read_yaml
from phased_dmd.cost.iteration import TEACHER_CALLS, Calls, fake_update_calls, generator_update_calls
from phased_dmd.cost.measure import CallCost, adapter_parameters, measure_call, meta_transformer, parameter_count
from phased_dmd.cost.memory import Roles, Setting, phase_memory, phase_roles
from phased_dmd.engine.loop import PhaseModels, fake_update, generator_update
from phased_dmd.jobs.params import load_params
from phased_dmd.method.grids import split_phases, step_grid
from phased_dmd.method.phases import plan_phases
from phased_dmd.runs import config_dir

FACTS = read_yaml(config_dir() / "paper_scale.yaml")
PARAMS = load_params("params.yaml")
TINY_WAN = {"patch_size": [1, 2, 2], "num_attention_heads": 2, "attention_head_dim": 8, "in_channels": 4,
            "out_channels": 4, "text_dim": 12, "freq_dim": 32, "ffn_dim": 24, "num_layers": 2, "cross_attn_norm": True,
            "qk_norm": "rms_norm_across_heads", "eps": 1e-6, "image_dim": None, "added_kv_proj_dim": None,
            "rope_max_seq_len": 32}


@pytest.mark.parametrize("kind", list(FACTS["models"]))
def test_the_paper_models_have_their_published_sizes(kind):
    spec = FACTS["models"][kind]
    parameters = parameter_count(meta_transformer(spec["architecture"], spec["config"]))
    assert parameters == pytest.approx(spec["published"], rel=0.05)  # Wan 14.29 B for "14B", Qwen-Image 20.43 B


def test_a_tiny_wan_call_counts_the_flops_of_its_closed_form():
    """Every matrix product of WanTransformer3DModel's forward, by hand: 2 x rows x in x out per linear layer,
    4 N^2 d for self-attention and 4 N L d for cross-attention."""
    model = meta_transformer("wan", TINY_WAN, "fp32")
    frames, h, w, text = 2, 4, 6, 5
    n, d, ffn, c, b = frames * (h // 2) * (w // 2), 16, 24, 4, 1
    patch = c * 1 * 2 * 2
    embed = 2 * n * patch * d + 2 * b * (32 * d + d * d + d * 6 * d) + 2 * text * (12 * d + d * d)
    block = (2 * n * 4 * d * d + 4 * n * n * d  # self-attention: q, k, v, o and the attention
             + 2 * n * 2 * d * d + 2 * text * 2 * d * d + 4 * n * text * d  # cross: q, o on the video; k, v on text
             + 2 * n * 2 * d * ffn)  # the feed-forward's two layers
    out = 2 * n * d * patch
    call = measure_call("wan", model, (frames, h, w), text, "fp32")
    assert call.tokens == n
    assert call.forward_flops == embed + 2 * block + out
    assert 2 * call.forward_flops <= call.backward_flops <= 2.5 * call.forward_flops


def test_the_memory_kept_for_backward_grows_linearly_with_tokens():
    """Flash attention keeps O(N) per layer; the math fallback's N x N matrix would make this quadratic."""
    model = meta_transformer("wan", TINY_WAN, "bf16")
    calls = [measure_call("wan", model, (frames, 8, 8), 5) for frames in (1, 2, 3)]
    saved = [c.saved_bytes for c in calls]
    assert saved[2] - saved[1] == saved[1] - saved[0] > 0
    assert all(c.activations(True) < c.activations(False) for c in calls)


def test_lora_adapters_count_rank_times_in_plus_out_on_the_targets():
    model = meta_transformer("wan", TINY_WAN)
    # per block: attn1 and attn2 each to_q, to_k, to_v, to_out.0 (16 -> 16); the feed-forward 16 -> 24 -> 16
    assert adapter_parameters(model, 4, ["to_q", "to_k", "to_v", "to_out.0", "ffn.net.0.proj", "ffn.net.2"]) == (
        2 * (8 * 4 * (16 + 16) + 2 * 4 * (16 + 24)))
    assert adapter_parameters(model, 4, ["ffn.net.2"]) == 2 * 4 * (24 + 16)


class Counting(nn.Module):
    """A toy expert or fake that counts its calls with and without gradient."""

    def __init__(self):
        super().__init__()
        self.linear, self.calls = nn.Linear(2, 2), {"no_grad": 0, "with_grad": 0}

    def forward(self, x, t, cond):
        self.calls["with_grad" if torch.is_grad_enabled() else "no_grad"] += 1
        return self.linear(x)


def counted(student: str, p: int, update, seed: int = 0) -> Calls:
    cfg = dataclasses.replace(PARAMS.students.settings(student, "wan2.1"), batch_size=4)
    experts, fake = [Counting() for _ in plan_phases(cfg)[:p + 1]], Counting()
    teacher_calls = [0]

    def teacher(x, t, cond):  # a guided teacher: one call of twice the rows (FlowModel.guided)
        teacher_calls[0] += TEACHER_CALLS
        return torch.zeros_like(x)

    models = PhaseModels(teacher, experts, [fake])
    opt = torch.optim.SGD([*experts[p].parameters(), *fake.parameters()], lr=0.0)
    update(models, p, cfg, lambda n, gen: (torch.randn(n, 2, generator=gen), None), torch.Generator().manual_seed(seed),
           opt)
    every = [*experts, fake]
    return Calls(sum(m.calls["no_grad"] for m in every) + teacher_calls[0], sum(m.calls["with_grad"] for m in every))


@pytest.mark.parametrize("student,p", [("dmd", 0), ("phased4", 0), ("phased4", 2)])
def test_the_calls_of_an_update_are_the_engines(student, p):
    cfg = PARAMS.students.settings(student, "wan2.1")
    phase = plan_phases(cfg)[p]
    assert counted(student, p, fake_update) == fake_update_calls(cfg, phase)
    assert counted(student, p, generator_update) == generator_update_calls(cfg, phase)


def test_sgts_calls_average_over_its_exit_step():
    """SGTS inside a phase of 4 steps: the exit step uniform in 0..3, so 2.5 calls of the phase on average."""
    cfg = PARAMS.students.settings("sgts", "wan2.1")
    runs = [counted("sgts", 0, generator_update, seed) for seed in range(400)]
    expected = generator_update_calls(cfg, plan_phases(cfg)[0])
    assert expected == Calls(1.5 + TEACHER_CALLS + 1, 1)
    assert {r.with_grad for r in runs} == {1}
    assert sum(r.no_grad for r in runs) / len(runs) == pytest.approx(expected.no_grad, abs=0.2)  # 3.5 standard errors


def test_roles_of_a_moe_teacher_follow_the_paper():
    """Wan2.2, 4 steps in 2 phases on a shift-7 grid (s_1 at the boundary 0.875): phase 1 trains the high-noise
    generator and fake (the fake's low-noise copy idle); phase 2 the low-noise generator and both fakes, with the
    phase-1 generator frozen (Supplement C: "three components are trainable")."""
    phases = split_phases(step_grid(4, 7.0), 2)
    assert phase_roles(phases, 0, 0.875) == Roles(teacher=2, frozen=0, trained=2, idle=1)
    assert phase_roles(phases, 1, 0.875) == Roles(teacher=2, frozen=1, trained=3, idle=0)
    assert phase_roles(split_phases(step_grid(4, 1.0), 4), 3, None) == Roles(teacher=1, frozen=3, trained=2, idle=0)


def test_memory_per_gpu_by_hand():
    roles, call = Roles(teacher=1, frozen=0, trained=2, idle=0), CallCost(10, 0, 0, 300, 40, 20)
    full = phase_memory(roles, 10, 1, 3, call, Setting("full", "bf16", 2, True), batch_per_gpu=2)
    assert (full.states, full.gathered, full.activations) == (10 * (2 + 2 * 16) / 2, 2 * 3 * 2, 2 * (40 + 20))
    lora = phase_memory(roles, 10, 1, 3, call, Setting("lora", "fp32", 1, False), batch_per_gpu=1)
    assert (lora.states, lora.gathered, lora.activations) == (10 * 4 + 1 * 2 * 16, 0, 300)
