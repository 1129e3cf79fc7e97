"""One transformer call measured on the meta device: the real diffusers model, built from its published config
without allocating a weight or computing a number, counted as it runs.

- FLOPs: torch's FlopCounterMode over the forward and the backward (matmuls, convolutions, attention).
- Memory kept for backward: every tensor autograd saves (saved_tensors_hooks), each storage once, parameters
  excluded. Attention runs through the flash-attention operator, as on a GPU in bf16, so what it keeps is
  q, k, v, the output and its log-sum-exp; the meta device would otherwise take the math fallback and keep
  the N x N attention matrix, which no GPU run holds.
- Gradient checkpointing keeps each block's inputs (measured by a hook on every block) and, while a block is
  recomputed in the backward, that block's saved tensors (the largest block's).
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils import flop_counter
from torch.utils.flop_counter import FlopCounterMode

from phased_dmd.engine.precision import DTYPES, hold_frozen
from phased_dmd.teachers.architectures import TRANSFORMER_CLASSES, VELOCITY

BLOCKS = {"wan": "blocks", "qwen-image": "transformer_blocks"}  # the repeated blocks of each transformer


@dataclass(frozen=True)
class CallCost:
    """One call of a transformer on a batch, with gradient (batch 1 unless said)."""

    tokens: int  # latent patches of the video or image (text tokens not counted)
    forward_flops: float
    backward_flops: float  # gradients of the weights and of the input
    saved_bytes: float  # kept for the backward without checkpointing
    block_input_bytes: float  # kept for the backward with gradient checkpointing: every block's inputs
    largest_block_bytes: float  # one block's saved tensors, held again while it is recomputed

    def activations(self, checkpointing: bool) -> float:
        """Bytes held for the backward of one call."""
        return self.block_input_bytes + self.largest_block_bytes if checkpointing else self.saved_bytes


def meta_transformer(architecture: str, config: dict, precision: str = "bf16") -> nn.Module:
    """The diffusers transformer of `config` (its published config.json values) on the meta device."""
    with torch.device("meta"):
        model = TRANSFORMER_CLASSES[architecture].from_config(config)
    return hold_frozen(model, precision)


def _cpu_attention(query, key, value, *args, out_shape=None, **kwargs) -> int:
    return flop_counter.sdpa_flop_count(query, key, value)


def _cpu_attention_backward(grad_out, query, key, value, *args, out_shape=None, **kwargs) -> int:
    return flop_counter.sdpa_backward_flop_count(grad_out, query, key, value)


def flop_count() -> FlopCounterMode:
    """torch's FlopCounterMode (matrix products, convolutions, attention), counting the CPU's fused attention
    kernel as the GPU's flash kernel is counted (FlopCounterMode leaves it out: a CPU's attention counted 0)."""
    return FlopCounterMode(display=False, custom_mapping={
        torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_attention,
        torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward: _cpu_attention_backward})


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _flash_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None,
                     dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                     enable_gqa: bool = False) -> Tensor:
    """scaled_dot_product_attention through the flash kernel's operator (its meta kernel here)."""
    if attn_mask is not None:  # Qwen-Image's text mask: the memory-efficient kernel keeps the same tensors
        return torch.ops.aten._scaled_dot_product_efficient_attention(
            query, key, value, attn_mask.expand(query.shape[0], query.shape[1], query.shape[2], key.shape[2])
            .to(query.dtype), True, dropout_p, is_causal, scale=scale)[0]
    return torch.ops.aten._scaled_dot_product_flash_attention(query, key, value, dropout_p, is_causal, False,
                                                              scale=scale)[0]


@contextlib.contextmanager
def flash_attention() -> Iterator[None]:
    original = F.scaled_dot_product_attention
    F.scaled_dot_product_attention = _flash_attention
    try:
        yield
    finally:
        F.scaled_dot_product_attention = original


class SavedTensors:
    """Bytes autograd saves for the backward: in all, per block, and the inputs of the blocks."""

    def __init__(self, model: nn.Module, blocks: nn.ModuleList):
        self.excluded = {p.untyped_storage()._cdata for p in model.parameters()}
        self.seen: dict[int, int] = {}
        self.per_block: dict[int, int] = defaultdict(int)
        self.inputs: dict[int, int] = {}
        self.block: int | None = None
        self.handles = [handle for index, block in enumerate(blocks) for handle in (
            block.register_forward_pre_hook(self._enter(index), with_kwargs=True),
            block.register_forward_hook(self._leave, with_kwargs=True))]

    def remove(self) -> None:
        """Take the hooks off the blocks (a model is measured at several sizes)."""
        for handle in self.handles:
            handle.remove()

    def _enter(self, index: int):
        def hook(module, args, kwargs):
            self.block = index
            for value in (*args, *kwargs.values()):
                for tensor in (value if isinstance(value, tuple) else (value,)):
                    if isinstance(tensor, Tensor):
                        self.inputs[tensor.untyped_storage()._cdata] = tensor.untyped_storage().nbytes()
        return hook

    def _leave(self, module, args, kwargs, output):
        self.block = None

    def pack(self, tensor: Tensor) -> Tensor:
        key = tensor.untyped_storage()._cdata
        if key not in self.excluded and key not in self.seen:
            self.seen[key] = tensor.untyped_storage().nbytes()
            if self.block is not None:
                self.per_block[self.block] += self.seen[key]
        return tensor


def call_inputs(architecture: str, config: dict, latent: tuple[int, ...], text_tokens: int,
                dtype: torch.dtype, batch: int = 1) -> dict:
    """Meta inputs of one call: latents (B, C, F, h, w) for Wan (B, C, h, w) for Qwen-Image, a timestep, text
    states; Wan image-to-video (in_channels above out_channels) adds the pipeline's latent condition."""
    def empty(*shape):
        return torch.empty(*shape, device="meta", dtype=dtype)

    channels = config["out_channels"]
    text_dim = config["text_dim"] if architecture == "wan" else config["joint_attention_dim"]
    inputs = {"x": empty(batch, channels, *latent), "t": torch.full((batch,), 0.5, device="meta"),
              "text": empty(batch, text_tokens, text_dim)}
    if architecture == "wan" and config["in_channels"] > channels:
        inputs["first_frame"] = empty(batch, config["in_channels"] - channels, *latent)
    if architecture == "qwen-image":
        inputs["text_mask"] = torch.ones(batch, text_tokens, dtype=torch.long, device="meta")
    return inputs


def tokens_of(architecture: str, config: dict, latent: tuple[int, ...]) -> int:
    """Latent patches: Wan's patch (f, p, p) over (F, h, w); Qwen-Image's p x p over (h, w)."""
    patch = config["patch_size"] if architecture == "wan" else (config["patch_size"],) * 2
    tokens = 1
    for size, p in zip(latent, patch):
        tokens *= size // p
    return tokens


def measure_call(architecture: str, model: nn.Module, latent: tuple[int, ...], text_tokens: int,
                 precision: str = "bf16", batch: int = 1) -> CallCost:
    """FLOPs and saved memory of one call with gradient of `model` (meta_transformer at `precision`) on latents
    of `latent`."""
    inputs = call_inputs(architecture, model.config, latent, text_tokens, DTYPES[precision], batch)
    saved = SavedTensors(model, getattr(model, BLOCKS[architecture]))
    try:
        with flash_attention(), torch.autograd.graph.saved_tensors_hooks(saved.pack, lambda tensor: tensor):
            with FlopCounterMode(display=False) as forward:
                out = VELOCITY[architecture](model, **inputs)
    finally:
        saved.remove()
    with FlopCounterMode(display=False) as backward:
        out.float().sum().backward()
    return CallCost(tokens=tokens_of(architecture, model.config, latent) * batch,
                    forward_flops=float(forward.get_total_flops()), backward_flops=float(backward.get_total_flops()),
                    saved_bytes=float(sum(saved.seen.values())), block_input_bytes=float(sum(saved.inputs.values())),
                    largest_block_bytes=float(max(saved.per_block.values())))


def block_parameters(architecture: str, model: nn.Module) -> int:
    """Parameters of one repeated block: what FSDP gathers at a time."""
    return parameter_count(getattr(model, BLOCKS[architecture])[0])


def adapter_parameters(model: nn.Module, rank: int, targets: list[str]) -> int:
    """Parameters of rank-r LoRA adapters (A: r x in, B: out x r) on the linear layers named by `targets`,
    matched as peft matches target_modules: the module's name is a target or ends with '.' + a target."""
    return sum(rank * (module.in_features + module.out_features) for name, module in model.named_modules()
               if isinstance(module, nn.Linear) and any(name == t or name.endswith("." + t) for t in targets))
