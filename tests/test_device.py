"""Where the networks run (device.py): the override, and noise that is the same numbers on any device."""

import torch

from phased_dmd.device import compute_device, model_device, noise_like


def test_the_device_is_the_gpu_when_there_is_one_unless_overridden(monkeypatch):
    monkeypatch.delenv("PHASED_DMD_DEVICE", raising=False)
    assert compute_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    monkeypatch.setenv("PHASED_DMD_DEVICE", "meta")
    assert compute_device() == torch.device("meta")


def test_noise_is_drawn_on_the_cpu_and_placed_beside_its_tensor():
    expected = torch.randn(2, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    here = noise_like(torch.zeros(2, 3, dtype=torch.float64), torch.Generator().manual_seed(0))
    assert torch.equal(here, expected)
    elsewhere = noise_like(torch.zeros(2, 3, device="meta"), torch.Generator().manual_seed(0))
    assert elsewhere.device.type == "meta" and elsewhere.shape == (2, 3)
    assert model_device(torch.nn.Linear(2, 2, device="meta")).type == "meta"
