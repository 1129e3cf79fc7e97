"""Tiny teachers of the real diffusers architectures: train on real data, save, load, sample."""

import pytest
import torch

from phased_dmd.data.fashion_mnist import CLASS_NAMES, fetch, load
from phased_dmd.teachers.flow_model import TeacherInfo, load_teacher, tiny_wan
from phased_dmd.teachers.train import TeacherTrainConfig, sample, train_teacher


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fmnist")
    fetch(folder)
    x, y = load(folder, "train", resolution=16)
    return torch.from_numpy(x[:2048, None]), torch.from_numpy(y[:2048])


def test_tiny_wan_learns_saves_and_loads(images, tmp_path):
    x, y = images
    torch.manual_seed(0)
    model = tiny_wan(TeacherInfo("wan2.1", list(CLASS_NAMES), 16, 1))
    probe = (x[:64], torch.full((64,), 0.5), y[:64])
    noise = torch.randn(64, 1, 16, 16, generator=torch.Generator().manual_seed(1))

    def probe_loss(m):
        with torch.no_grad():
            x_t = 0.5 * probe[0] + 0.5 * noise
            return float((m(x_t, probe[1], probe[2]) - (noise - probe[0])).pow(2).mean())

    before = probe_loss(model)
    model = train_teacher(model, x, y, TeacherTrainConfig(iterations=60, batch_size=32, warmup=10, ema=0.9))
    after = probe_loss(model)
    assert after < 0.7 * before, (before, after)

    model.save(tmp_path / "teacher")
    loaded = load_teacher(tmp_path / "teacher")
    assert loaded.info == model.info
    x_t, t = torch.randn(4, 1, 16, 16), torch.rand(4)
    ids = torch.tensor([0, 3, 7, 9])
    with torch.no_grad():
        torch.testing.assert_close(loaded(x_t, t, ids), model(x_t, t, ids))
        # guidance at scale 1 is the conditional model; at scale 0 the empty prompt's
        torch.testing.assert_close(loaded.guided(x_t, t, ids, 1.0), loaded(x_t, t, ids), atol=1e-5, rtol=1e-4)
        empty = loaded.text_encoder.empty_like(ids)
        torch.testing.assert_close(loaded.guided(x_t, t, ids, 0.0), loaded(x_t, t, empty), atol=1e-5, rtol=1e-4)
    out = sample(loaded, ids, steps=4, generator=torch.Generator().manual_seed(0))
    assert out.shape == (4, 1, 16, 16) and torch.isfinite(out).all()


def test_loading_a_folder_without_a_teacher_says_what_it_needs(tmp_path):
    with pytest.raises(FileNotFoundError, match="teacher.json not found: a teacher folder holds teacher.json, "
                                                "transformer/ and text_encoder/"):
        load_teacher(tmp_path)
