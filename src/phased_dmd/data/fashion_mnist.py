"""Fashion-MNIST: obtained from Debian's package `dataset-fashion-mnist` (or a local folder),
read from its idx files, and brought to the embedded scale's resolution.

The ten class names serve as the prompts of the tiny text-to-image and text-to-video teachers.
Images are padded from 28 to 32 pixels and average-pooled to `resolution` (16 by default: a 4x4
patch grid gives 16 tokens, which keeps a tiny transformer teacher trainable on two CPU cores).

    python -m phased_dmd.data.fashion_mnist --dest data/fashion-mnist [--source /path/to/idx/files]
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

CLASS_NAMES: tuple[str, ...] = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                                "Sneaker", "Bag", "Ankle boot")
FILES = {("train", "images"): "train-images-idx3-ubyte.gz", ("train", "labels"): "train-labels-idx1-ubyte.gz",
         ("test", "images"): "t10k-images-idx3-ubyte.gz", ("test", "labels"): "t10k-labels-idx1-ubyte.gz"}
DEBIAN_PACKAGE = "dataset-fashion-mnist"
PACKAGE_DIR = Path("usr/share/datasets/fashion-mnist")


class DataError(RuntimeError):
    """The data set cannot be obtained or read; the message says how to fix it."""


def fetch(dest: Path, source: Path | None = None) -> None:
    """Put the four idx files in `dest`: copied from `source`, else unpacked from the Debian package."""
    if source is not None:
        missing = [name for name in FILES.values() if not (Path(source) / name).is_file()]
        if missing:
            raise DataError(f"{source} lacks the Fashion-MNIST files {missing}; point data.fashion_mnist in "
                            f"params.yaml at a folder holding {sorted(FILES.values())}")
        _install(Path(source), dest)
        return
    with tempfile.TemporaryDirectory() as tmp:
        try:
            _apt_download(Path(tmp))
        except (OSError, subprocess.CalledProcessError) as e:
            raise DataError(
                f"could not obtain Fashion-MNIST: `apt-get download {DEBIAN_PACKAGE}` failed ({e}). Either install "
                f"the package's files some other way and set data.fashion_mnist in params.yaml to the folder "
                f"holding {sorted(FILES.values())}, or run on a Debian machine that reaches its package registry"
            ) from None
        _install(Path(tmp) / "root" / PACKAGE_DIR, dest)


def _apt_download(tmp: Path) -> None:
    """apt-get download + dpkg -x into tmp/root (refreshing the package lists once if needed)."""
    download = ["apt-get", "download", DEBIAN_PACKAGE]
    if subprocess.run(download, cwd=tmp, capture_output=True).returncode:
        subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True)
        subprocess.run(download, cwd=tmp, check=True, capture_output=True)
    (deb,) = tmp.glob("*.deb")
    subprocess.run(["dpkg", "-x", str(deb), str(tmp / "root")], check=True, capture_output=True)


def _install(folder: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for name in FILES.values():
        part = dest / f".{name}.part"
        shutil.copyfile(folder / name, part)
        read_idx(part)  # refuse a corrupt file before it lands
        part.replace(dest / name)


def read_idx(path: Path) -> np.ndarray:
    """An idx file (gzip-compressed): magic 0x00000801 (labels) or 0x00000803 (images), big-endian sizes."""
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: not a readable gzip idx file ({e})") from None
    if len(raw) < 8 or raw[:2] != b"\x00\x00" or raw[2] != 0x08 or raw[3] not in (1, 3):
        raise DataError(f"{path}: not an idx file of unsigned bytes (bad magic number)")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise DataError(f"{path}: holds {data.size} values, its header says {shape}")
    return data.reshape(shape)


def downsample(images: np.ndarray, resolution: int) -> np.ndarray:
    """uint8 (N, 28, 28) -> float32 (N, resolution, resolution) in [-1, 1]: pad to a multiple, average-pool.

    The pooling factor is k = ceil(28 / resolution); the 28 x 28 image is padded with black to
    resolution * k (16: pad to 32, pool 2; 10: pad to 30, pool 3).
    """
    if not 1 <= resolution <= 28:
        raise ValueError(f"resolution must be between 1 and 28, got {resolution}")
    k = -(-28 // resolution)
    before = (resolution * k - 28) // 2
    after = resolution * k - 28 - before
    padded = np.pad(images.astype(np.float32) / 127.5 - 1.0, ((0, 0), (before, after), (before, after)),
                    constant_values=-1.0)
    return padded.reshape(len(images), resolution, k, resolution, k).mean(axis=(2, 4))


def load(folder: Path, split: str = "train", resolution: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, resolution, resolution) in [-1, 1] and labels (N,) of one split."""
    images = read_idx(Path(folder) / FILES[(split, "images")])
    labels = read_idx(Path(folder) / FILES[(split, "labels")])
    if len(images) != len(labels):
        raise DataError(f"{folder}: {len(images)} {split} images but {len(labels)} labels")
    return downsample(images, resolution), labels.astype(np.int64)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dest", type=Path, default=Path("data/fashion-mnist"), help="where the idx files go")
    ap.add_argument("--source", type=Path, default=None, help="a folder with the idx files (skips apt-get)")
    args = ap.parse_args(argv)
    try:
        fetch(args.dest, args.source)
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"Fashion-MNIST: {sorted(FILES.values())} in {args.dest}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
