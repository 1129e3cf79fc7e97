"""A distillation killed with SIGKILL and restarted resumes from its checkpoint and ends with the
same weights as an uninterrupted run (CPU, same seed)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

KNOBS = ["ring.modes=4", "ring.radius=2.0", "ring.std=0.2", "pretrain_iterations=50", "net.hidden=32",
         "distill.method=phased", "distill.iterations=150", "distill.ttur=1", "distill.batch_size=64",
         "checkpoint_every=10"]


def toy2d(*args: str) -> list[str]:
    return [sys.executable, "-m", "phased_dmd.toy.toy2d", *KNOBS, *args]


def test_sigkill_then_restart_ends_with_the_same_weights(tmp_path: Path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    init = tmp_path / "init"
    subprocess.run(toy2d("stage=pretrain", "seed=0", f"out_dir={init}"), check=True, env=env, timeout=300,
                   capture_output=True)
    distill = ["stage=distill", "seed=0", f"init={init / 'model.safetensors'}"]
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run(toy2d(*distill, f"out_dir={whole}"), check=True, env=env, timeout=300, capture_output=True)

    proc = subprocess.Popen(toy2d(*distill, f"out_dir={killed}"), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not list((killed / "phase2" / "checkpoints").glob("iter-*")):  # kill it inside phase 2
        assert proc.poll() is None and time.time() < deadline, "the run ended before it could be killed"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "metrics.json").exists() and not (killed / "expert2.safetensors").exists()

    rerun = subprocess.run(toy2d(*distill, f"out_dir={killed}"), env=env, timeout=300, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert "resuming phase 2 at iteration" in rerun.stdout
    for name in ("expert1.safetensors", "expert2.safetensors"):
        a, b = load_file(whole / name), load_file(killed / name)
        assert max(float((a[k] - b[k]).abs().max()) for k in a) <= 1e-6
    # and the check can fail: a different seed gives different weights
    other = tmp_path / "other"
    subprocess.run(toy2d(*distill[:1], "seed=1", distill[2], f"out_dir={other}"), check=True, env=env, timeout=300,
                   capture_output=True)
    a, b = load_file(whole / "expert2.safetensors"), load_file(other / "expert2.safetensors")
    assert max(float((a[k] - b[k]).abs().max()) for k in a) > 1e-3
    assert torch.isfinite(torch.cat([v.flatten() for v in b.values()])).all()
