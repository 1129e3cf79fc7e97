"""One measurement pass of the evaluation (evaluate.measure) with either metric backend, on random videos: the
same measures and saved features come out of the embedded networks and the paper's (random-weight copies)."""

import dataclasses
import math

import pytest
import torch

from phased_dmd.jobs.evaluate import Reference, measure, reference_features
from phased_dmd.jobs.evaluation_config import EVALUATION_KNOBS, EvaluationRunConfig
from phased_dmd.metrics.backends import EmbeddedBackend, PaperBackend, backend
from phased_dmd.metrics.classifier import FeatureNet
from phased_dmd.metrics.pretrained import MissingWeights
from shipped import PARAMS, run_config

PROMPTS = ["T-shirt/top", "Trouser"]


def videos(gen, n=4, frames=5):
    return torch.rand(n, 1, frames, 16, 16, generator=gen) * 2 - 1


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return FeatureNet().eval()


@pytest.fixture(scope="module")
def backends(net, metric_weights):
    return {name: backend(name, net, metric_weights[0]) for name in ("embedded", "paper")}


@pytest.mark.parametrize("name", ["embedded", "paper"])
def test_measure_gives_every_table_measure_with_either_backend(name, net, backends, gen):
    metrics = backends[name]
    assert isinstance(metrics, {"embedded": EmbeddedBackend, "paper": PaperBackend}[name])
    samples, reference = videos(gen), videos(gen, n=6)
    held_out = Reference(reference_features(metrics, reference), reference_features(metrics, reference[:4]),
                         torch.tensor([0, 0, 1, 1]))
    result, features = measure(metrics, net, samples, torch.tensor([0, 0, 1, 1]), PROMPTS, 2, held_out)
    assert set(result) == {"cosine", "perceptual", "pixel", "adherence", "frechet", "flow", "dynamic",
                           "subject_consistency", "temporal_flickering", "motion_smoothness", "precision_data",
                           "recall_data", "density_data", "coverage_data"}
    assert all(math.isfinite(v) for v in result.values())
    assert -1 <= result["cosine"] <= 1 and result["perceptual"] > 0 and 0 <= result["dynamic"] <= 1
    assert all(0 <= result[k] <= 1 for k in ("subject_consistency", "temporal_flickering", "motion_smoothness"))
    width = {"embedded": 128, "paper": 2048}[name]
    assert features["frames"].shape == (4, 5, width) and features["motion"].shape == (4, 4, 2)
    assert ("video" in features) == (name == "paper")
    if name == "paper":
        assert features["video"].shape == (4, 400)
    assert metrics.description["name"] == name


@pytest.mark.parametrize("name", ["embedded", "paper"])
def test_identical_samples_have_cosine_one_and_no_perceptual_distance(name, net, backends, gen):
    same = (torch.rand(1, 1, 16, 16, generator=gen) * 2 - 1).repeat(4, 1, 1, 1)  # one image four times
    ids = torch.tensor([0, 0, 1, 1])
    other = torch.rand(4, 1, 16, 16, generator=gen) * 2 - 1  # four different images
    features = reference_features(backends[name], other)
    result, _ = measure(backends[name], net, same, ids, PROMPTS, 2, Reference(features, features, ids))
    assert result["cosine"] == pytest.approx(1.0, abs=1e-5) and result["perceptual"] == 0.0
    assert result["pixel"] == 0.0
    assert result["recall_data"] == 0.0  # copies of one image: k-NN balls of radius 0 hold no held-out image


def test_the_paper_backend_stops_before_sampling_when_a_file_is_missing(tmp_path):
    (tmp_path / "dinov3").mkdir()
    (tmp_path / "dinov3" / "config.json").write_text("{}")
    with pytest.raises(MissingWeights, match=f"alexnet weights not found: {tmp_path}/checkpoints/alexnet"):
        backend("paper", FeatureNet(), tmp_path)


def test_the_paper_backend_needs_a_weights_folder():
    knobs = {k: getattr(PARAMS.evaluation, k) for k in EVALUATION_KNOBS}
    cfg = run_config("evaluation", EvaluationRunConfig, source="real", teacher="t", classifier="c", data_dir="d",
                     out_dir="o", seeds=[0], distill=None, **knobs)
    cfg = dataclasses.replace(cfg, backend="paper", weights="")
    assert ("weights", "the metric networks' weights folder when backend=paper", "") in list(cfg.check())
    assert [p for p in dataclasses.replace(cfg, backend="raft").check()][0][0] == "backend"
