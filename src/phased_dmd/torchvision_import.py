"""Lets torchvision (and so diffusers, lpips and pytorch-fid) import beside torch's CPU wheel.

The registry's torchvision wheels for Linux are CUDA builds. Beside torch's CPU wheel their C++
operators cannot load (libtorch_cuda.so is missing). torchvision 0.28 tolerates that, except that it
registers fake kernels for two of those operators (nms, qnms) without checking, so `import torchvision`
fails with "operator torchvision::nms does not exist", and every package that imports it fails too.
Declaring the two operators' schemas first lets it import. The networks the metrics use (AlexNet,
Inception, RAFT) are plain PyTorch modules; the two operators stay without a kernel, and nothing here
calls them. Where the operators load (a matching build), this does nothing.

Call `allow_torchvision_import()` before importing diffusers, transformers' models, lpips or pytorch-fid.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import torch

NMS_SCHEMA = "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor"  # torchvision's nms and qnms


def allow_torchvision_import() -> None:
    """Declare torchvision's nms and qnms when its own operator library cannot load here."""
    spec = importlib.util.find_spec("torchvision")
    if spec is None or "torchvision" in sys.modules or hasattr(torch.ops.torchvision, "nms"):
        return
    try:
        torch.ops.load_library(str(Path(spec.origin).parent / "_C.so"))
        return
    except OSError:  # a CUDA build beside the CPU torch: its operators cannot load
        pass
    for op in ("nms", "qnms"):
        torch.library.define(f"torchvision::{op}", NMS_SCHEMA)
