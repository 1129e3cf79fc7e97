"""Fashion-MNIST from Debian's package: the real files, read and downsampled; bad files refused."""

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest

from phased_dmd.data.fashion_mnist import CLASS_NAMES, FILES, DataError, downsample, fetch, load, read_idx


@pytest.fixture(scope="module")
def fmnist(tmp_path_factory) -> Path:
    """The real data set, unpacked from `apt-get download dataset-fashion-mnist` once per session."""
    dest = tmp_path_factory.mktemp("fashion-mnist")
    fetch(dest)
    return dest


def test_the_real_data_set(fmnist):
    images, labels = load(fmnist, "train", resolution=16)
    assert images.shape == (60_000, 16, 16) and images.dtype == np.float32
    assert -1.0 <= images.min() and images.max() <= 1.0
    assert np.bincount(labels).tolist() == [6000] * 10 and len(CLASS_NAMES) == 10
    test_images, test_labels = load(fmnist, "test", resolution=8)
    assert test_images.shape == (10_000, 8, 8) and np.bincount(test_labels).tolist() == [1000] * 10


def test_downsampling_is_padding_then_block_means():
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    out = downsample(raw, 16)
    scaled = raw.astype(np.float64) / 127.5 - 1.0
    # pixel (5, 7) of the 16x16 image averages padded rows 10-11, columns 14-15 = raw rows 8-9, cols 12-13
    assert out[1, 5, 7] == pytest.approx(scaled[1, 8:10, 12:14].mean(), abs=1e-6)
    assert out[2, 0, 0] == -1.0  # the 2-pixel border is background
    assert out[2, 1, 1] == pytest.approx(scaled[2, 0:2, 0:2].mean(), abs=1e-6)
    # 10x10: pad 28 -> 30 (1 pixel each side), 3x3 blocks; pixel (4, 2) = raw rows 11-13, cols 5-7
    assert downsample(raw, 10)[0, 4, 2] == pytest.approx(scaled[0, 11:14, 5:8].mean(), abs=1e-6)
    with pytest.raises(ValueError, match="resolution must be between 1 and 28"):
        downsample(raw, 32)


def _write_gz(path: Path, raw: bytes) -> Path:
    with gzip.open(path, "wb") as f:
        f.write(raw)
    return path


@pytest.mark.parametrize(
    "raw,message",
    [(b"\x00\x00\x08\x02" + b"\x00" * 8, "bad magic number"),
     (b"\x00\x00\x08\x01" + (5).to_bytes(4, "big") + b"\x01\x02", "holds 2 values, its header says (5,)")],
)
def test_corrupt_idx_files_are_refused(tmp_path, raw, message):
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_idx(_write_gz(tmp_path / "x.gz", raw))
    (tmp_path / "plain").write_bytes(b"not gzip at all")
    with pytest.raises(DataError, match="not a readable gzip idx file"):
        read_idx(tmp_path / "plain")


def test_a_local_folder_serves_instead_of_the_package(fmnist, tmp_path):
    dest = tmp_path / "copy"
    fetch(dest, source=fmnist)
    assert sorted(p.name for p in dest.iterdir()) == sorted(FILES.values())
    partial = tmp_path / "partial"
    partial.mkdir()
    shutil.copy(fmnist / FILES[("train", "images")], partial)
    with pytest.raises(DataError, match=r"lacks the Fashion-MNIST files .*point data.fashion_mnist in params.yaml"):
        fetch(tmp_path / "none", source=partial)
    assert not (tmp_path / "none").exists()  # nothing half-written


def test_the_command_line_names_both_ways_to_fix_a_missing_source(tmp_path, capsys):
    from phased_dmd.data.fashion_mnist import main

    assert main(["--dest", str(tmp_path / "out"), "--source", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "data.fashion_mnist in params.yaml" in err
    assert not (tmp_path / "out").exists()
