"""Pieces every report shares: provenance and the formatting of a cell with its interval."""

from __future__ import annotations

import subprocess


def git_revision() -> str:
    """The commit the inputs came from, marked when code, configs or params differ from it."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout.strip()

    try:
        rev = git("rev-parse", "--short", "HEAD")
        changed = git("status", "--porcelain", "--", "src", "configs", "Snakefile", "params.yaml", "envs")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{rev} with local changes" if changed else rev


def fmt(cell: dict) -> str:
    lo, hi = cell["ci95"]
    return f"{cell['mean']:.4f} [{lo:.4f}, {hi:.4f}]"
