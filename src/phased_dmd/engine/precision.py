"""Mixed precision, a run setting (configs/student.yaml `precision`): fp32 throughout, or bf16 compute with fp32
master weights and optimiser states, and the frozen models (the teacher, earlier phases' experts) held in bf16.

bf16 computes under torch.autocast: the trained models keep their fp32 parameters, AdamW its fp32 moments, and
the losses are taken in float32 or float64 (method/dmd.py, method/critic.py). Sharded, FSDP2 gathers the
parameters in bf16 and reduces gradients in fp32 (its MixedPrecisionPolicy).
"""

from __future__ import annotations

import contextlib

import torch
from torch import nn

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def compute(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """Where the models run: autocast to bf16, or nothing to do for fp32.

    Without its cache: autocast keeps the bf16 copy of each weight until the outermost autocast region exits,
    so around a training loop it would compute every update with the weights of the first one (measured: the
    generator loss a third of fp32's from the first iteration)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=DTYPES[precision], cache_enabled=False)


def hold_frozen(module: nn.Module, precision: str) -> nn.Module:
    """A frozen model's weights in the compute precision (half the memory in bf16), but for the submodules a
    diffusers model keeps in float32 (`_keep_in_fp32_modules`: Wan's norms, time embedder, rope), as its
    from_pretrained(torch_dtype=...) does; and for the LoRA adapters being trained inside it (roles over the
    frozen teacher: engine/lora.py), which keep their float32 values exactly."""
    trained = [(p, p.data) for name, p in module.named_parameters() if "lora_" in name and p.requires_grad]
    nn.Module.to(module, DTYPES[precision])  # nn.Module's own: diffusers' `to` warns about those submodules
    for parameter, data in trained:
        parameter.data = data
    for model in module.modules():
        keep = set(getattr(model, "_keep_in_fp32_modules", None) or [])
        for name, parameter in model.named_parameters():
            if keep & set(name.split(".")):  # matched by name, as diffusers' from_pretrained does
                parameter.data = parameter.data.float()
    return module


def sharding_policy(precision: str):
    """FSDP2's mixed precision: parameters gathered in the compute precision, gradients reduced in fp32."""
    from torch.distributed.fsdp import MixedPrecisionPolicy

    return MixedPrecisionPolicy(param_dtype=DTYPES[precision], reduce_dtype=torch.float32)
