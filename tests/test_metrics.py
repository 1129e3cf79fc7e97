"""The embedded feature network learns Fashion-MNIST; recognition counts exactly what it says."""

import pytest
import torch
from torch import nn

from phased_dmd.data.fashion_mnist import fetch, load
from phased_dmd.metrics.classifier import ClassifierTrainConfig, FeatureNet, predict, train_classifier
from phased_dmd.metrics.recognition import recognition


class Oracle(nn.Module):
    """Names the class written in pixel (0, 0): a classifier whose answers are known."""

    def forward(self, x):
        return nn.functional.one_hot(x[:, 0, 0, 0].long(), 3).float() * 10


def test_recognition_is_the_share_of_samples_named_as_their_prompt():
    prompts = torch.tensor([0, 0, 1, 1, 2, 2])
    samples = torch.zeros(6, 1, 4, 4)
    samples[:, 0, 0, 0] = torch.tensor([0, 1, 1, 1, 0, 0], dtype=torch.float32)
    out = recognition(Oracle(), samples, prompts, ["a", "b", "c"])
    assert out["accuracy"] == pytest.approx(3 / 6) and out["per_class"] == {"a": 0.5, "b": 1.0, "c": 0.0}


def test_a_video_is_named_by_its_frames_on_average():
    video = torch.zeros(1, 1, 3, 4, 4)
    video[0, 0, :, 0, 0] = torch.tensor([2.0, 2.0, 1.0])  # two frames say class 2, one says 1
    probs = predict(Oracle(), video)
    assert probs.shape == (1, 3) and int(probs.argmax()) == 2


def test_the_feature_network_learns_fashion_mnist(tmp_path):
    fetch(tmp_path)
    images, labels = (torch.from_numpy(a) for a in load(tmp_path, "train", 16))
    items = torch.from_numpy(load(tmp_path, "train", 10)[0])
    net = train_classifier(images[:4096, None], items[:4096, None], labels[:4096],
                           ClassifierTrainConfig(iterations=200, batch_size=64, lr=2e-3, video_share=0.5, seed=0))
    test, test_labels = (torch.from_numpy(a) for a in load(tmp_path, "test", 16))
    accuracy = float((predict(net, test[:1000, None]).argmax(1) == test_labels[:1000]).float().mean())
    assert accuracy > 0.5  # chance is 0.1
    assert isinstance(net, FeatureNet) and net.features(test[:2, None]).shape == (2, 128)
