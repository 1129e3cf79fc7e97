"""Helpers for the tests that run the workflow (snakemake, DVC) on a copy of the repository."""

import os
import subprocess
import sys
from pathlib import Path

import yaml

from phased_dmd.gpu_check import working_tree_copy

BIN = Path(sys.executable).parent  # the environment's snakemake and dvc


def run(args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if check and proc.returncode:
        raise AssertionError(f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def edit_yaml(path: Path, knobs: dict, section: str | None = None) -> None:
    """Set knobs of a YAML file (of one top-level section); nested keys are joined by a double underscore."""
    data = yaml.safe_load(path.read_text())
    for dotted, value in knobs.items():
        node = data[section] if section else data
        *parents, last = dotted.split("__")
        for key in parents:
            node = node[key]
        node[last] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def edit_params(repo: Path, section: str = "figure2", **knobs) -> None:
    edit_yaml(repo / "params.yaml", knobs, section)


def only_students(repo: Path, teachers: list[str], methods: dict) -> None:
    """Train only these students (students.teachers, students.methods, at least two methods), and let every
    table and figure show only them (so that params.yaml stays valid)."""
    edit_params(repo, "students", teachers=teachers, methods=methods)
    data = yaml.safe_load((repo / "params.yaml").read_text())
    names = list(methods)
    for key, shown in data["evaluation"].items():
        if isinstance(shown, dict) and "students" in shown:
            kept = [s for s in shown["students"] if s in methods]
            shown["students"] = names[:2] if "teacher" in shown else (kept or names[:1])
            shown.pop("skip", None)  # it names students no longer shown
    (repo / "params.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


def edit_config(repo: Path, name: str, **knobs) -> None:
    """Defaults that are not in params.yaml: configs/<name>.yaml."""
    edit_yaml(repo / "configs" / f"{name}.yaml", knobs)


def make_repo(dest: Path) -> Path:
    """A fresh git repository in dest holding the project's tracked files, without its results or reports,
    with tiny settings (each job takes seconds)."""
    working_tree_copy(dest)
    edit_params(dest, seeds=[0, 1], train__iterations=40, train__batch_size=128)  # tiny: a few seconds
    edit_params(dest, "toy2d", seeds=[0, 1], pretrain_iterations=30, distill__iterations=4, distill__ttur=1,
                distill__batch_size=64)
    edit_params(dest, "teachers", train__iterations=5, train__batch_size=16)
    edit_params(dest, "students", seeds=[0], distill__iterations=2, distill__batch_size=4, distill__ttur=1)
    data = yaml.safe_load((dest / "params.yaml").read_text())
    for shown in data["evaluation"].values():  # every report at students.seeds, not at its own (more) seeds
        if isinstance(shown, dict) and "students" in shown:
            shown.pop("seeds", None)
    (dest / "params.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    edit_params(dest, "bench", batch_size=4, repeats=1, samples=10)
    edit_config(dest, "classifier", train__iterations=30)
    edit_config(dest, "recognition", per_prompt=2, steps=8)
    run(["git", "init", "-q"], dest)
    commit(dest, "copy")
    return dest


def commit(repo: Path, message: str) -> None:
    run(["git", "add", "-A"], repo)
    run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", message], repo)


def dry_run_jobs(repo: Path, target: str = "reports/figure2.md") -> list[str]:
    out = run(["snakemake", target, "-n", "--cores", "1"], repo).stdout
    return sorted(line[len("rule "):].rstrip(":") for line in out.splitlines() if line.startswith("rule "))
