"""Pieces every report shares: provenance and the formatting of a cell with its interval."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from phased_dmd.config import ConfigError


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


def report_main(name: str, doc: str, write: Callable[[Any, Path, Path], None], argv: list[str] | None,
                section: str | None = "") -> int:
    """`python -m phased_dmd.reports.<name>`: validate params.yaml, then write(its section, results, out);
    section: which section (default: the report's name), None for all of params.yaml."""
    from phased_dmd.jobs.params import load_params

    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params", default="params.yaml", help="the workflow's params.yaml")
    ap.add_argument("--results", default=f"results/{name}", help="folder of the runs this report reads")
    ap.add_argument("--out", default=f"reports/{name}", help="output stem: writes .md, .json and .png")
    args = ap.parse_args(argv)
    start = time.time()
    try:
        params = load_params(args.params)
        section = params if section is None else getattr(params, section or name)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = Path(args.out)
    write(section, Path(args.results), out)
    print(f"{name} report: {out.with_suffix('.md')} (+ .json, .png) in {time.time() - start:.1f} s")
    return 0
