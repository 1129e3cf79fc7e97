"""Data-parallel distillation on CPU processes (gloo): two processes, each with half the batch, end with the
weights and losses of one process with the whole batch; gradients are averaged by the rule that gives that."""

import os
import subprocess
import sys

import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file

from phased_dmd.engine import data_parallel
from phased_dmd.jobs import launch
from phased_dmd.jobs.student import main as student_main

TEACHER_KIND = "wan2.2"  # two experts: the fake's re-noised t routes a shard's samples to one expert or both


def student_args(root, out):
    return [f"teacher={root / 'teacher'}", f"data_dir={root / 'fmnist'}", f"out_dir={out}", "phase=1",
            "distill.method=sgts", "distill.iterations=6", "distill.batch_size=8", "distill.ttur=2",
            "checkpoint_every=3"]


def run_weights(out):
    """The trained generator and the fake (from the last checkpoint), by tensor name."""
    found = {f"generator/{p.parent.name}/{k}": v for p in (out / "phase1" / "generator").rglob("*.safetensors")
             for k, v in load_file(p).items()}
    fake = next((out / "phase1" / "checkpoints").glob("iter-*/fake1.safetensors"))
    return found | {f"fake/{k}": v for k, v in load_file(fake).items()}


def losses(out):
    rows = (out / "phase1" / "losses.csv").read_text().splitlines()[1:]
    return torch.tensor([[float(v) for v in row.split(",")] for row in rows])


def max_difference(a, b):
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).abs().max()) for k in a)


@pytest.fixture(scope="module")
def one_process(student_setup):
    out = student_setup / "one-process"
    assert student_main(student_args(student_setup, out)) == 0
    return out


def test_two_processes_end_with_the_weights_and_losses_of_one(student_setup, one_process):
    out = student_setup / "torchrun"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "phased_dmd.jobs.student", *student_args(student_setup, out)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    one, two = run_weights(one_process), run_weights(out)
    assert max_difference(one, two) <= 1e-5
    torch.testing.assert_close(losses(out), losses(one_process), rtol=1e-5, atol=0)
    assert done.stdout.count("student sgts, phase(s) [1]") == 1  # only the first process reports and writes
    # and the comparison can fail: the training moved the weights well beyond that tolerance
    teacher = load_file(student_setup / "teacher" / "transformer_2" / "diffusion_pytorch_model.safetensors")
    trained = load_file(one_process / "phase1" / "generator" / "transformer_2" / "diffusion_pytorch_model.safetensors")
    assert max_difference(teacher, trained) > 1e-4


def test_sharded_models_end_with_the_weights_of_one_process_and_resume_from_their_gathered_checkpoint(
        student_setup, one_process):
    """PHASED_DMD_PARALLEL=shard: FSDP2 over two processes; checkpoints and generators are written whole."""
    out = student_setup / "sharded"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PHASED_DMD_PARALLEL": "shard"}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                "-m", "phased_dmd.jobs.student"]
    done = subprocess.run([*torchrun, *student_args(student_setup, out)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert max_difference(run_weights(one_process), run_weights(out)) <= 1e-5
    torch.testing.assert_close(losses(out), losses(one_process), rtol=1e-5, atol=0)
    again = subprocess.run([*torchrun, *student_args(student_setup, out)], env=env, capture_output=True, text=True,
                           timeout=300)  # loads the whole checkpoint into the sharded models and optimisers
    assert again.returncode == 0 and "resuming phase 1 at iteration 6" in again.stdout, again.stderr[-3000:]
    assert max_difference(run_weights(one_process), run_weights(out)) <= 1e-5
    ema = subprocess.run([*torchrun, *student_args(student_setup, student_setup / "ema"), "distill.ema=0.99"],
                         env=env, capture_output=True, text=True, timeout=300)
    assert ema.returncode != 0 and "distill.ema with sharded models" in ema.stderr


def test_the_launcher_runs_a_phase_data_parallel_over_its_tasks(student_setup, one_process, capsys):
    out = student_setup / "two-tasks"
    code = launch.main(["--cluster", "local", "--tasks-per-node", "2", "--log-dir", str(out / "submitit"),
                        "--timeout-min", "5", "--", "phased_dmd.jobs.student", *student_args(student_setup, out)])
    assert code == 0, capsys.readouterr().err
    assert max_difference(run_weights(one_process), run_weights(out)) <= 1e-5
    assert len(list((out / "submitit").glob("*_1_log.err"))) == 1  # the second process ran as task 1


def test_a_batch_the_processes_cannot_share_is_refused_before_anything_is_written(student_setup, capsys,
                                                                                   monkeypatch):
    out = student_setup / "uneven"
    monkeypatch.setenv("WORLD_SIZE", "3")
    assert student_main(student_args(student_setup, out)) == 2
    assert "distill.batch_size: expected a multiple of the 3 data-parallel processes (WORLD_SIZE), got 8" \
        in capsys.readouterr().err
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("PHASED_DMD_PARALLEL", "fsdp")
    assert student_main(student_args(student_setup, out)) == 2
    assert "PHASED_DMD_PARALLEL (environment variable): expected one of ['replicate', 'shard'], got 'fsdp'" \
        in capsys.readouterr().err
    assert not out.exists()


def _average_in_two_processes(rank: int, port: int, results) -> None:
    """Rank r's loss (r + 1) * (shared + only_rank_1 if r == 1); `unused` is reached by no process."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE="2")
    torch.distributed.init_process_group("gloo")
    shared, only_rank_1, unused = (torch.nn.Parameter(torch.ones(3)) for _ in range(3))
    loss = (rank + 1) * shared.sum() + (only_rank_1.sum() if rank == 1 else 0)
    loss.backward()
    data_parallel.average_gradients([shared, only_rank_1, unused])
    results[rank] = (shared.grad.tolist(), only_rank_1.grad.tolist(), unused.grad,
                     float(data_parallel.average(loss.detach())))
    torch.distributed.destroy_process_group()


def test_gradients_and_losses_are_averaged_over_the_processes_and_unreached_parameters_keep_none():
    results = mp.Manager().dict()
    mp.spawn(_average_in_two_processes, args=(29000 + os.getpid() % 1000, results), nprocs=2)
    for rank in (0, 1):
        shared, only_rank_1, unused, loss = results[rank]
        assert shared == [1.5] * 3  # (1 + 2) / 2
        assert only_rank_1 == [0.5] * 3  # (0 + 1) / 2: zeros from the process it did not reach
        assert unused is None  # the optimiser skips it, as in one process
        assert loss == pytest.approx((3.0 + 2 * 3.0 + 3.0) / 2)
