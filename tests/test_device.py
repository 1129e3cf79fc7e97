"""Where the networks run (device.py): the override, and noise that is the same numbers on any device."""

import torch

from phased_dmd.draws import noise_like
from phased_dmd.engine.device import compute_device, model_device


def test_each_data_parallel_process_takes_its_own_gpu_unless_overridden(monkeypatch):
    monkeypatch.delenv("PHASED_DMD_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("LOCAL_RANK", "3")
    assert compute_device() == torch.device("cpu")  # no GPU: every process on the CPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert compute_device() == torch.device("cuda", 1)  # 4 processes on a node of 2 GPUs: rank 3 shares GPU 1
    monkeypatch.delenv("LOCAL_RANK")
    assert compute_device() == torch.device("cuda", 0)  # one process: the first GPU
    monkeypatch.setenv("PHASED_DMD_DEVICE", "cpu")
    assert compute_device() == torch.device("cpu")  # the override wins over a GPU
    monkeypatch.setenv("PHASED_DMD_DEVICE", "meta")
    assert compute_device() == torch.device("meta")


def test_noise_is_drawn_on_the_cpu_and_placed_beside_its_tensor():
    expected = torch.randn(2, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    here = noise_like(torch.zeros(2, 3, dtype=torch.float64), torch.Generator().manual_seed(0))
    assert torch.equal(here, expected)
    elsewhere = noise_like(torch.zeros(2, 3, device="meta"), torch.Generator().manual_seed(0))
    assert elsewhere.device.type == "meta" and elsewhere.shape == (2, 3)
    assert model_device(torch.nn.Linear(2, 2, device="meta")).type == "meta"
