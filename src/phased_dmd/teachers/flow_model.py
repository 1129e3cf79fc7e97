"""A flow-matching model built on diffusers transformers: velocity v = e - x_0 at (x_t, t, condition).

One transformer (Wan2.1, Qwen-Image) or two with a boundary (Wan2.2's mixture of experts: the
high-noise expert `transformer` for t >= boundary, the low-noise `transformer_2` below, the rule of
diffusers' WanPipeline(boundary_ratio=...)). Every sample is routed by its own t. The same class
holds a distilled generator expert (one transformer) and a fake model (a copy of the teacher).
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from phased_dmd.choices import TEACHER_KINDS
from phased_dmd.engine import data_parallel
from phased_dmd.engine.lora import AdapterView, adapter_spec, attach
from phased_dmd.io import save_tensors
from phased_dmd.kinds import KINDS
from phased_dmd.method.grids import teacher_expert
from phased_dmd.method.guidance import guide
from phased_dmd.teachers.architectures import TRANSFORMER_CLASSES, VELOCITY, tiny_transformer
from phased_dmd.teachers.text import TinyTextEncoder

EXPERT_FOLDERS = ("transformer", "transformer_2")  # diffusers' Wan2.2 layout: high-noise, low-noise
IMAGE_CONDITIONS = "image_conditions.safetensors"  # paper-scale I2V: the latent condition of each prompt's image


@dataclass
class TeacherInfo:
    """teacher.json: what a saved teacher is and how to use it."""

    kind: str  # a key of teachers.kinds.KINDS
    prompts: list[str]  # prompt i is the text of index i
    resolution: int
    channels: int
    architecture: str = "wan"
    task: str = "t2i"  # t2i | t2v | i2v
    frames: int = 1
    item: int = 0  # videos: pixels of the moving item on the canvas
    boundary: float | None = None  # Wan2.2: high-noise expert for t >= boundary
    shift: float = 1.0  # timestep shift its sampler uses
    width: int | None = None  # None: square (resolution x resolution)
    hub: str = ""  # paper scale: the diffusers pipeline (its VAE; a teacher's transformers too) (teachers/hub.py)

    @property
    def shape(self) -> tuple[int, ...]:
        """One sample's shape: (C, H, W) for images, (C, F, H, W) for videos (latents at paper scale)."""
        h, w = self.resolution, self.width or self.resolution
        return (self.channels, h, w) if self.task == "t2i" else (self.channels, self.frames, h, w)


@dataclass
class Condition:
    """What a sample is conditioned on: a prompt index per sample, and the first frame for image-to-video."""

    prompt_ids: Tensor  # (B,), the text encoder's empty prompt for the unconditional branch
    first_frame: Tensor | None = None  # (B, C, H, W)

    def __len__(self) -> int:
        return len(self.prompt_ids)

    def select(self, index: Tensor) -> Condition:
        return Condition(self.prompt_ids[index], None if self.first_frame is None else self.first_frame[index])

    def with_prompts(self, prompt_ids: Tensor) -> Condition:
        return Condition(prompt_ids, self.first_frame)

    def repeat(self, times: int) -> Condition:
        return self.select(torch.arange(len(self)).repeat(times))

    def to(self, device: torch.device) -> Condition:
        return Condition(self.prompt_ids.to(device), None if self.first_frame is None else self.first_frame.to(device))


class FlowModel(nn.Module):
    """Transformer expert(s) + text encoder; call with (x (B, C, H, W) or (B, C, F, H, W), t (B,), Condition).

    Image-to-video at paper scale: `image_conditions` (P, C', F, h, w) holds the latent condition of prompt i's
    image; a Condition without first frames takes them from there by prompt.
    """

    def __init__(self, info: TeacherInfo, experts: list[nn.Module], text_encoder: TinyTextEncoder,
                 image_conditions: Tensor | None = None):
        super().__init__()
        if len(experts) != (1 if info.boundary is None else 2):
            raise ValueError(f"{info.kind}: {len(experts)} experts given; boundary {info.boundary} needs "
                             f"{1 if info.boundary is None else 2}")
        self.info, self.experts, self.text_encoder = info, nn.ModuleList(experts), text_encoder
        self.register_buffer("image_conditions", image_conditions, persistent=False)

    def resolve(self, cond: Condition) -> Condition:
        """The condition with its first frames: given, or the prompts' image conditions (paper-scale I2V)."""
        if cond.first_frame is not None or self.image_conditions is None:
            return cond
        return Condition(cond.prompt_ids, self.image_conditions[cond.prompt_ids])

    def expert_index(self, t: Tensor) -> Tensor:
        """Which expert serves each t: 0 (the only one, or the high-noise one) or 1 (low-noise)."""
        if self.info.boundary is None:
            return torch.zeros_like(t, dtype=torch.long)
        return 1 - teacher_expert(t, self.info.boundary)

    def forward(self, x: Tensor, t: Tensor, cond: Condition) -> Tensor:
        velocity, cond = VELOCITY[self.info.architecture], self.resolve(cond)

        def run(expert: nn.Module, rows: Tensor | slice = slice(None)) -> Tensor:
            part = cond.select(rows)
            mask = self.text_encoder.mask(part.prompt_ids)  # text of varying length (Qwen-Image at paper scale)
            return velocity(expert, x[rows], t[rows], self.text_encoder(part.prompt_ids), part.first_frame,
                            **({} if mask is None else {"text_mask": mask}))

        if len(self.experts) == 1:
            return run(self.experts[0])
        which, out = self.expert_index(t), torch.zeros_like(x)
        rows_of = [(which == i).nonzero().squeeze(1) for i in range(len(self.experts))]
        counts = data_parallel.global_counts([len(rows) for rows in rows_of], self.experts[0])
        for expert, rows, count in zip(self.experts, rows_of, counts):
            if len(rows):
                out = out.index_copy(0, rows, run(expert, rows))
            elif count:  # sharded, and another process's rows need this expert: run it too, on a stand-in row
                out = out + 0 * run(expert, slice(0, 1)).sum()
        return out

    def guided(self, x: Tensor, t: Tensor, cond: Condition, scale: float, form: str = "standard") -> Tensor:
        """Classifier-free guidance; the unconditional branch has the empty prompt (and keeps the first frame)."""
        cond = self.resolve(cond)
        both = Condition(torch.cat([self.text_encoder.empty_like(cond.prompt_ids), cond.prompt_ids]),
                         None if cond.first_frame is None else torch.cat([cond.first_frame, cond.first_frame]))
        v_uncond, v_cond = self(torch.cat([x, x]), torch.cat([t, t]), both).chunk(2)
        return guide(form, v_uncond, v_cond, scale, self.token_patch)

    @property
    def token_patch(self) -> int:
        """The side of the pixel patch one transformer token holds (Qwen-Image; Wan: 1, CFG renorm per pixel)."""
        return self.experts[0].config.patch_size if self.info.architecture == "qwen-image" else 1

    def expert_copy(self, index: int) -> FlowModel:
        """A one-expert model initialised from expert `index` (a generator expert), sharing the text encoder."""
        return FlowModel(replace(self.info, boundary=None), [copy.deepcopy(self.experts[index])], self.text_encoder,
                         self.image_conditions)

    def save(self, folder: Path) -> None:
        """The diffusers layout: transformer/ (and transformer_2/), text_encoder/ via save_pretrained, teacher.json.
        An expert trained as a LoRA adapter saves the adapter alone (engine/lora.py), which names its base.

        In a data-parallel run every process calls it (a sharded expert is gathered whole, in diffusers'
        single-file layout) and the first one writes.
        """
        states = [data_parallel.full_state_dict(e) if data_parallel.is_sharded(e) else None for e in self.experts]
        if not data_parallel.is_main():
            return
        folder.mkdir(parents=True, exist_ok=True)
        for name, expert, state in zip(EXPERT_FOLDERS, self.experts, states):
            if isinstance(expert, AdapterView):
                expert.save(folder / name)
            elif state is None:
                expert.save_pretrained(folder / name)
            else:
                expert.save_config(folder / name)
                save_tensors(folder / name / "diffusion_pytorch_model.safetensors", state)
        self.text_encoder.save_pretrained(folder / "text_encoder")
        if self.image_conditions is not None:
            save_image_conditions(folder, self.image_conditions)
        (folder / "teacher.json").write_text(json.dumps(asdict(self.info), indent=2) + "\n")


def load_adapters(folder: Path, teacher: FlowModel) -> FlowModel:
    """A model saved as LoRA adapters (FlowModel.save of adapter views), its adapters attached to `teacher`'s own
    transformers, which they share (a frozen expert of an earlier phase in a run that trains a later one)."""
    folder, info = Path(folder), read_info(folder)
    views = [attach(teacher.experts[adapter_spec(folder / name)["expert"]], folder / name)
             for name in EXPERT_FOLDERS[: 1 if info.boundary is None else 2]]
    return FlowModel(info, views, teacher.text_encoder, teacher.image_conditions)


def save_image_conditions(folder: Path, conditions: Tensor) -> None:
    """Paper-scale I2V: the latent condition of each prompt's image, beside the model (read by load_teacher)."""
    save_file({"conditions": conditions.cpu().contiguous()}, str(Path(folder) / IMAGE_CONDITIONS))


def read_info(folder: Path) -> TeacherInfo:
    """teacher.json of a saved model."""
    spec = Path(folder) / "teacher.json"
    if not spec.is_file():
        raise FileNotFoundError(f"{spec} not found: a teacher folder holds teacher.json, transformer/ and "
                                "text_encoder/ (written by the teacher rule)")
    info = TeacherInfo(**json.loads(spec.read_text()))
    if info.kind not in TEACHER_KINDS:
        raise ValueError(f"{spec}: unknown teacher kind {info.kind!r}; expected one of {TEACHER_KINDS}")
    return info


def load_expert(folder: Path, index: int, info: TeacherInfo | None = None) -> nn.Module:
    """Transformer `index` of a saved model: its weights (a hub teacher: from its pipeline folder), or a LoRA
    adapter over the expert of the teacher it names (that teacher's base loaded with it)."""
    folder, info = Path(folder), info or read_info(folder)
    root = folder if (folder / EXPERT_FOLDERS[0]).is_dir() else Path(info.hub)  # a hub teacher: its pipeline's
    spec = adapter_spec(root / EXPERT_FOLDERS[index])
    if spec is not None:
        return attach(load_expert(spec["teacher"], spec["expert"]), root / EXPERT_FOLDERS[index], owns_base=True)
    return TRANSFORMER_CLASSES[info.architecture].from_pretrained(root / EXPERT_FOLDERS[index])


def load_teacher(folder: Path) -> FlowModel:
    """Load a model saved by `FlowModel.save`, or a paper-scale teacher written by teachers/hub.py (its
    transformers read from the pipeline folder), with diffusers' from_pretrained (safetensors, no remote code)."""
    folder = Path(folder)
    info = read_info(folder)
    experts = [load_expert(folder, i, info) for i in range(1 if info.boundary is None else 2)]
    images = folder / IMAGE_CONDITIONS
    conditions = load_file(str(images))["conditions"] if images.is_file() else None
    return FlowModel(info, experts, TinyTextEncoder.from_pretrained(folder / "text_encoder"), conditions).eval()


def teacher_info(kind: str, prompts: list[str], resolution: int, channels: int = 1, frames: int = 1,
                 item: int = 0) -> TeacherInfo:
    """The description of an embedded teacher of `kind` (teachers/kinds.py); videos: `frames` frames of
    an item of `item` pixels moving on the canvas."""
    spec = KINDS[kind]
    video = spec.is_video
    return TeacherInfo(kind, prompts, resolution, channels, spec.architecture, spec.task,
                       frames if video else 1, item if video else 0, spec.embedded_boundary)


def tiny_teacher(info: TeacherInfo, text_dim: int = 32, tokens: int = 4) -> FlowModel:
    """A randomly initialised embedded teacher: one or two tiny transformers and a tiny text encoder."""
    experts = [tiny_transformer(info.architecture, info.channels, i2v=info.task == "i2v", text_dim=text_dim)
               for _ in range(1 if info.boundary is None else 2)]
    return FlowModel(info, experts, TinyTextEncoder(len(info.prompts), tokens, text_dim))
