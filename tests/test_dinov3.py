"""DINOv3 features (the paper's diversity backbone) through transformers, on a tiny random-weight instance saved
in the hub layout; and the error when the weights are not on the machine."""

import pytest
import torch
import transformers

from phased_dmd.metrics.dinov3 import MissingWeights, dinov3_features, load_dinov3
from phased_dmd.metrics.diversity import mean_pairwise_cosine


@pytest.fixture(scope="module")
def tiny_dinov3(tmp_path_factory):
    torch.manual_seed(0)
    config = transformers.DINOv3ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                          intermediate_size=64, patch_size=4, image_size=16, num_register_tokens=0)
    folder = tmp_path_factory.mktemp("dinov3")
    transformers.DINOv3ViTModel(config).save_pretrained(folder)
    return folder


def test_features_of_saved_weights(tiny_dinov3, gen):
    model = load_dinov3(tiny_dinov3)
    images = torch.rand(6, 1, 16, 16, generator=gen) * 2 - 1
    feats = dinov3_features(model, images)
    assert feats.shape == (6, 32) and torch.isfinite(feats).all()
    same = dinov3_features(model, images[:1].repeat(4, 1, 1, 1))  # one image four times: cosine 1
    assert float(mean_pairwise_cosine(same[None])) == pytest.approx(1.0, abs=1e-5)
    rgb = dinov3_features(model, images.repeat(1, 3, 1, 1))  # grey is read as RGB with equal channels
    torch.testing.assert_close(rgb, feats)
    assert dinov3_features(model, images, size=32).shape == (6, 32)  # resized to what the model expects


def test_missing_weights_name_the_folder(tmp_path):
    with pytest.raises(MissingWeights, match=f"{tmp_path / 'dinov3'}/config.json does not exist.*snapshot_download"):
        load_dinov3(tmp_path / "dinov3")
