"""Through a real Slurm on localhost: the launcher submits a distillation phase as two data-parallel tasks
(the weights of one process), and a requeue in the middle of a phase (preemption) resumes from the checkpoint
and ends with the weights of an uninterrupted run."""

import subprocess
import sys
import time

import pytest
from safetensors.torch import load_file

from phased_dmd.jobs import launch
from phased_dmd.jobs.student import main as student_main

pytestmark = pytest.mark.slurm


TEACHER_KIND = "wan2.1"


def student_args(root, out, iterations=30):
    return [f"teacher={root / 'teacher'}", f"data_dir={root / 'fmnist'}", f"out_dir={out}", "phase=1",
            "distill.method=dmd", f"distill.iterations={iterations}", "distill.batch_size=8", "distill.ttur=2",
            "checkpoint_every=5"]


def weights(out):
    return load_file(str(out / "phase1" / "generator" / "transformer" / "diffusion_pytorch_model.safetensors"))


def test_the_launcher_runs_a_phase_on_slurm_data_parallel_over_two_tasks(slurm, student_setup, capsys):
    one = student_setup / "one-process"
    assert student_main(student_args(student_setup, one, 4)) == 0
    out = student_setup / "launched"
    code = launch.main(["--cluster", "slurm", "--tasks-per-node", "2", "--log-dir", str(out / "submitit"),
                        "--timeout-min", "5", "--deadline-min", "4", "--",
                        "phased_dmd.jobs.student", *student_args(student_setup, out, 4)])
    assert code == 0, capsys.readouterr().err
    assert "(slurm); log:" in capsys.readouterr().out
    ref, got = weights(one), weights(out)
    assert max(float((ref[k] - got[k]).abs().max()) for k in ref) <= 1e-5
    assert len(list((out / "submitit").glob("*_1_log.err"))) == 1  # the second task ran


def test_a_preempted_phase_is_requeued_resumes_and_ends_with_the_uninterrupted_weights(slurm, student_setup):
    root = student_setup
    reference = root / "reference"
    assert student_main(student_args(root, reference)) == 0

    out = root / "requeued"
    launcher = subprocess.Popen(
        [sys.executable, "-m", "phased_dmd.jobs.launch", "--cluster", "slurm", "--log-dir", str(out / "submitit"),
         "--timeout-min", "5", "--deadline-min", "4", "--", "phased_dmd.jobs.student", *student_args(root, out)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while not list((out / "phase1" / "checkpoints").glob("iter-*")):  # the job is in the middle of the phase
            assert time.monotonic() < deadline and launcher.poll() is None, "no checkpoint within 2 minutes"
            time.sleep(0.2)
        job_id = next((out / "submitit").glob("*_submitted.pkl")).name.split("_")[0]
        for signal in ("SIGTERM", "USR2"):  # what Slurm sends a preempted job
            subprocess.run(["scancel", job_id, "--signal", signal], check=True, timeout=30)
        output, _ = launcher.communicate(timeout=240)
    finally:
        launcher.kill()
    assert launcher.returncode == 0, output
    logs = "".join(p.read_text() for p in (out / "submitit").glob("*_log.out"))
    assert "resuming phase 1 at iteration" in logs
    ref, got = weights(reference), weights(out)
    assert max(float((ref[k] - got[k]).abs().max()) for k in ref) <= 1e-6
