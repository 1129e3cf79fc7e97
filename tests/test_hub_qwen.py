"""Qwen-Image at paper scale (teachers/hub.py) on a tiny QwenImagePipeline saved by diffusers in the hub layout:
its prompts' embeddings vary in length and come with a mask, its latents are packed 2 x 2, its shift is
exp(mu) of its dynamic shifting, its CFG is renormalised, its VAE is AutoencoderKLQwenImage. One guided step of
our teacher, decoded, equals the pipeline's own output."""

import math

import pytest
import torch

from phased_dmd.diffusers_api import DiffusionPipeline
from phased_dmd.jobs.student import main as student_main
from phased_dmd.teachers.architectures import pack_patches
from phased_dmd.teachers.flow_model import Condition, load_teacher
from phased_dmd.teachers.hub import HubTeacherConfig, decode, fetch_teacher, load_vae
from phased_dmd.teachers.sampling import sample
from shipped import run_config

PROMPTS = ["a coat", "a long dress on a wooden chair"]


def tiny_qwen_pipeline(folder):
    """A tiny QwenImagePipeline: a byte-level Qwen2 tokenizer, a tiny Qwen2.5-VL, transformer and VAE, and the
    scheduler settings of Qwen/Qwen-Image (dynamic, exponential shift)."""
    from diffusers import (
        AutoencoderKLQwenImage,
        FlowMatchEulerDiscreteScheduler,
        QwenImagePipeline,
        QwenImageTransformer2DModel,
    )
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2Tokenizer
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    torch.manual_seed(0)
    tokenizer = Qwen2Tokenizer(vocab={c: i for i, c in enumerate(bytes_to_unicode().values())}, merges=[],
                               unk_token=None)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    text_encoder = Qwen2_5_VLForConditionalGeneration(Qwen2_5_VLConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1,
                         rope_scaling={"type": "mrope", "mrope_section": [1, 1, 2]}),
        vision_config=dict(depth=1, hidden_size=16, intermediate_size=16, num_heads=2, out_hidden_size=16)))
    transformer = QwenImageTransformer2DModel(patch_size=2, in_channels=64, out_channels=16, num_layers=2,
                                              attention_head_dim=8, num_attention_heads=2, joint_attention_dim=16,
                                              axes_dims_rope=(2, 2, 4))
    vae = AutoencoderKLQwenImage(base_dim=4, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1)
    scheduler = FlowMatchEulerDiscreteScheduler(base_image_seq_len=256, base_shift=0.5, max_image_seq_len=8192,
                                                max_shift=0.9, shift=1.0, time_shift_type="exponential",
                                                use_dynamic_shifting=True)
    QwenImagePipeline(scheduler=scheduler, vae=vae, text_encoder=text_encoder.eval(), tokenizer=tokenizer,
                      transformer=transformer).save_pretrained(folder)
    return DiffusionPipeline.from_pretrained(str(folder), local_files_only=True)


@pytest.fixture(scope="module")
def qwen(tmp_path_factory):
    root = tmp_path_factory.mktemp("qwen")
    pipe = tiny_qwen_pipeline(root / "Qwen-Image")
    cfg = run_config("hub_teacher", HubTeacherConfig, kind="qwen-image", source=str(root / "Qwen-Image"),
                     out_dir=str(root / "teacher"), prompts=PROMPTS, images=[], negative_prompt="blurry", height=32,
                     width=48, max_sequence_length=1024, dtype="float32")
    fetch_teacher(cfg)
    return root, pipe, load_teacher(root / "teacher")


def test_the_teacher_keeps_each_prompts_embedding_and_length_and_the_shift_of_its_size(qwen):
    root, pipe, teacher = qwen
    assert teacher.info.shape == (16, 4, 6) and teacher.info.architecture == "qwen-image"  # 32 x 48 px / 8
    mu = 0.5 + (0.9 - 0.5) / (8192 - 256) * ((2 * 3) - 256)  # calculate_shift at 6 packed tokens
    assert teacher.info.shift == pytest.approx(math.exp(mu))
    ids = torch.tensor([0, 1, 2])  # the prompts, then the negative prompt
    states, mask = teacher.text_encoder(ids), teacher.text_encoder.mask(ids)
    for i, text in enumerate([*PROMPTS, "blurry"]):
        theirs = pipe.encode_prompt(text, max_sequence_length=1024)[0][0]
        assert int(mask[i].sum()) == len(theirs)  # lengths differ: the mask is not all ones
        torch.testing.assert_close(states[i, : len(theirs)], theirs)
    assert len(set(mask.sum(1).tolist())) > 1


def test_one_guided_step_and_decode_match_the_pipeline(qwen):
    """One Euler step from t = 1 with Qwen-Image's renormalised CFG, then its VAE, against QwenImagePipeline."""
    root, pipe, teacher = qwen
    with torch.no_grad():
        for prompt in (0, 1):
            latents = sample(teacher, Condition(torch.tensor([prompt])), 1, 4.0, "renorm",
                             torch.Generator().manual_seed(3))
            ours = decode(load_vae(teacher.info.hub), latents)
            noise = torch.randn((1, *teacher.info.shape), generator=torch.Generator().manual_seed(3))
            theirs = pipe(prompt=PROMPTS[prompt], negative_prompt="blurry", height=32, width=48,
                          num_inference_steps=1, true_cfg_scale=4.0, latents=pack_patches(noise, 2),
                          output_type="pt").images  # (B, C, H, W) in [0, 1]
            assert ours.shape == (1, 3, 32, 48)
            torch.testing.assert_close((ours + 1) / 2, theirs, atol=1e-4, rtol=0)
    # and the comparison can fail: the standard CFG form gives another image
    standard = decode(load_vae(teacher.info.hub), sample(teacher, Condition(torch.tensor([1])), 1, 4.0, "standard",
                                                           torch.Generator().manual_seed(3)))
    assert float(((standard + 1) / 2 - theirs).abs().max()) > 1e-3


def test_a_student_distils_from_the_qwen_image_teacher_without_data(qwen):
    root, pipe, teacher = qwen
    out = root / "student"
    args = [f"teacher={root / 'teacher'}", "data_dir=unused", f"out_dir={out}", "phase=1", "student=phased",
            "distill.iterations=2", "distill.batch_size=4", "distill.ttur=1", "distill.cfg_form=renorm"]
    assert student_main(args) == 0
    student = load_teacher(out / "phase1" / "generator")
    assert student.info.hub == teacher.info.hub and student.text_encoder.config.lengths is not None
    moved = max(float((a - b).abs().max()) for a, b in zip(student.experts[0].state_dict().values(),
                                                           teacher.experts[0].state_dict().values()))
    assert moved > 0


def test_table_2_at_paper_scale_from_a_local_qwen_image_pipeline(repo, tmp_path, metric_weights):
    """teachers.scale: paper with Qwen-Image end to end through snakemake: the teacher rule encodes the prompts,
    students distil with the renormalised CFG, the evaluations decode with AutoencoderKLQwenImage and measure
    diversity with the paper's networks (DINOv3, LPIPS), and Table 2 has no held-out row."""
    import json

    from workflow_repo import edit_config, edit_params, only_students, run

    tiny_qwen_pipeline(tmp_path / "Qwen-Image")
    edit_params(repo, "teachers", scale="paper", names=["qwen-image"], prompts=PROMPTS,
                sources={"qwen-image": str(tmp_path / "Qwen-Image")})
    only_students(repo, ["qwen-image"], {"sgts": {"method": "sgts"}, "phased": {"method": "phased"}})
    edit_params(repo, "students", distill__cfg_form="renorm")
    edit_params(repo, "evaluation", backend="paper", weights=str(metric_weights[0]), per_prompt=2, group=2,
                teacher_steps=2, teacher_cfg_form="renorm", table2__teachers=["qwen-image"])
    edit_config(repo, "hub_teacher", height=32, width=48, max_sequence_length=64, dtype="float32")
    run(["snakemake", "reports/table2.md", "--cores", "2"], repo)
    table2 = json.loads((repo / "reports/table2.json").read_text())
    assert set(table2["rows"]) == {"base", "sgts", "phased"}
    assert set(table2["rows"]["phased"]["qwen-image"]) == {  # no adherence, no real row: no measure against data
        "cosine", "perceptual", "pixel", "frechet_teacher", "recall_teacher", "precision_teacher", "coverage_teacher"}
    assert table2["backend"]["name"] == "paper" and table2["config"]["teacher_cfg_form"] == "renorm"
