"""The submitit launcher: runs a project job locally (the code path Slurm uses), reports its failure,
refuses a missing Slurm before submitting, does not nest inside a Slurm job, and never waits forever."""

import types

import pytest
import submitit

from phased_dmd.jobs import launch
from phased_dmd.jobs.launch import LaunchError, main

TOY = ["phased_dmd.toy.figure2", "objective=full", "seed=0", "mixture.weights=[0.5,0.5]", "mixture.means=[-1.0,1.0]",
       "mixture.stds=[0.5,0.5]", "s=0.5", "train.max_weight=100.0", "train.lr=0.002", "train.batch_size=64",
       "eval.samples=2000", "eval.trajectories=2", "train.iterations=20"]


def test_a_local_job_runs_through_submitit_and_leaves_its_log(tmp_path, capsys):
    assert main(["--cluster", "local", "--log-dir", str(tmp_path / "submitit"), "--", *TOY,
                 f"out_dir={tmp_path / 'run'}"]) == 0
    assert (tmp_path / "run" / "metrics.json").exists()
    out = capsys.readouterr().out
    assert "submitted as job" in out and "_log.out" in out
    assert list((tmp_path / "submitit").glob("*_result.pkl"))


def test_a_failing_job_exits_non_zero_with_its_own_error(tmp_path, capsys):
    bad = [a if not a.startswith("objective=") else "objective=exact" for a in TOY]
    assert main(["--log-dir", str(tmp_path), "--", *bad, f"out_dir={tmp_path / 'run'}"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: job ") and "failed: figure2 run config: objective: expected one of" in err
    assert "log:" in err and err.count("\n") == 1


def test_slurm_without_slurm_is_refused_before_submitting(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch here
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    assert main(["--cluster", "slurm", "--log-dir", str(tmp_path / "submitit"), "--", *TOY]) == 1
    assert "sbatch/squeue not found on this machine" in capsys.readouterr().err
    assert not (tmp_path / "submitit").exists()


def test_inside_a_slurm_job_it_runs_in_process(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    monkeypatch.setenv("PATH", str(tmp_path))  # would fail if it tried to submit
    assert main(["--cluster", "slurm", "--log-dir", str(tmp_path / "submitit"), "--", *TOY,
                 f"out_dir={tmp_path / 'run'}"]) == 0
    assert "already inside Slurm job 42" in capsys.readouterr().out and (tmp_path / "run" / "metrics.json").exists()


def test_a_job_past_its_deadline_is_cancelled(tmp_path, capsys):
    slow = [*TOY[:-1], "train.iterations=100000"]
    assert main(["--log-dir", str(tmp_path), "--deadline-min", "0.05", "--", *slow, f"out_dir={tmp_path / 'r'}"]) == 1
    assert "ran past the 3 s deadline and was cancelled" in capsys.readouterr().err


def test_a_slurm_job_that_leaves_the_queue_without_a_result_is_an_error(tmp_path, monkeypatch):
    """A job killed by Slurm (out of memory, node failure) writes no result: waiting must end."""
    monkeypatch.setattr(launch, "in_queue", lambda job_id: False)
    for tasks in ((0,), (0, 1)):  # one process, or a data-parallel job
        job = submitit.SlurmJob(tmp_path, "7", tasks=tasks)
        with pytest.raises(LaunchError, match="job 7 left the queue without a result"):
            launch.wait(job, "slurm", deadline_s=60, poll_s=0.01, grace_s=0.05)


def test_the_job_must_be_a_project_module(tmp_path):
    with pytest.raises(SystemExit):
        main(["--log-dir", str(tmp_path), "--", "os.system", "true"])



def test_a_preempted_job_that_slurm_did_not_requeue_is_submitted_again(monkeypatch, tmp_path):
    """submitit's in-job `scontrol requeue` can be killed by the requeue itself: the launcher resubmits."""
    outcomes = iter([LaunchError("failed"), None])

    def fake_wait(job, cluster, deadline_s):
        if (outcome := next(outcomes)) is not None:
            raise outcome

    submitted = []
    executor = types.SimpleNamespace(submit=lambda run: submitted.append(run) or types.SimpleNamespace(
        job_id=str(len(submitted)), paths=types.SimpleNamespace(stdout=tmp_path / "out")))
    monkeypatch.setattr(launch, "wait", fake_wait)
    monkeypatch.setattr(launch, "interrupted", lambda job: True)
    job = launch.submit_and_wait(executor, launch.ModuleRun("phased_dmd.jobs.student", []), "slurm", 60)
    assert job.job_id == "2" and len(submitted) == 2
    monkeypatch.setattr(launch, "interrupted", lambda job: False)  # a plain failure is not retried
    outcomes = iter([LaunchError("failed")])
    with pytest.raises(LaunchError):
        launch.submit_and_wait(executor, launch.ModuleRun("phased_dmd.jobs.student", []), "slurm", 60)
    assert len(submitted) == 3
