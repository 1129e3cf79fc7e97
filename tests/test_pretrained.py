"""The paper's metric networks (DINOv3, LPIPS's AlexNet, RAFT, FID's Inception, I3D) through their libraries'
own loading code, on random-weight instances saved in the weights folder's layout (the hub cannot be reached
here); and the error when a file is missing."""

import subprocess
import sys

import pytest
import torch

from phased_dmd.metrics import pretrained as P
from phased_dmd.metrics.diversity import mean_pairwise_cosine
from phased_dmd.metrics.motion import mean_absolute_flow

LOADERS = {"dinov3": P.load_dinov3, "alexnet": P.load_lpips, "raft": P.load_raft, "inception": P.load_inception,
           "i3d": P.load_i3d}


def test_torchvision_imports_beside_the_cpu_torch():
    """A fresh interpreter: diffusers, lpips and pytorch-fid import, and torchvision's networks run."""
    code = ("import phased_dmd.diffusers_api, torch, torchvision, lpips, pytorch_fid.inception; "
            "print(tuple(torchvision.models.alexnet()(torch.zeros(1, 3, 64, 64)).shape))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "(1, 1000)"


def test_dinov3_features(metric_weights, gen):
    model = P.load_dinov3(metric_weights[0])
    images = torch.rand(6, 1, 16, 16, generator=gen) * 2 - 1
    feats = P.dinov3_features(model, images)
    assert feats.shape == (6, 32) and torch.isfinite(feats).all()
    same = P.dinov3_features(model, images[:1].repeat(4, 1, 1, 1))  # one image four times: cosine 1
    assert float(mean_pairwise_cosine(same[None])) == pytest.approx(1.0, abs=1e-5)
    rgb = P.dinov3_features(model, images.repeat(1, 3, 1, 1))  # grey is read as RGB with equal channels
    torch.testing.assert_close(rgb, feats)
    assert P.dinov3_features(model, images, size=32).shape == (6, 32)  # resized to what the model expects


def test_lpips_reads_the_alexnet_file_and_is_a_distance(metric_weights, gen):
    folder, states = metric_weights
    model = P.load_lpips(folder)
    torch.testing.assert_close(model.net.slice1[0].weight, states["alexnet"]["features.0.weight"])
    torch.testing.assert_close(model.state_dict()["net.slice5.10.weight"], states["alexnet"]["features.10.weight"])
    a, b = (torch.rand(4, 1, 16, 16, generator=gen) * 2 - 1 for _ in range(2))
    assert torch.equal(P.lpips_distance(model, a, a), torch.zeros(4))
    d = P.lpips_distance(model, a, b)
    assert d.shape == (4,) and (d > 0).all()
    torch.testing.assert_close(P.lpips_distance(model, b, a), d)


def test_raft_reads_its_file_and_gives_flow_in_the_videos_pixels(metric_weights, gen):
    folder, states = metric_weights
    model = P.load_raft(folder)
    torch.testing.assert_close(model.state_dict()["update_block.flow_head.conv2.weight"],
                               states["raft"]["update_block.flow_head.conv2.weight"])
    flow = P.raft_flow(model, torch.rand(1, 3, 16, 16, generator=gen) * 2 - 1)
    assert flow.shape == (2, 16, 16, 2) and mean_absolute_flow(flow) >= 0


def test_raft_flow_is_brought_back_to_the_videos_size():
    """At 16x16 the frames go to RAFT 8x larger: 8 px there are 1 px of the video."""
    class Shift(torch.nn.Module):
        def forward(self, a, b):
            assert a.shape[-2:] == (128, 128)
            return [torch.full((len(a), 2, 128, 128), 8.0)]

    flow = P.raft_flow(Shift(), torch.zeros(1, 5, 16, 16))
    assert flow.shape == (4, 16, 16, 2) and (flow == 1.0).all()


def test_inception_reads_its_file(metric_weights, gen):
    folder, states = metric_weights
    model = P.load_inception(folder)
    torch.testing.assert_close(model.state_dict()["blocks.3.2.branch_pool.conv.weight"],
                               states["inception"]["Mixed_7c.branch_pool.conv.weight"])
    feats = P.inception_features(model, torch.rand(3, 1, 16, 16, generator=gen) * 2 - 1)
    assert feats.shape == (3, 2048) and torch.isfinite(feats).all()


def test_i3d_reads_its_file_and_takes_short_videos(metric_weights, gen):
    folder, states = metric_weights
    model = P.load_i3d(folder)
    torch.testing.assert_close(model.state_dict()["logits.conv3d.weight"], states["i3d"]["logits.conv3d.weight"])
    feats = P.i3d_features(model, torch.rand(2, 1, 5, 16, 16, generator=gen) * 2 - 1)
    assert feats.shape == (2, 400) and torch.isfinite(feats).all()


@pytest.mark.parametrize("name", LOADERS)
def test_missing_weights_name_the_file(tmp_path, name):
    with pytest.raises(P.MissingWeights, match=f"{name} weights not found: {tmp_path}/.* does not exist.*"
                                               "snakemake metric_weights"):
        LOADERS[name](tmp_path)
