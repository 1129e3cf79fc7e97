"""Tiny teachers of the real diffusers architectures: train on real data, save, load, route, sample."""

import dataclasses

import pytest
import torch

from phased_dmd.data.fashion_mnist import CLASS_NAMES, fetch
from phased_dmd.data.moving import moving_clips
from phased_dmd.kinds import KINDS
from phased_dmd.teachers.architectures import i2v_condition, pack_patches, unpack_patches, wan_velocity
from phased_dmd.teachers.data import load_items, training_batches
from phased_dmd.teachers.flow_model import Condition, load_teacher, teacher_info, tiny_teacher
from phased_dmd.teachers.sampling import sample
from phased_dmd.teachers.train import train_teacher, training_times
from shipped import PARAMS


@pytest.fixture(scope="module")
def fmnist(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fmnist")
    fetch(folder)
    return folder


def _info(kind):
    return teacher_info(kind, list(CLASS_NAMES), 16, frames=3, item=10)


def _inputs(info, n=4, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn((n, *info.shape), generator=gen)
    first = torch.randn((n, info.channels, 16, 16), generator=gen) if info.task == "i2v" else None
    return x, Condition(torch.tensor([0, 3, 7, 9])[:n], first)


def test_tiny_wan_learns_from_fashion_mnist(fmnist):
    info = _info("wan2.1")
    items, labels = load_items(info, fmnist, "train")
    torch.manual_seed(0)
    model = tiny_teacher(info)
    gen = torch.Generator().manual_seed(1)
    x0, cond = training_batches(info, items, labels)(64, gen)
    noise = torch.randn(x0.shape, generator=gen)

    def probe_loss(m):
        with torch.no_grad():
            return float((m(0.5 * x0 + 0.5 * noise, torch.full((64,), 0.5), cond) - (noise - x0)).pow(2).mean())

    before = probe_loss(model)
    cfg = dataclasses.replace(PARAMS.teachers.train, iterations=60, warmup=10, ema=0.9)
    model = train_teacher(model, training_batches(info, items[:2048], labels[:2048]), cfg, batch_size=32)
    assert probe_loss(model) < 0.7 * before


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_saves_loads_and_guides(kind, tmp_path):
    info = _info(kind)
    torch.manual_seed(0)
    model = tiny_teacher(info).eval()
    assert len(model.experts) == KINDS[kind].num_experts
    model.save(tmp_path / kind)
    loaded = load_teacher(tmp_path / kind)
    assert loaded.info == model.info and type(loaded.experts[0]).__name__ == type(model.experts[0]).__name__
    x, cond = _inputs(info)
    t = torch.tensor([0.95, 0.9, 0.3, 0.05])
    with torch.no_grad():
        v = loaded(x, t, cond)
        torch.testing.assert_close(v, model(x, t, cond))
        assert v.shape == x.shape and torch.isfinite(v).all()
        # guidance at scale 1 is the conditional model; at scale 0 the empty prompt's
        torch.testing.assert_close(loaded.guided(x, t, cond, 1.0), v, atol=1e-5, rtol=1e-4)
        empty = cond.with_prompts(loaded.text_encoder.empty_like(cond.prompt_ids))
        torch.testing.assert_close(loaded.guided(x, t, cond, 0.0), loaded(x, t, empty), atol=1e-5, rtol=1e-4)
    out = sample(loaded, cond, steps=3, generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape and torch.isfinite(out).all()


@pytest.mark.parametrize("kind", ["wan2.2", "wan2.2-i2v"])
def test_wan22_routes_each_sample_to_the_expert_of_its_t(kind):
    """High-noise expert (transformer) for t >= boundary, low-noise (transformer_2) below: diffusers' rule."""
    info = _info(kind)
    torch.manual_seed(0)
    model = tiny_teacher(info).eval()
    b = info.boundary
    x, cond = _inputs(info)
    t = torch.tensor([b, b + 0.01, b - 0.01, 0.1])
    text = model.text_encoder(cond.prompt_ids)
    with torch.no_grad():
        v = model(x, t, cond)
        high = wan_velocity(model.experts[0], x, t, text, cond.first_frame)
        low = wan_velocity(model.experts[1], x, t, text, cond.first_frame)
    torch.testing.assert_close(v[:2], high[:2], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(v[2:], low[2:], atol=1e-5, rtol=1e-4)
    assert (v[:2] - low[:2]).abs().max() > 1e-3  # the experts differ, so the routing matters
    copy = model.expert_copy(1)
    assert copy.info.boundary is None and copy.text_encoder is model.text_encoder
    with torch.no_grad():
        torch.testing.assert_close(copy(x, t, cond), low, atol=1e-5, rtol=1e-4)


def test_the_two_expert_teacher_trains_its_high_noise_expert_on_a_set_share():
    t = training_times(20_000, 0.875, 0.25, torch.Generator().manual_seed(0))
    # logit-normal puts 2.6% above 0.875; a 0.25 share drawn in (0.875, 1) adds to it
    assert float((t >= 0.875).float().mean()) == pytest.approx(0.25 + 0.75 * 0.026, abs=0.01)


def test_qwen_patches_pack_row_major_and_unpack_exactly():
    x = torch.arange(2 * 16 * 16, dtype=torch.float32).view(2, 1, 16, 16)
    tokens = pack_patches(x, 4)
    assert tokens.shape == (2, 16, 16)
    torch.testing.assert_close(tokens[0, 5], x[0, 0, 4:8, 4:8].reshape(-1))  # token 5 = patch row 1, column 1
    torch.testing.assert_close(unpack_patches(tokens, 1, 16, 16, 4), x)


def test_i2v_condition_is_a_first_frame_mask_and_the_first_frame():
    first = torch.randn(2, 1, 16, 16)
    cond = i2v_condition(first, 5)
    assert cond.shape == (2, 2, 5, 16, 16)
    assert cond[:, 0, 0].eq(1).all() and cond[:, 0, 1:].eq(0).all()
    torch.testing.assert_close(cond[:, 1, 0], first[:, 0])
    assert cond[:, 1, 1:].eq(0).all()


def test_moving_clips_translate_the_item_at_constant_speed(fmnist):
    info = _info("wan2.2-t2v")
    items, _ = load_items(info, fmnist, "test")
    clips = moving_clips(items[:64], 5, 16, torch.Generator().manual_seed(0))
    assert clips.shape == (64, 1, 5, 16, 16) and clips.min() >= -1 - 1e-6
    mass = (clips + 1).sum(dim=(1, 3, 4))  # the item stays inside the canvas: brightness is kept
    torch.testing.assert_close(mass, (items[:64] + 1).sum(dim=(1, 2, 3))[:, None].expand(-1, 5), rtol=1e-3,
                               atol=1e-2)
    grid = torch.arange(16, dtype=torch.float32)
    w = (clips + 1)[:, 0]
    cx = (w * grid).sum(dim=(2, 3)) / w.sum(dim=(2, 3))  # centre of mass, per frame
    steps = cx.diff(dim=1)
    torch.testing.assert_close(steps, steps[:, :1].expand(-1, 4), atol=0.05, rtol=0)  # constant velocity
    assert steps.abs().max() > 0.5  # and items do move


def test_loading_a_folder_without_a_teacher_says_what_it_needs(tmp_path):
    with pytest.raises(FileNotFoundError, match="teacher.json not found: a teacher folder holds teacher.json, "
                                                "transformer/ and text_encoder/"):
        load_teacher(tmp_path)


def test_the_teacher_run_gives_the_same_weights_twice(fmnist, tmp_path):
    """Same settings, same teacher: the initial weights are seeded too (a fresh clone reproduces the reports)."""
    import hashlib

    from phased_dmd.jobs.teacher import main

    digests = []
    for name in ("a", "b"):
        out = tmp_path / name
        assert main(["kind=wan2.2", "resolution=16", f"out_dir={out}", f"data_dir={fmnist}", f"grid={out}.png",
                     "train.iterations=3", "train.batch_size=8", "sample.per_prompt=1", "sample.steps=2"]) == 0
        digests.append([hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.rglob("*.safetensors"))])
    assert len(digests[0]) == 3 and digests[0] == digests[1]
