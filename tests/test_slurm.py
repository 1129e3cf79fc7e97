"""Through a real Slurm on localhost: the launcher submits a distillation phase, and a requeue in the
middle of it (preemption) resumes from the checkpoint and ends with the weights of an uninterrupted run."""

import time

import pytest
import submitit
import torch
from safetensors.torch import load_file

from phased_dmd import launch
from phased_dmd.data.fashion_mnist import CLASS_NAMES, fetch
from phased_dmd.student import main as student_main
from phased_dmd.teachers.flow_model import teacher_info, tiny_teacher

pytestmark = pytest.mark.slurm


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("slurm-student")
    fetch(root / "fmnist")
    torch.manual_seed(0)
    tiny_teacher(teacher_info("wan2.1", list(CLASS_NAMES), 16)).save(root / "teacher")
    return root


def student_args(root, out, iterations=30):
    return [f"teacher={root / 'teacher'}", f"data_dir={root / 'fmnist'}", f"out_dir={out}", "phase=1",
            "distill.method=dmd", f"distill.iterations={iterations}", "distill.batch_size=8", "distill.ttur=2",
            "distill.checkpoint_every=5"]


def weights(out):
    return load_file(str(out / "phase1" / "generator" / "transformer" / "diffusion_pytorch_model.safetensors"))


def test_the_launcher_runs_a_phase_on_slurm(slurm, setup, capsys):
    out = setup / "launched"
    code = launch.main(["--cluster", "slurm", "--log-dir", str(out / "submitit"), "--timeout-min", "5",
                        "--deadline-min", "4", "--", "phased_dmd.student", *student_args(setup, out, 4)])
    assert code == 0, capsys.readouterr().err
    assert "(slurm); log:" in capsys.readouterr().out and weights(out)


def test_a_requeued_phase_resumes_and_ends_with_the_uninterrupted_weights(slurm, setup):
    reference = setup / "reference"
    assert student_main(student_args(setup, reference)) == 0

    out = setup / "requeued"
    executor = submitit.AutoExecutor(folder=out / "submitit", cluster="slurm")
    executor.update_parameters(timeout_min=5, name="requeue-test")
    job = executor.submit(launch.ModuleRun("phased_dmd.student", student_args(setup, out)))
    checkpoints = out / "phase1" / "checkpoints"
    deadline = time.monotonic() + 120
    while not list(checkpoints.glob("iter-*")):  # the job is in the middle of the phase
        assert time.monotonic() < deadline, "no checkpoint within 2 minutes"
        time.sleep(0.2)
    job._interrupt()  # what Slurm's preemption signal does: checkpoint, requeue, exit
    launch.wait(job, "slurm", deadline_s=240)

    log = job.paths.stdout.read_text()
    assert "resuming phase 1 at iteration" in log
    ref, got = weights(reference), weights(out)
    assert max(float((ref[k] - got[k]).abs().max()) for k in ref) <= 1e-6
