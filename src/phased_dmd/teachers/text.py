"""A tiny text encoder for the embedded scale: learned token embeddings per prompt.

It stands in for UMT5 (Wan) or Qwen2.5-VL (Qwen-Image): prompt i (a Fashion-MNIST class name) maps
to `tokens` learned vectors of size `dim`; the extra last index is the empty prompt, used for
condition dropout in training and as the unconditional branch of classifier-free guidance. A
diffusers ModelMixin, so it is saved and loaded with save_pretrained / from_pretrained. At paper scale
the same table holds the pipeline's embeddings of a fixed prompt list (teachers/hub.py): UMT5's, zero-padded
to a fixed length as WanPipeline pads them, or Qwen2.5-VL's, whose lengths vary and are kept in `lengths`
(the valid tokens of each row; the rest is padding that a mask hides, as QwenImagePipeline masks it).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from phased_dmd.diffusers_api import ConfigMixin, ModelMixin, register_to_config


class TinyTextEncoder(ModelMixin, ConfigMixin):
    @register_to_config
    def __init__(self, num_prompts: int = 10, tokens: int = 4, dim: int = 32, lengths: list[int] | None = None):
        super().__init__()
        self.embed = nn.Embedding(num_prompts + 1, tokens * dim)
        nn.init.normal_(self.embed.weight, std=0.5)

    @property
    def empty_prompt(self) -> int:
        return self.config.num_prompts

    def forward(self, prompt_ids: Tensor) -> Tensor:
        """(B,) prompt indices (num_prompts = empty) -> (B, tokens, dim) text states."""
        return self.embed(prompt_ids).view(len(prompt_ids), self.config.tokens, self.config.dim)

    def mask(self, prompt_ids: Tensor) -> Tensor | None:
        """(B, tokens) True on each prompt's valid tokens; None when every token is valid (no `lengths`)."""
        if self.config.lengths is None:
            return None
        lengths = torch.tensor(self.config.lengths, device=prompt_ids.device)[prompt_ids]
        return torch.arange(self.config.tokens, device=prompt_ids.device) < lengths[:, None]

    def empty_like(self, prompt_ids: Tensor) -> Tensor:
        return torch.full_like(prompt_ids, self.empty_prompt)
