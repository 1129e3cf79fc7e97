"""params.yaml's `paper_scale` section: the assumptions of the cost model (torch-free, for the DAG)."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING

from phased_dmd import config as C

PAPER_TABLES = ("table2", "table3", "table4", "table5", "table6")  # the paper's tables the cost model prices


@dataclass
class PaperScaleParams:
    """params.yaml, section `paper_scale`: what a paper-scale run is assumed to be (reports/paper_scale.md)."""

    gpus: int = MISSING  # GPUs of one run (FSDP shards), each with its own samples
    batch_per_gpu: int = MISSING
    iterations: int = MISSING  # generator updates per phase
    mfu: float = MISSING  # share of the GPU's bf16 peak the run achieves
    lora_rank: int = MISSING
    lora_targets: list[str] = field(default_factory=list)  # linear layers with adapters (peft's target_modules)
    shard_counts: list[int] = field(default_factory=list)  # the memory table's columns

    def check(self):
        for key in ("gpus", "batch_per_gpu", "iterations", "lora_rank"):
            yield from C.positive(key, getattr(self, key))
        if not 0 < self.mfu <= 1:
            yield "mfu", "a share in (0, 1]", self.mfu
        yield from C.non_empty_unique("lora_targets", self.lora_targets)
        yield from C.non_empty_unique("shard_counts", self.shard_counts)
        for i, shards in enumerate(self.shard_counts):
            yield from C.positive(f"shard_counts[{i}]", shards)
