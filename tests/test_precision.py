"""bf16 (configs/student.yaml `precision`) on CPU: a phase trains and its losses track fp32's; frozen models are held
in bf16 but for the modules diffusers keeps in fp32; FSDP2 with bf16 trains; a bf16 run killed with SIGKILL
resumes to the weights of an uninterrupted one."""

import os
import signal
import subprocess
import sys
import time

import torch
from safetensors.torch import load_file

from phased_dmd.engine.precision import hold_frozen
from phased_dmd.jobs.student import main
from phased_dmd.teachers.flow_model import load_teacher

TEACHER_KIND = "wan2.2"  # two experts: phase 1 routes the fake's re-noised t to both
TOLERANCE = 0.05  # bf16 keeps 8 significant bits (2^-9 relative rounding); a call of the tiny teacher differs from
# fp32 by 0.5% (relative norm, measured); over these iterations the losses stayed within 0.6% of fp32's (measured),
# and the stale-weights fault (autocast's cache around the loop) put them more than 50% off


def args(root, out, *extra):
    return [f"teacher={root / 'teacher'}", f"data_dir={root / 'fmnist'}", f"out_dir={out}", "phase=1",
            "distill.method=sgts", "distill.iterations=6", "distill.batch_size=8", "distill.ttur=2", *extra]


def losses(out):
    rows = (out / "phase1" / "losses.csv").read_text().splitlines()[1:]
    return torch.tensor([[float(v) for v in row.split(",")[2:]] for row in rows])


def generator(out):
    return {f"{p.parent.name}/{k}": v for p in (out / "phase1" / "generator").rglob("*.safetensors")
            for k, v in load_file(p).items()}


def max_difference(a, b):
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def test_frozen_models_are_held_in_bf16_but_for_the_modules_diffusers_keeps_in_fp32(student_setup):
    teacher = hold_frozen(load_teacher(student_setup / "teacher").experts, "bf16")
    dtypes = {name: p.dtype for name, p in teacher.named_parameters()}
    assert dtypes["0.blocks.0.attn1.to_q.weight"] == torch.bfloat16
    assert dtypes["0.blocks.0.scale_shift_table"] == torch.float32  # Wan's _keep_in_fp32_modules
    assert dtypes["1.condition_embedder.time_embedder.linear_1.weight"] == torch.float32


def test_a_bf16_phase_trains_with_fp32_masters_and_tracks_fp32(student_setup):
    runs = {p: student_setup / f"precision-{p}" for p in ("fp32", "bf16")}
    for precision, out in runs.items():
        assert main(args(student_setup, out, f"precision={precision}")) == 0
    fp32, bf16 = losses(runs["fp32"]), losses(runs["bf16"])
    assert torch.isfinite(bf16).all()
    assert float(((bf16 - fp32).abs() / fp32.abs()).max()) <= TOLERANCE
    trained = generator(runs["bf16"])
    assert {v.dtype for v in trained.values()} == {torch.float32}  # the saved generator is its fp32 masters
    assert max_difference(trained, generator(runs["fp32"])) > 0  # bf16 computed something of its own


def test_sharded_bf16_trains_close_to_one_process(student_setup):
    one, two = student_setup / "bf16-one", student_setup / "bf16-sharded"
    assert main(args(student_setup, one, "precision=bf16")) == 0
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PHASED_DMD_PARALLEL": "shard"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "phased_dmd.jobs.student", *args(student_setup, two, "precision=bf16")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert float(((losses(two) - losses(one)).abs() / losses(one).abs()).max()) <= TOLERANCE


def kill_and_resume(root, name, extra):
    """Run a phase whole, and again killed by SIGKILL after a few checkpoints then restarted; both generators."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    extra = [*extra, "checkpoint_every=1", "distill.iterations=12"]
    student = [sys.executable, "-m", "phased_dmd.jobs.student"]
    whole, killed = root / f"{name}-whole", root / f"{name}-killed"
    subprocess.run([*student, *args(root, whole, *extra)], env=env, check=True, capture_output=True, timeout=600)
    proc = subprocess.Popen([*student, *args(root, killed, *extra)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while max((int(p.name.removeprefix("iter-")) for p in (killed / "phase1" / "checkpoints").glob("iter-*")),
              default=0) < 3:  # killed after a few checkpoints
        assert proc.poll() is None and time.time() < deadline, "the run ended before it could be killed"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "phase1" / "generator").exists()
    rerun = subprocess.run([*student, *args(root, killed, *extra)], env=env, capture_output=True, text=True,
                           timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "resuming phase 1 at iteration" in rerun.stdout
    return generator(whole), generator(killed)


def test_a_bf16_run_killed_resumes_to_the_weights_of_an_uninterrupted_one(student_setup):
    whole, killed = kill_and_resume(student_setup, "bf16", ["precision=bf16"])
    assert max_difference(whole, killed) <= 1e-6


def test_an_unknown_precision_is_refused_before_anything_is_written(student_setup, capsys):
    out = student_setup / "fp16"
    assert main(args(student_setup, out, "precision=fp16")) == 2
    assert "precision: expected one of ['fp32', 'bf16'], got 'fp16'" in capsys.readouterr().err
    assert not out.exists()
