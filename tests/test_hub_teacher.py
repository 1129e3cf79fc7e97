"""Paper-scale teachers through the hub layout (teachers/hub.py), on a tiny Wan2.2 pipeline saved by diffusers
in that layout (the hub itself cannot be reached here): our teacher gives what diffusers' WanPipeline gives."""

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from phased_dmd.diffusers_api import AutoencoderKLWan, WanTransformer3DModel
from phased_dmd.teachers.flow_model import Condition, load_teacher
from phased_dmd.teachers.hub import HubTeacherConfig, decode, fetch_teacher, load_pipeline, load_vae
from phased_dmd.teachers.sampling import sample
from shipped import run_config

PROMPTS = ["a coat", "a dress on a chair"]


def tiny_wan_pipeline(folder, boundary_ratio=0.875, image_to_video=False):
    """A tiny WanPipeline with two experts (Wan2.2's layout; one without a boundary ratio), a tiny UMT5 and a
    word-level tokenizer; or a WanImageToVideoPipeline (Wan2.2-I2V's layout: no image encoder)."""
    from diffusers import FlowMatchEulerDiscreteScheduler, WanImageToVideoPipeline, WanPipeline
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, UMT5Config, UMT5EncoderModel

    torch.manual_seed(0)
    words = ["<pad>", "</s>", "<unk>", "a", "coat", "dress", "on", "chair", "blurry"]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")
    text_encoder = UMT5EncoderModel(UMT5Config(vocab_size=len(words), d_model=16, d_kv=4, d_ff=32, num_layers=2,
                                               num_heads=4, relative_attention_num_buckets=8))
    expert = lambda: WanTransformer3DModel(  # noqa: E731
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=8, in_channels=36 if image_to_video else 16,
        out_channels=16,
        text_dim=16, freq_dim=32, ffn_dim=32, num_layers=2, rope_max_seq_len=32)
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])
    cls = WanImageToVideoPipeline if image_to_video else WanPipeline
    pipe = cls(tokenizer=tokenizer, text_encoder=text_encoder, vae=vae, transformer=expert(),
                       transformer_2=expert() if boundary_ratio else None,
                       scheduler=FlowMatchEulerDiscreteScheduler(shift=1.0),
                       boundary_ratio=boundary_ratio)
    pipe.save_pretrained(folder)
    return load_pipeline(folder, torch.float32)  # as a user has it: read back, in eval mode


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    pipe = tiny_wan_pipeline(root / "Wan2.2-T2V-A14B-Diffusers")
    cfg = run_config("hub_teacher", HubTeacherConfig, kind="wan2.2-t2v", source=str(root / "Wan2.2-T2V-A14B-Diffusers"),
                     out_dir=str(root / "t"), prompts=PROMPTS, images=[], negative_prompt="blurry", height=16,
                     width=32, num_frames=5, max_sequence_length=8, dtype="float32")
    fetch_teacher(cfg)
    return pipe, cfg, load_teacher(root / "t")


def test_the_teacher_reads_the_pipelines_layout(hub):
    pipe, cfg, teacher = hub
    info = json.loads((Path(cfg.out_dir) / "teacher.json").read_text())
    assert info["hub"].endswith("Wan2.2-T2V-A14B-Diffusers") and info["boundary"] == 0.875
    assert teacher.info.shape == (16, 2, 2, 4)  # latents: 5 frames -> 2, 16 x 32 pixels -> 2 x 4
    assert len(teacher.experts) == 2 and teacher.info.shift == 1.0
    for ours, theirs in zip(teacher.experts, (pipe.transformer, pipe.transformer_2)):
        for name, p in theirs.state_dict().items():
            torch.testing.assert_close(ours.state_dict()[name], p)


def test_each_expert_serves_its_side_of_the_boundary_with_the_pipelines_text(hub, gen):
    pipe, cfg, teacher = hub
    embeds, negative = pipe.encode_prompt(PROMPTS, negative_prompt=["blurry"] * 2, max_sequence_length=8)
    x = torch.randn(2, *teacher.info.shape, generator=gen)
    with torch.no_grad():
        for t, expert in ((0.9, pipe.transformer), (0.5, pipe.transformer_2)):
            ts = torch.full((2,), t)
            ours = teacher(x, ts, Condition(torch.tensor([0, 1])))
            torch.testing.assert_close(ours, expert(x, ts * 1000, embeds, return_dict=False)[0])
            empty = teacher(x, ts, Condition(torch.tensor([2, 2])))  # the last index: the negative prompt
            torch.testing.assert_close(empty, expert(x, ts * 1000, negative, return_dict=False)[0])


def test_one_guided_step_and_decode_match_the_pipeline(hub):
    """One Euler step from t = 1 with CFG, then the VAE: our sampler and decoder against WanPipeline's output."""
    pipe, cfg, teacher = hub
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        ours = decode(load_vae(teacher.info.hub), sample(teacher, Condition(torch.tensor([1])), 1, 4.0, generator=gen))
        noise = torch.randn((1, *teacher.info.shape), generator=torch.Generator().manual_seed(3))
        theirs = pipe(prompt=PROMPTS[1], negative_prompt="blurry", height=16, width=32, num_frames=5,
                      num_inference_steps=1, guidance_scale=4.0, latents=noise, max_sequence_length=8,
                      output_type="pt").frames  # (B, F, C, H, W) in [0, 1]
    assert ours.shape == (1, 3, 5, 16, 32)
    torch.testing.assert_close((ours.transpose(1, 2) + 1) / 2, theirs, atol=1e-4, rtol=0)


def test_bad_sources_and_kinds_are_named(tmp_path):
    cfg = run_config("hub_teacher", HubTeacherConfig, kind="wan2.1", source=str(tmp_path), out_dir=str(tmp_path / "t"),
                     prompts=["a"], images=[])
    with pytest.raises(FileNotFoundError, match="model_index.json not found"):
        fetch_teacher(cfg)
    problems = list(dataclasses.replace(cfg, kind="wan2.9", num_frames=6).check())
    assert [p[0] for p in problems] == ["kind", "num_frames"]


STUDENT = ["student=phased"]  # params.yaml: 2 phases, and for wan2.2-t2v the grid shift 7 (s_1 at the boundary)


@pytest.fixture(scope="module")
def hub_student(hub, tmp_path_factory):
    """Both phases of a Phased DMD student of the paper-scale teacher: prompts only, no data folder."""
    from phased_dmd.jobs.student import main

    folder = tmp_path_factory.mktemp("students") / "phased" / "seed0"  # the evaluation reads the name
    common = [f"teacher={hub[1].out_dir}", f"data_dir={folder / 'no-data'}", f"out_dir={folder}", *STUDENT,
              "distill.iterations=2", "distill.ttur=1", "distill.batch_size=2"]
    for phase in (1, 2):
        assert main([*common, f"phase={phase}"]) == 0
    return folder


def test_a_student_distils_from_the_hub_teacher_without_data(hub, hub_student):
    from phased_dmd.jobs.student import load_student

    experts = load_student(hub_student, 2)
    x = torch.randn(1, *hub[2].info.shape)
    assert experts[1](x, torch.ones(1) * 0.3, Condition(torch.tensor([1]))).shape == x.shape
    saved = load_file(str(hub_student / "phase2/generator/transformer/diffusion_pytorch_model.safetensors"))
    name = "proj_out.weight"
    torch.testing.assert_close(experts[1].experts[0].state_dict()[name], saved[name])  # the trained weights
    assert not torch.equal(saved[name], hub[0].transformer_2.state_dict()[name])  # not the teacher's


def test_the_evaluation_measures_decoded_videos_with_the_papers_networks(hub, hub_student, metric_weights, tmp_path,
                                                                         capsys):
    """Base teacher and student of the paper-scale teacher, decoded by its VAE, measured by the paper backend
    (random-weight networks): every measure but those that need held-out data or the embedded judge."""
    from phased_dmd.jobs.evaluate import main

    common = [f"teacher={hub[1].out_dir}", "classifier=none", "data_dir=none", "backend=paper",
              f"weights={metric_weights[0]}", "per_prompt=2", "group=2", "teacher_steps=2", "seeds=[0]"]
    assert main([*common, "source=base", f"out_dir={tmp_path / 'base'}"]) == 0
    assert main([*common, "source=student", f"student={hub_student.parent}", f"out_dir={tmp_path / 'student'}"]) == 0
    for source in ("base", "student"):
        measured = json.loads((tmp_path / source / "metrics.json").read_text())["seeds"]["0"]
        assert set(measured) == {"cosine", "perceptual", "pixel", "flow", "dynamic", "subject_consistency",
                                 "temporal_flickering", "motion_smoothness"}
        assert load_file(str(tmp_path / source / "samples.safetensors"))["seed0"].shape == (4, 3, 5, 16, 32)
        assert load_file(str(tmp_path / source / "features.safetensors"))["seed0/video"].shape == (4, 400)
    assert main([*common, "source=real", f"out_dir={tmp_path / 'real'}"]) == 1
    assert "paper-scale teacher: it has no held-out data" in capsys.readouterr().err


def test_the_teacher_rule_at_paper_scale_fetches_a_local_pipeline(repo, tmp_path):
    """params.yaml teachers.scale: paper, with a local copy as the source: the workflow's teacher rule writes a
    teacher that loads, with the prompts as given (a comma inside one included); Wan2.1 and Qwen-Image."""
    from workflow_repo import edit_params, run

    tiny_wan_pipeline(tmp_path / "Wan2.1-T2V-14B-Diffusers", boundary_ratio=None)
    prompts = ["a coat", "a dress, on a chair", "a coat's chair"]
    edit_params(repo, "teachers", scale="paper", names=["wan2.1"],
                sources={"wan2.1": str(tmp_path / "Wan2.1-T2V-14B-Diffusers")}, prompts=prompts)
    edit_params(repo, "evaluation", backend="paper")
    run(["snakemake", "results/teachers/wan2.1/teacher.json", "--cores", "1"], repo)
    teacher = load_teacher(repo / "results/teachers/wan2.1")
    assert teacher.info.prompts == prompts and teacher.info.boundary is None and len(teacher.experts) == 1
    assert teacher.info.shape == (16, 60, 104)  # an image teacher at 832 x 480: latents of 104 x 60

    from test_hub_qwen import tiny_qwen_pipeline

    tiny_qwen_pipeline(tmp_path / "Qwen-Image")
    edit_params(repo, "teachers", names=["wan2.1", "qwen-image"], sources={"qwen-image": str(tmp_path / "Qwen-Image")})
    run(["snakemake", "results/teachers/qwen-image/teacher.json", "--cores", "1"], repo)
    qwen = load_teacher(repo / "results/teachers/qwen-image")
    assert qwen.info.architecture == "qwen-image" and qwen.info.shape == (16, 60, 104)
    assert qwen.info.prompts == prompts and qwen.text_encoder.config.lengths is not None


def test_table_3_at_paper_scale_from_a_local_pipeline(repo, tmp_path, metric_weights):
    """teachers.scale: paper end to end: the teacher rule fetches the (tiny) pipeline, the students distil without
    data, the evaluations decode and measure with the paper's networks, and Table 3 has no held-out row; a table
    whose teacher has no paper-scale loader stops the DAG with one error."""
    from workflow_repo import edit_config, edit_params, only_students, run

    tiny_wan_pipeline(tmp_path / "Wan2.2-T2V-A14B-Diffusers")
    edit_params(repo, "teachers", scale="paper", names=["wan2.2-t2v"], prompts=PROMPTS,
                sources={"wan2.2-t2v": str(tmp_path / "Wan2.2-T2V-A14B-Diffusers")})
    only_students(repo, ["wan2.2-t2v"], {"sgts": {"method": "sgts"}, "phased": {"method": "phased"}})
    edit_params(repo, "evaluation", backend="paper", weights=str(metric_weights[0]), per_prompt=2, group=2,
                teacher_steps=2, table3__teachers=["wan2.2-t2v"])
    edit_config(repo, "hub_teacher", height=16, width=32, num_frames=5, max_sequence_length=8, dtype="float32")
    run(["snakemake", "reports/table3.md", "--cores", "2"], repo)
    table3 = json.loads((repo / "reports/table3.json").read_text())
    assert set(table3["rows"]) == {"base", "sgts", "phased"}
    assert set(table3["rows"]["phased"]["wan2.2-t2v"]) == {  # no adherence, no held-out data: nothing against data
        "flow", "dynamic", "frechet_teacher", "recall_teacher", "precision_teacher", "coverage_teacher"}
    assert table3["backend"]["name"] == "paper" and "RAFT" in table3["backend"]["flow"]
    bad = run(["snakemake", "-n", "reports/table5.md"], repo, check=False)
    assert bad.returncode == 1 and "teachers ['wan2.2-i2v'] are not all in teachers.names" in bad.stdout + bad.stderr


def test_the_image_to_video_teacher_conditions_on_each_prompts_image_as_the_pipeline(tmp_path):
    """Wan2.2-I2V: the pipeline's latent condition of each prompt's image, saved with the teacher; one guided step
    from t = 1 of our teacher, decoded, against WanImageToVideoPipeline's output for the same image."""
    from diffusers.utils import load_image
    from PIL import Image

    pipe = tiny_wan_pipeline(tmp_path / "Wan2.2-I2V-A14B-Diffusers", boundary_ratio=0.9, image_to_video=True)
    images = []
    for i in range(2):
        pixels = torch.randint(0, 256, (16, 32, 3), generator=torch.Generator().manual_seed(i), dtype=torch.uint8)
        images.append(str(tmp_path / f"image{i}.png"))
        Image.fromarray(pixels.numpy()).save(images[-1])
    cfg = run_config("hub_teacher", HubTeacherConfig, kind="wan2.2-i2v",
                     source=str(tmp_path / "Wan2.2-I2V-A14B-Diffusers"), out_dir=str(tmp_path / "t"), prompts=PROMPTS, images=images, negative_prompt="blurry",
                     height=16, width=32, num_frames=5, max_sequence_length=8, dtype="float32")
    fetch_teacher(cfg)
    teacher = load_teacher(tmp_path / "t")
    assert teacher.info.task == "i2v" and teacher.info.boundary == 0.9
    assert teacher.image_conditions.shape == (2, 20, 2, 2, 4)  # 4 mask channels + 16 latent channels
    with torch.no_grad():
        ours = decode(load_vae(teacher.info.hub),
                      sample(teacher, Condition(torch.tensor([1])), 1, 4.0, generator=torch.Generator().manual_seed(3)))
        noise = torch.randn((1, *teacher.info.shape), generator=torch.Generator().manual_seed(3))
        theirs = pipe(image=load_image(images[1]), prompt=PROMPTS[1], negative_prompt="blurry", height=16, width=32,
                      num_frames=5, num_inference_steps=1, guidance_scale=4.0, latents=noise, max_sequence_length=8,
                      output_type="pt").frames
    torch.testing.assert_close((ours.transpose(1, 2) + 1) / 2, theirs, atol=1e-4, rtol=0)
    problems = list(dataclasses.replace(cfg, prompts=["a", "b"], images=["x"]).check())
    assert [p[0] for p in problems] == ["images"]
    from phased_dmd.jobs.student import load_student, main  # a phase of a student: its expert keeps the conditions

    assert main([f"teacher={tmp_path / 't'}", f"data_dir={tmp_path}", f"out_dir={tmp_path / 's'}", "phase=1",
                 "student=phased", "distill.shift=9.0", "distill.iterations=1", "distill.ttur=1",
                 "distill.batch_size=2"]) == 0
    torch.testing.assert_close(load_student(tmp_path / "s", 1)[0].image_conditions, teacher.image_conditions)
