"""LoRA roles through peft: a generator expert or a fake model trained as a low-rank adapter over the teacher's
own transformer, which every role shares (the paper's "MoE overhead is manageable with LoRA").

One frozen base transformer carries one named adapter per role (`generator1`, `fake1`, ...). An `AdapterView` is
a role's handle on it: calling it runs the base with that role's adapter alone (None: the base, the teacher);
its parameters and state dict are that adapter's weights only, so an optimiser, a checkpoint and a saved
generator hold the adapter and nothing of the base.

    base.add_adapter(lora_config(...), "generator1")  # peft, through diffusers' PeftAdapterMixin
    view = AdapterView(base, "generator1")            # a module: view(x, t, ...) == base with generator1 only

Switching sets the adapter that peft's LoRA layers run, and nothing else: peft's own `set_adapter` and
`disable_adapters` also mark the inactive adapters' weights as not requiring gradients, which would drop the
gradient of an update whose graph was built before the next role's call (the teacher's and the fake's come
between the generator's forward and its backward).
"""

from __future__ import annotations

import contextlib
import json
import warnings
from pathlib import Path

from safetensors.torch import load_file
from torch import nn

from phased_dmd.io import save_tensors
from phased_dmd.torchvision_import import allow_torchvision_import

allow_torchvision_import()  # peft imports transformers' models, which import torchvision

from peft import LoraConfig  # noqa: E402
from peft.tuners.tuners_utils import BaseTunerLayer  # noqa: E402
from peft.utils import get_peft_model_state_dict, set_peft_model_state_dict  # noqa: E402

ADAPTER_WEIGHTS, ADAPTER_SPEC = "adapter.safetensors", "adapter.json"


def lora_config(rank: int, alpha: float, targets: list[str], dropout: float) -> LoraConfig:
    """peft's LoRA of the given rank over the named linear layers; B starts at zero, so the adapted model starts
    as the base (LightX2V's choice: A gaussian)."""
    return LoraConfig(r=rank, lora_alpha=alpha, target_modules=list(targets), lora_dropout=dropout,
                      init_lora_weights="gaussian")


def add_adapter(base: nn.Module, name: str, config: LoraConfig) -> None:
    """Add a named adapter to a diffusers transformer (its base weights frozen by peft)."""
    with warnings.catch_warnings():  # peft warns on every adapter after the first: several are the design here
        warnings.filterwarnings("ignore", message="Already found a `peft_config` attribute")
        base.add_adapter(config, adapter_name=name)


def activate(base: nn.Module, name: str | None) -> None:
    """Let the LoRA layers in `base` run adapter `name` alone (None: none, the base itself)."""
    for layer in base.modules():
        if isinstance(layer, BaseTunerLayer):
            layer._disable_adapters = name is None
            if name is not None:
                layer._active_adapter = [name]


@contextlib.contextmanager
def base_only(model: nn.Module):
    """Within it, the transformers of `model` (a teacher) run their base weights, no adapter (a role's view
    activates its own adapter again at its next call)."""
    activate(model, None)
    yield


class AdapterView(nn.Module):
    """One role's adapter on a shared base transformer: a module whose call runs the base with that adapter and
    whose parameters are the adapter's weights. `spec` names the base (teacher folder, expert index) and the
    LoRA settings, to save and load the adapter. `owns_base`: the view holds the base too (a student loaded on
    its own, for sampling); otherwise the base belongs to the teacher."""

    def __init__(self, base: nn.Module, name: str, spec: dict, owns_base: bool = False):
        super().__init__()
        self.name, self.spec = name, spec
        if owns_base:
            self.base = base
        else:
            object.__setattr__(self, "base", base)  # not a submodule: not this role's weights
        self.adapter = nn.ModuleDict({path.replace(".", "/"): part for path, part in base.named_modules()
                                      if path.endswith((f"lora_A.{name}", f"lora_B.{name}"))})
        if not len(self.adapter):
            raise ValueError(f"the base transformer has no adapter {name!r}")

    @property
    def config(self):
        return self.base.config

    def forward(self, *args, **kwargs):
        activate(self.base, self.name)
        out = self.base(*args, **kwargs)
        first = out[0] if isinstance(out, tuple) else out.sample if hasattr(out, "sample") else out
        if first.requires_grad:  # gradient checkpointing reruns the forward in the backward: with this adapter
            first.register_hook(lambda grad: activate(self.base, self.name))
        return out

    def enable_gradient_checkpointing(self) -> None:
        self.base.enable_gradient_checkpointing()

    def save(self, folder: Path) -> None:
        """The adapter's weights (peft's names, without the adapter's name) and its spec, to load it again."""
        folder.mkdir(parents=True, exist_ok=True)
        state = get_peft_model_state_dict(self.base, adapter_name=self.name)
        save_tensors(folder / ADAPTER_WEIGHTS, {k: v.detach().contiguous() for k, v in state.items()})
        (folder / ADAPTER_SPEC).write_text(json.dumps({**self.spec, "name": self.name}, indent=2) + "\n")


def adapter_spec(folder: Path) -> dict | None:
    """The spec of an adapter saved in `folder` (None: the folder holds full weights)."""
    path = Path(folder) / ADAPTER_SPEC
    return json.loads(path.read_text()) if path.is_file() else None


def new_adapter(base: nn.Module, name: str, spec: dict) -> AdapterView:
    """A fresh adapter `name` on `base` with spec's LoRA settings (rank, alpha, targets, dropout), as a view."""
    add_adapter(base, name, lora_config(spec["rank"], spec["alpha"], spec["targets"], spec["dropout"]))
    return AdapterView(base, name, spec)


def attach(base: nn.Module, folder: Path, owns_base: bool = False) -> AdapterView:
    """The adapter saved in `folder` added to `base` under its own name, as a view."""
    spec = adapter_spec(folder)
    name = spec.pop("name")
    add_adapter(base, name, lora_config(spec["rank"], spec["alpha"], spec["targets"], spec["dropout"]))
    found = set_peft_model_state_dict(base, load_file(str(Path(folder) / ADAPTER_WEIGHTS)), adapter_name=name)
    if found.unexpected_keys:
        raise ValueError(f"{folder}/{ADAPTER_WEIGHTS}: weights that fit no layer of the base: "
                         f"{found.unexpected_keys[:3]}")
    return AdapterView(base, name, spec, owns_base)
