"""Paper-scale teachers from the hub: Wan2.1-T2V-14B, Wan2.2-T2V-A14B, Wan2.2-I2V-A14B and Qwen-Image in diffusers'
layout.

The teacher rule at paper scale (params.yaml `teachers.scale: paper`) runs this instead of training:

    python -m phased_dmd.teachers.hub kind=wan2.2-t2v source=Wan-AI/Wan2.2-T2V-A14B-Diffusers \
        out_dir=results/teachers/wan2.2-t2v 'prompts=[a cat surfing a wave, ...]'

`source` is a hub id (downloaded with huggingface_hub, which honours HF_HUB_OFFLINE and its cache) or a
local folder in the same layout (model_index.json, transformer/, transformer_2/ for Wan2.2, vae/,
text_encoder/, tokenizer/, scheduler/). The pipeline's own `encode_prompt` (UMT5; Qwen-Image: Qwen2.5-VL)
encodes the prompts and the negative prompt once; the table of their embeddings is saved as the teacher's
text encoder, so distillation never loads the text model. Qwen-Image's embeddings vary in length: the
table pads them and keeps each one's length, and the transformer gets the mask the pipeline gives it. For
image-to-video, each prompt comes with an image (`images`), and the
pipeline's own `prepare_latents` turns it into its latent condition (first-frame mask and VAE-encoded
video), saved beside the prompts. The transformers are read from the pipeline folder, the boundary from
the pipeline's `boundary_ratio` (Wan2.2: `transformer` serves t >= boundary, `transformer_2` below) and
the timestep shift from its scheduler (Qwen-Image: exp(mu) of its dynamic shift at the image's size,
which is the same map of t). The teacher works in the VAE's latent space; `decode` turns latents into
videos or images in [-1, 1] as the pipelines do (`load_vae`).
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from omegaconf import MISSING
from torch import Tensor

from phased_dmd import config as C
from phased_dmd.choices import TEACHER_KINDS
from phased_dmd.diffusers_api import AutoModel, DiffusionPipeline
from phased_dmd.engine.device import compute_device
from phased_dmd.io import write_json
from phased_dmd.kinds import KINDS, PAPER_SCALE_KINDS
from phased_dmd.runs import params_section, run_main
from phased_dmd.teachers.flow_model import TeacherInfo, save_image_conditions
from phased_dmd.teachers.text import TinyTextEncoder

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass
class HubTeacherConfig:
    """Fetch one paper-scale teacher and encode its prompts (configs/hub_teacher.yaml + overrides); source,
    prompts and images, where the command line leaves them unset, come from `params` (params.yaml teachers.*)."""

    kind: str = MISSING  # wan2.1 | wan2.2 | wan2.2-t2v | wan2.2-i2v | qwen-image
    source: str = MISSING  # hub id or local folder; empty: the paper's model for the kind (teachers/kinds.py)
    out_dir: str = MISSING  # writes teacher.json and text_encoder/ (the encoded prompts)
    params: str = MISSING
    prompts: list[str] = MISSING
    images: list[str] = MISSING  # image-to-video: the first frame of prompt i (a file)
    negative_prompt: str = MISSING  # the unconditional branch of CFG
    height: int = MISSING  # pixels of the generated video or image (the paper's Wan resolution 832 x 480)
    width: int = MISSING
    num_frames: int = MISSING  # 4k + 1
    max_sequence_length: int = MISSING  # text tokens at most (WanPipeline pads to it; Qwen-Image: up to 1024)
    dtype: str = MISSING  # of the transformers and the text table

    def check(self):
        yield from C.choice("kind", self.kind, TEACHER_KINDS)
        if self.kind in TEACHER_KINDS and self.kind not in PAPER_SCALE_KINDS:
            yield "kind", f"a kind with a paper-scale loader {list(PAPER_SCALE_KINDS)}", self.kind
        yield from C.non_empty_unique("prompts", self.prompts)
        if self.kind in KINDS and KINDS[self.kind].task == "i2v" and len(self.images) != len(self.prompts):
            yield "images", f"one image per prompt ({len(self.prompts)}) for image-to-video", self.images
        yield from C.choice("dtype", self.dtype, tuple(DTYPES))
        if (self.num_frames - 1) % 4:
            yield "num_frames", "4k + 1 frames (Wan's VAE compresses time by 4)", self.num_frames


def hub_teacher_knobs(run) -> dict:
    """Where the teacher comes from and the prompts it is distilled on (params.yaml teachers.*)."""
    from phased_dmd.teachers.config import TeachersParams

    teachers = params_section(run.params, "teachers", TeachersParams)
    return {"source": teachers.sources.get(run.kind, ""), "prompts": teachers.prompts,
            "images": teachers.images if KINDS[run.kind].task == "i2v" else []}


def pipeline_folder(source: str, out_dir: Path) -> Path:
    """The pipeline's folder: `source` itself when it is a local folder, else its hub download."""
    if Path(source).is_dir():
        folder = Path(source)
    else:
        from huggingface_hub import snapshot_download

        folder = Path(snapshot_download(source, local_dir=str(out_dir / "hub")))
    if not (folder / "model_index.json").is_file():
        raise FileNotFoundError(f"{folder}/model_index.json not found: a teacher source is a diffusers pipeline "
                                "(a hub id such as Wan-AI/Wan2.1-T2V-14B-Diffusers, or a folder in that layout)")
    return folder


def load_pipeline(folder: Path, dtype: torch.dtype, **components):
    """The diffusers pipeline saved in `folder` (local files only; no remote code); `components` replace its
    own (None: not loaded)."""
    return DiffusionPipeline.from_pretrained(str(folder), torch_dtype=dtype, local_files_only=True, **components)


def scheduler_shift(scheduler) -> float:
    """The timestep shift of a flow scheduler: UniPC's flow_shift (Wan's checkpoints) or FlowMatchEuler's shift."""
    cfg = scheduler.config
    return float(cfg.get("flow_shift") or cfg.get("shift") or 1.0)


@torch.no_grad()
def prompt_table(pipe, prompts: list[str], negative_prompt: str, max_sequence_length: int) -> TinyTextEncoder:
    """The pipeline's text embeddings of every prompt, then the negative prompt (the last, 'empty' index)."""
    embeds, negative = pipe.encode_prompt(prompts, negative_prompt=[negative_prompt] * len(prompts),
                                          do_classifier_free_guidance=True, max_sequence_length=max_sequence_length)
    return text_table(list(torch.cat([embeds, negative[:1]]).cpu()))


@torch.no_grad()
def qwen_prompt_table(pipe, prompts: list[str], negative_prompt: str, max_sequence_length: int) -> TinyTextEncoder:
    """QwenImagePipeline's text embeddings of every prompt, then the negative prompt, each encoded alone (its
    valid tokens only, as the pipeline gives them for one prompt), padded into one table with their lengths."""
    rows = [pipe.encode_prompt(p, max_sequence_length=max_sequence_length)[0][0].cpu()
            for p in [*prompts, negative_prompt]]
    return text_table(rows)


def text_table(rows: list[Tensor]) -> TinyTextEncoder:
    """Embeddings (tokens_i, D) of the prompts and, last, the negative prompt, as a text encoder; rows of
    different lengths are zero-padded and their lengths kept (the mask), rows of one length are kept as they are."""
    tokens, lengths = max(len(r) for r in rows), [len(r) for r in rows]
    table = torch.stack([torch.cat([r, r.new_zeros(tokens - len(r), r.shape[1])]) for r in rows])
    text = TinyTextEncoder(len(rows) - 1, tokens, table.shape[2],
                           None if len(set(lengths)) == 1 else lengths).to(table.dtype)
    text.embed.weight.data.copy_(table.flatten(1))
    return text.requires_grad_(False)


@torch.no_grad()
def image_conditions(pipe, images: list[str], info: TeacherInfo, height: int, width: int, frames: int) -> Tensor:
    """Each image's latent condition (P, 4 + C, F, h, w), made by WanImageToVideoPipeline's own preprocessing
    and prepare_latents (the first-frame mask, then the VAE-encoded first frame followed by zeros)."""
    from diffusers.utils import load_image

    device = compute_device()
    pipe.vae.to(device)
    out = []
    for path in images:
        if not Path(path).is_file():
            raise FileNotFoundError(f"image-to-video: the image {path} (teachers.images) does not exist")
        image = pipe.video_processor.preprocess(load_image(path), height=height, width=width)
        latents = torch.zeros(1, *info.shape)
        out.append(pipe.prepare_latents(image.to(device), 1, info.channels, height, width, frames, torch.float32,
                                        device, None, latents)[1].cpu())
    return torch.cat(out)


def fetch_teacher(cfg: HubTeacherConfig) -> TeacherInfo:
    """Fetch the pipeline, encode the prompts, write teacher.json and text_encoder/ into out_dir."""
    out = Path(cfg.out_dir)
    folder = pipeline_folder(cfg.source or KINDS[cfg.kind].paper_model, out)
    index = json.loads((folder / "model_index.json").read_text())
    expected = KINDS[cfg.kind].paper_pipeline
    if index.get("_class_name") != expected:
        raise ValueError(f"{folder}/model_index.json: a {index.get('_class_name')}, expected {expected} for {cfg.kind}")
    two_experts = index.get("transformer_2", [None])[0] is not None
    if two_experts != (KINDS[cfg.kind].boundary is not None):
        raise ValueError(f"{folder}: {'two' if two_experts else 'one'} transformer(s), but {cfg.kind} has "
                         f"{KINDS[cfg.kind].num_experts}")
    qwen = KINDS[cfg.kind].architecture == "qwen-image"
    skip = {"transformer": None} | ({} if qwen else {"transformer_2": None})
    pipe = load_pipeline(folder, DTYPES[cfg.dtype], **skip)  # the text side only
    pipe.text_encoder.to(compute_device())
    transformer = json.loads((folder / "transformer" / "config.json").read_text())
    info = TeacherInfo(kind=cfg.kind, prompts=list(cfg.prompts), resolution=0, channels=transformer["out_channels"],
                       architecture=KINDS[cfg.kind].architecture, task=KINDS[cfg.kind].task, hub=str(folder.resolve()),
                       boundary=pipe.config.boundary_ratio if two_experts else None)
    if qwen:
        info = qwen_latents(info, pipe, cfg.height, cfg.width)
        text = qwen_prompt_table(pipe, info.prompts, cfg.negative_prompt, cfg.max_sequence_length)
    else:
        spatial, temporal = pipe.vae_scale_factor_spatial, pipe.vae_scale_factor_temporal
        info = replace(info, resolution=cfg.height // spatial, width=cfg.width // spatial,
                       frames=1 if info.task == "t2i" else (cfg.num_frames - 1) // temporal + 1,
                       shift=scheduler_shift(pipe.scheduler))
        text = prompt_table(pipe, info.prompts, cfg.negative_prompt, cfg.max_sequence_length)
    text.save_pretrained(out / "text_encoder")
    if info.task == "i2v":
        save_image_conditions(out, image_conditions(pipe, cfg.images, info, cfg.height, cfg.width, cfg.num_frames))
    write_json(out / "teacher.json", info.__dict__)
    return info


def qwen_latents(info: TeacherInfo, pipe, height: int, width: int) -> TeacherInfo:
    """Qwen-Image's latent size at height x width (even, for its 2 x 2 packing, as its prepare_latents) and its
    shift: the scheduler shifts t by exp(mu), mu from the packed sequence length (the pipeline's calculate_shift)."""
    from diffusers.pipelines.qwenimage.pipeline_qwenimage import calculate_shift

    h, w = (2 * (size // (pipe.vae_scale_factor * 2)) for size in (height, width))
    sched = pipe.scheduler.config
    mu = calculate_shift((h // 2) * (w // 2), sched.get("base_image_seq_len", 256),
                         sched.get("max_image_seq_len", 4096), sched.get("base_shift", 0.5), sched.get("max_shift", 1.15))
    shift = math.exp(mu) if sched.get("use_dynamic_shifting") else scheduler_shift(pipe.scheduler)
    return replace(info, resolution=h, width=w, shift=shift)


def load_vae(folder: Path):
    """The VAE of the pipeline in `folder` (AutoencoderKLWan, AutoencoderKLQwenImage; local files only)."""
    return AutoModel.from_pretrained(str(Path(folder) / "vae"), local_files_only=True).eval()


@torch.no_grad()
def decode(vae, latents: Tensor) -> Tensor:
    """Latents (B, C, F, h, w) -> videos (B, 3, F', H, W), or (B, C, h, w) -> images (B, 3, H, W), in [-1, 1]:
    un-normalised (latents_mean, latents_std) and decoded by the pipeline's VAE, as WanPipeline and
    QwenImagePipeline do."""
    video = latents if latents.ndim == 5 else latents.unsqueeze(2)
    shape = (1, vae.config.z_dim, 1, 1, 1)
    mean, std = (torch.tensor(vae.config[k]).view(shape).to(video) for k in ("latents_mean", "latents_std"))
    out = vae.decode((video * std + mean).to(vae.dtype), return_dict=False)[0].float().clamp(-1, 1)
    return out if latents.ndim == 5 else out[:, :, 0]


def run(cfg: HubTeacherConfig) -> None:
    start = time.time()
    info = fetch_teacher(cfg)
    print(f"teacher {info.kind} from {info.hub}: {len(info.prompts)} prompts encoded, latents {info.shape}, "
          f"boundary {info.boundary}, shift {info.shift}; in {time.time() - start:.0f} s, written to {cfg.out_dir}/")


def main(argv: list[str] | None = None) -> int:
    return run_main("hub_teacher", HubTeacherConfig, run, __doc__, argv, hub_teacher_knobs)


if __name__ == "__main__":
    sys.exit(main())
