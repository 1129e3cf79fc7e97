#!/usr/bin/env bash
# Creates or refreshes .venv, the CPU environment, from envs/cpu.txt (Debian 12, Python 3.11).
# Idempotent: a stamp holding the hash of the requirements skips the install when nothing changed.
# Usage: bash envs/setup-cpu.sh && . .venv/bin/activate
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "envs/setup-cpu.sh: needs Python 3.11 as '$python' (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi

hash() { cat "$@" | sha256sum | cut -c1-16; }
requirements_stamp=".venv/.requirements-$(hash envs/cpu.txt)"
package_stamp=".venv/.package-$(hash pyproject.toml)"
if [ ! -f "$requirements_stamp" ]; then
  echo "envs/setup-cpu.sh: installing the CPU environment into .venv (about 4 minutes the first time)"
  "$python" -m venv .venv
  # (the grep drops warnings about local package mirrors that some machines configure)
  .venv/bin/pip install --quiet --disable-pip-version-check -r envs/cpu.txt 2>&1 | { grep -v "is ignored: it is neither" || true; }
  rm -f .venv/.requirements-*
  touch "$requirements_stamp"
fi
if [ ! -f "$package_stamp" ]; then
  .venv/bin/pip install --quiet --disable-pip-version-check --no-deps -e .
  rm -f .venv/.package-*
  touch "$package_stamp"
fi
