"""CUDA only (pytest -m cuda; the GPU check runs them, scripts/gpu_check.sh): a student job places its models and
batches on the GPU, a bf16 phase on the GPU tracks fp32 as on the CPU (test_precision's tolerance), and NCCL with one
process reduces and runs an FSDP2-sharded transformer as the whole one. Skipped where there is no CUDA."""

import copy
import socket

import pytest
import torch
import torch.distributed as dist

from phased_dmd.engine import data_parallel, precision
from phased_dmd.engine.device import model_device
from phased_dmd.jobs import student
from phased_dmd.sample import student_settings
from phased_dmd.teachers.architectures import tiny_transformer, wan_velocity
from phased_dmd.teachers.flow_model import Condition
from test_precision import TOLERANCE, args, generator, losses

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]
TEACHER_KIND = "wan2.2"  # two experts, as test_precision's
GPU = torch.device("cuda", 0)


def relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.detach().float(), b.detach().float()
    return float((a - b).norm() / b.norm())


def test_a_student_job_places_its_models_and_batches_on_the_gpu(student_setup, monkeypatch):
    monkeypatch.delenv("PHASED_DMD_DEVICE", raising=False)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    seen = {}

    def spy(models, cfg, sample_batch, run_dir, **kwargs):
        noise, cond = sample_batch(2, torch.Generator().manual_seed(0))
        t = torch.full((2,), 0.5, device=noise.device)
        seen["models"] = [model_device(m) for m in (*models.experts, *models.fakes)]
        seen["tensors"] = [noise.device, cond.prompt_ids.device, models.teacher(noise, t, cond).device]
        return train_phase(models, cfg, sample_batch, run_dir, **kwargs)

    train_phase = student.train_phase
    monkeypatch.setattr(student, "train_phase", spy)
    out = student_setup / "placed"
    assert student.main(args(student_setup, out)) == 0
    assert set(seen["models"]) == set(seen["tensors"]) == {GPU}
    experts = [e.to(GPU) for e in student.load_student(out, 1)]  # the trained student samples on the GPU too
    samples = student.sample_student(experts, student_settings(out), Condition(torch.arange(3)),
                                     torch.Generator().manual_seed(0))
    assert samples.device == GPU and torch.isfinite(samples).all()


def test_a_bf16_phase_on_the_gpu_tracks_fp32(student_setup, monkeypatch):
    monkeypatch.delenv("PHASED_DMD_DEVICE", raising=False)
    runs = {p: student_setup / f"gpu-{p}" for p in ("fp32", "bf16")}
    for compute, out in runs.items():
        assert student.main(args(student_setup, out, f"precision={compute}")) == 0
    fp32, bf16 = losses(runs["fp32"]), losses(runs["bf16"])
    assert torch.isfinite(bf16).all()
    assert float(((bf16 - fp32).abs() / fp32.abs()).max()) <= TOLERANCE
    assert {v.dtype for v in generator(runs["bf16"]).values()} == {torch.float32}  # its fp32 masters


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_nccl_with_one_process_reduces_and_runs_a_sharded_transformer_as_the_whole_one():
    """What a data-parallel run on GPUs does (engine/data_parallel.py), in one process: a NCCL all-reduce, and an
    FSDP2-sharded transformer (bf16 gathers) whose output, gradients and gathered weights are the whole one's."""
    torch.cuda.set_device(GPU)
    dist.init_process_group("nccl", init_method=f"tcp://127.0.0.1:{free_port()}", rank=0, world_size=1)
    try:
        assert dist.get_backend() == "nccl"
        value = torch.tensor([2.0], device=GPU)
        dist.all_reduce(value)
        assert value.item() == 2.0
        torch.manual_seed(0)
        whole = tiny_transformer("wan", 1).to(GPU)
        sharded = copy.deepcopy(whole)
        data_parallel.shard_model(sharded, "bf16")
        assert data_parallel.is_sharded(sharded)
        gen = torch.Generator().manual_seed(0)
        x, t, text = (torch.randn(2, 1, 16, 16, generator=gen).to(GPU), torch.rand(2, generator=gen).to(GPU),
                      torch.randn(2, 4, 32, generator=gen).to(GPU))
        with precision.compute("bf16", GPU):
            expected, got = wan_velocity(whole, x, t, text), wan_velocity(sharded, x, t, text)
        assert relative_difference(got, expected) <= TOLERANCE
        got.float().square().mean().backward()
        assert all(p.grad is not None for p in sharded.parameters())
        state = data_parallel.full_state_dict(sharded)
        assert state.keys() == whole.state_dict().keys()
        assert all(torch.equal(state[k].cpu(), v.cpu()) for k, v in whole.state_dict().items())
    finally:
        dist.destroy_process_group()
