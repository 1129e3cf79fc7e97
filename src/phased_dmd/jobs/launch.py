"""Run one project job through submitit: on Slurm, as a local subprocess, or in this process.

    python -m phased_dmd.jobs.launch --cluster slurm --log-dir results/.../submitit --gpus 1 --timeout-min 60 \\
        -- phased_dmd.jobs.student teacher=... phase=1 ...

The job is `phased_dmd.<module>.main(args)`, the same entry the module's command line uses. The
launcher submits it, prints where its log is, waits with its own deadline (a job that dies without
a result is noticed from squeue rather than waited on forever), and exits with the job's status.
On timeout or preemption submitit requeues the job, which resumes from the run's last checkpoint.
Several tasks or nodes get the torch.distributed environment from submitit, and a distillation
phase runs data parallel over them (phased_dmd.engine.data_parallel). Inside a Slurm job the
launcher runs the job in-process instead of nesting a submission. Clusters: `slurm`; `local` (a
subprocess through submitit, no Slurm needed: the default); `debug` (in-process, pdb on failure).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pickle
import shutil
import subprocess
import sys
import time
from pathlib import Path

import submitit

CLUSTERS = ("slurm", "local", "debug")


class LaunchError(RuntimeError):
    """The job could not be submitted, died, or ran past the deadline."""


class ModuleRun(submitit.helpers.Checkpointable):
    """A picklable call of phased_dmd.<module>.main(args); on preemption it is requeued as it was."""

    def __init__(self, module: str, args: list[str]):
        self.module, self.args = module, list(args)

    def __call__(self) -> int:
        if tasks() > 1:  # one process per GPU, on one or more nodes: MASTER_ADDR, RANK, WORLD_SIZE, LOCAL_RANK
            submitit.helpers.TorchDistributedEnvironment().export()
        code = importlib.import_module(self.module).main(self.args)
        if code:
            raise LaunchError(f"{self.module} exited with status {code}")
        return 0


def tasks() -> int:
    """The number of tasks of the submitit job this process is one of (1 outside a submitit job)."""
    try:
        return submitit.JobEnvironment().num_tasks
    except RuntimeError:  # in-process, not inside a job
        return 1


def check_slurm() -> None:
    """A clear error, before anything is submitted, when no Slurm controller answers."""
    if shutil.which("sbatch") is None or shutil.which("squeue") is None:
        raise LaunchError("--cluster slurm: sbatch/squeue not found on this machine; run on a Slurm login node, "
                          "or use --profile local (snakemake) / --cluster debug")
    try:
        subprocess.run(["squeue", "-h", "-u", os.environ.get("USER", "root")], check=True, capture_output=True,
                       timeout=30)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        raise LaunchError(f"--cluster slurm: the Slurm controller does not answer ({e}); is slurmctld running?")


def in_queue(job_id: str) -> bool:
    out = subprocess.run(["squeue", "-h", "-j", job_id, "-o", "%T"], capture_output=True, text=True, timeout=30)
    return out.returncode == 0 and out.stdout.strip() != ""


def wait(job: submitit.Job, cluster: str, deadline_s: float, poll_s: float = 2.0, grace_s: float = 20.0) -> None:
    """Wait for the job's result; raise LaunchError when it fails, vanishes or outlives the deadline.

    On Slurm a failed result counts only once the job has stayed out of the queue for `grace_s`: a
    preempted or timed-out job is requeued, and Slurm's requeue can kill submitit's own `scontrol
    requeue` call, so that run writes a failure just before the job is queued again.
    """
    start = time.monotonic()
    gone_since = None
    parts = [job.task(k) for k in range(job.num_tasks)]  # one per process of a data-parallel job
    while True:
        if time.monotonic() - start > deadline_s:
            job.cancel(check=False)
            raise LaunchError(f"job {job.job_id} ran past the {deadline_s:.0f} s deadline and was cancelled; "
                              f"log: {job.paths.stdout}")
        if cluster != "slurm":
            if job.done():
                break
        elif in_queue(job.job_id):
            gone_since = None
        else:
            gone_since = gone_since or time.monotonic()
            settled = time.monotonic() - gone_since > grace_s
            if all(t.paths.result_pickle.exists() for t in parts) and (settled or all(map(succeeded, parts))):
                break
            if settled:
                raise LaunchError(f"job {job.job_id} left the queue without a result (killed? out of memory?); "
                                  f"log: {job.paths.stdout}, {job.paths.stderr}")
        time.sleep(poll_s)
    for part in parts:
        try:
            part.result()
        except submitit.core.utils.FailedJobError:
            log = part.paths.stderr
            raise LaunchError(f"job {job.job_id} failed: {last_error(log)}; log: {log}") from None


def succeeded(job: submitit.Job) -> bool:
    try:
        return submitit.core.utils.pickle_load(job.paths.result_pickle)[0] == "success"
    except (OSError, EOFError, pickle.UnpicklingError):  # being written
        return False


def last_error(stderr: Path) -> str:
    """The job's own error line (`error: ...` from a phased_dmd module), else the last line of its stderr."""
    lines = [line.strip() for line in stderr.read_text(errors="replace").splitlines() if line.strip()] \
        if stderr.exists() else []
    errors = [line for line in lines if line.startswith("error:")]
    return (errors or lines or ["no output"])[-1].removeprefix("error: ")


def interrupted(job: submitit.Job) -> bool:
    """Did Slurm signal the job for preemption or timeout (submitit logs the signal it caught)?"""
    log = job.paths.stderr
    return log.exists() and "Caught signal SIGUSR2" in log.read_text(errors="replace")


def submit_and_wait(executor: submitit.AutoExecutor, run: ModuleRun, cluster: str, deadline_s: float,
                    requeues: int = 3) -> submitit.Job:
    """Submit and wait; a preempted or timed-out job that Slurm did not requeue is submitted again.

    submitit requeues such a job itself, but its `scontrol requeue` runs inside the job and the requeue
    can kill it first; then the job ends as failed. Either way the run resumes from its last checkpoint.
    """
    attempt = 0
    while True:
        job = executor.submit(run)
        print(f"launch: {run.module} submitted as job {job.job_id} ({cluster}); log: {job.paths.stdout}", flush=True)
        try:
            wait(job, cluster, deadline_s)
            return job
        except LaunchError:
            if cluster != "slurm" or not interrupted(job) or attempt == requeues:
                raise
        attempt += 1
        print(f"launch: job {job.job_id} was preempted or timed out and not requeued; submitting it again")


def launch(module: str, args: list[str], cluster: str, log_dir: Path, parameters: dict, deadline_s: float) -> int:
    run = ModuleRun(module, args)
    if cluster == "slurm" and "SLURM_JOB_ID" in os.environ:
        print(f"launch: already inside Slurm job {os.environ['SLURM_JOB_ID']}: running {module} in-process")
        return run()
    if cluster == "slurm":
        check_slurm()
    executor = submitit.AutoExecutor(folder=log_dir, cluster=cluster)
    executor.update_parameters(**{k: v for k, v in parameters.items() if v is not None})
    job = submit_and_wait(executor, run, cluster, deadline_s)
    print(f"launch: job {job.job_id} finished; log: {job.paths.stdout}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cluster", choices=CLUSTERS, default="local",
                    help="slurm; local (a subprocess, the default); debug (in-process, pdb on failure)")
    ap.add_argument("--log-dir", type=Path, required=True, help="submitit's folder: the job's logs and pickles")
    ap.add_argument("--partition", help="Slurm partition")
    ap.add_argument("--account", help="Slurm account")
    ap.add_argument("--gpus", type=int, default=0, help="GPUs per node")
    ap.add_argument("--nodes", type=int, default=1)
    ap.add_argument("--tasks-per-node", type=int, default=1, help="processes per node (one per GPU for DDP)")
    ap.add_argument("--cpus-per-task", type=int, default=1)
    ap.add_argument("--mem-mb", type=int, help="memory per node")
    ap.add_argument("--timeout-min", type=int, default=60, help="the job's time limit (then: requeue)")
    ap.add_argument("--deadline-min", type=float, help="give up waiting after this long (default: 3 x timeout)")
    ap.add_argument("job", nargs=argparse.REMAINDER, help="-- <module> [key=value ...], e.g. phased_dmd.jobs.student ...")
    opts = ap.parse_args(argv)
    job = opts.job[1:] if opts.job[:1] == ["--"] else opts.job
    if not job or not job[0].startswith("phased_dmd."):
        ap.error("give the job after --: a phased_dmd module and its arguments, e.g. -- phased_dmd.jobs.student ...")
    parameters = {"timeout_min": opts.timeout_min, "nodes": opts.nodes, "tasks_per_node": opts.tasks_per_node,
                  "cpus_per_task": opts.cpus_per_task, "gpus_per_node": opts.gpus or None, "mem_gb": None,
                  "slurm_partition": opts.partition, "slurm_account": opts.account,
                  "slurm_mem": f"{opts.mem_mb}M" if opts.mem_mb else None, "name": job[0].rsplit(".", 1)[-1]}
    if opts.cluster != "slurm":
        parameters = {k: v for k, v in parameters.items() if not k.startswith("slurm_")}
    deadline = 60 * (opts.deadline_min or 3 * opts.timeout_min)
    try:
        return launch(job[0], job[1:], opts.cluster, opts.log_dir, parameters, deadline)
    except (LaunchError, submitit.core.utils.UncompletedJobError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
