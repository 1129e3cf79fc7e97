"""The sampling command on students trained here: the file holds the student's own few-step sample for the seed,
videos become GIFs, image-to-video takes its first frame from a file, and bad input is refused before writing."""

import numpy as np
import pytest
import torch
from PIL import Image

from phased_dmd.data.fashion_mnist import CLASS_NAMES
from phased_dmd.jobs.student import load_student, sample_student
from phased_dmd.jobs.student import main as student_main
from phased_dmd.method.phases import plan_phases
from phased_dmd.sample import condition, main, student_settings
from phased_dmd.teachers.flow_model import teacher_info, tiny_teacher

TEACHER_KIND = "wan2.1"  # student_setup's teacher (an image teacher); the video one is made below
TINY = ["distill.iterations=2", "distill.batch_size=4", "distill.ttur=1"]


def train(root, teacher, out, method="phased"):
    for phase in (1, 2) if method == "phased" else (1,):
        assert student_main([f"teacher={teacher}", f"data_dir={root / 'fmnist'}", f"out_dir={out}", f"phase={phase}",
                             f"distill.method={method}", "distill.num_phases=2", *TINY]) == 0


@pytest.fixture(scope="module")
def image_student(student_setup):
    train(student_setup, student_setup / "teacher", student_setup / "image-student")
    return student_setup / "image-student"


def test_a_png_holds_the_students_own_sample_for_the_seed(image_student, tmp_path):
    out = tmp_path / "trouser.png"
    assert main(["--student", str(image_student), "--prompt", "Trouser", "--seed", "3", "--out", str(out),
                 "--zoom", "2"]) == 0
    cfg = student_settings(image_student)
    experts = load_student(image_student, len(plan_phases(cfg)))
    own = sample_student(experts, cfg, condition(experts[0], "Trouser", None), torch.Generator().manual_seed(3))[0, 0]
    expected = ((own.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    pixels = np.asarray(Image.open(out))
    assert pixels.shape == (32, 32)
    np.testing.assert_array_equal(pixels[::2, ::2], expected)
    other = tmp_path / "other.png"
    assert main(["--student", str(image_student), "--prompt", "Trouser", "--seed", "4", "--out", str(other)]) == 0
    assert not np.array_equal(np.asarray(Image.open(other))[::8, ::8], expected)  # and another seed differs


def test_an_image_to_video_student_writes_a_gif_from_a_first_frame(student_setup, tmp_path):
    torch.manual_seed(0)  # a video teacher of two experts and a first frame: 3 frames of a 10-pixel item
    tiny_teacher(teacher_info("wan2.2-i2v", list(CLASS_NAMES), 16, frames=3, item=10)).save(tmp_path / "teacher")
    student = tmp_path / "video-student"
    train(student_setup, tmp_path / "teacher", student, method="sgts")
    frame = tmp_path / "frame.png"
    Image.fromarray(np.full((28, 28), 200, dtype=np.uint8)).save(frame)
    out = tmp_path / "bag.gif"
    assert main(["--student", str(student), "--prompt", "Bag", "--image", str(frame), "--out", str(out)]) == 0
    gif = Image.open(out)
    assert gif.n_frames == 3
    assert gif.size == (128, 128)


@pytest.mark.parametrize("args,message", [
    (["--prompt", "Cat", "--out", "x.png"], "--prompt 'Cat': not a prompt of this student; expected one of"),
    (["--prompt", "Bag", "--out", "x.gif"], "--out x.gif: expected a .png file for a t2i student"),
])
def test_bad_input_is_refused_before_anything_is_written(image_student, tmp_path, monkeypatch, capsys, args,
                                                         message):
    monkeypatch.chdir(tmp_path)
    assert main(["--student", str(image_student), *args]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_folder_that_is_not_a_student_is_named(tmp_path, capsys):
    assert main(["--student", str(tmp_path), "--prompt", "Bag", "--out", str(tmp_path / "x.png")]) == 2
    assert f"{tmp_path / 'config.yaml'}: not found; --student expects a student's folder" in capsys.readouterr().err
