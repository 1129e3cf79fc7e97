"""DVC over the workflow on a copy of the repository: checkpoints pushed to a folder remote and to an S3
remote (moto's server on 127.0.0.1) come back byte-identical in a fresh clone, where nothing retrains;
`dvc exp run -S` runs an ablation that `dvc exp show` lists."""

import csv
import hashlib
import io
import socket
import subprocess
import time
from pathlib import Path

import boto3
import pytest

from workflow_repo import BIN, commit, dry_run_jobs, edit_params, only_students, run

pytestmark = pytest.mark.workflow

CACHED = ("data/fashion-mnist", "results/teachers", "results/classifier", "results/students")


@pytest.fixture
def s3(monkeypatch):
    """An S3 endpoint served by moto on 127.0.0.1, with one bucket; credentials in the environment."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                boto3.client("s3", endpoint_url=url).create_bucket(Bucket="phased-dmd")
                break
            except Exception:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


def digests(repo: Path) -> dict[str, str]:
    """SHA-256 of every file DVC caches (submitit's job folders are .dvcignore'd logs)."""
    return {str(path.relative_to(repo)): hashlib.sha256(path.read_bytes()).hexdigest()
            for folder in CACHED for path in sorted((repo / folder).rglob("*"))
            if path.is_file() and "submitit" not in path.parts}


def test_push_and_pull_restore_byte_identical_checkpoints_and_nothing_retrains(repo: Path, tmp_path: Path, s3):
    edit_params(repo, "teachers", names=["wan2.1"])
    only_students(repo, ["wan2.1"], {"phased": {"method": "phased", "num_phases": 2}, "dmd": {"method": "dmd"}})
    commit(repo, "one teacher, one student")
    run(["dvc", "repro", "students"], repo)
    run(["dvc", "remote", "add", "folder", str(tmp_path / "store")], repo)
    run(["dvc", "remote", "add", "s3", "s3://phased-dmd/store"], repo)
    run(["dvc", "remote", "modify", "s3", "endpointurl", s3], repo)
    for remote in ("folder", "s3"):
        run(["dvc", "push", "-r", remote], repo)
    commit(repo, "trained; remotes")
    expected = digests(repo)
    assert any(name.endswith(".safetensors") and "/checkpoints/" in name for name in expected)

    for remote in ("folder", "s3"):
        clone = tmp_path / f"clone-{remote}"
        run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
        # --allow-missing: stages never reproduced (table2 here) have no hashes to pull
        run(["dvc", "pull", "--allow-missing", "-r", remote], clone)
        assert digests(clone) == expected
        assert "up to date" in run(["dvc", "status", "students"], clone).stdout
        # pulled files carry the time of the pull: mark them up to date once, then nothing reruns
        run(["snakemake", "students", "reports/teachers.md", "--touch", "--cores", "1"], clone)
        assert dry_run_jobs(clone, "students") == [] and dry_run_jobs(clone, "reports/teachers.md") == []


def test_exp_run_sets_a_knob_and_exp_show_lists_it(repo: Path):
    run(["dvc", "exp", "run", "figure2", "-S", "figure2.s=0.6", "-n", "s-0.6"], repo)
    rows = list(csv.DictReader(io.StringIO(run(["dvc", "exp", "show", "--csv"], repo).stdout)))
    row = next(r for r in rows if r["Experiment"] == "s-0.6")
    assert row["figure2.s"] == "0.6"
    assert (repo / "reports/figure2.md").exists()
