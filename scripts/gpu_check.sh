#!/usr/bin/env bash
# The GPU check (python -m phased_dmd.gpu_check --help): on one NVIDIA GPU, in about 8 minutes, the bf16 matmul
# peak, a Wan-shaped DMD iteration at the largest size that fits with its MFU, the CUDA-only tests and the embedded
# Table 2 end to end; writes reports/gpu.md and reports/gpu.json. Exits non-zero when a part failed.
#
# Usage, from a clone on a GPU machine:  bash scripts/gpu_check.sh [--parts peak,iteration,tests,table2]
# Python: $PYTHON if set, else .venv's when it sees a GPU, else .venv-gpu, created from envs/gpu.txt the first time
# (a CUDA build of torch from PyPI: needs the network, about 5 minutes). Without a GPU, try the code path on the CPU:
# .venv/bin/python -m phased_dmd.gpu_check --dry-run --out /tmp/gpu-check
set -euo pipefail
cd "$(dirname "$0")/.."

if ! nvidia-smi -L >/dev/null 2>&1; then
  echo "scripts/gpu_check.sh: no NVIDIA GPU here (nvidia-smi -L fails); for the CPU dry run:" \
       ".venv/bin/python -m phased_dmd.gpu_check --dry-run --out /tmp/gpu-check" >&2
  exit 2
fi

sees_gpu() { "$1" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())' 2>/dev/null; }
python=${PYTHON:-}
if [ -z "$python" ] && [ -x .venv/bin/python ] && sees_gpu .venv/bin/python; then
  python=.venv/bin/python
fi
if [ -z "$python" ]; then
  stamp=".venv-gpu/.requirements-$(cat envs/gpu.txt pyproject.toml | sha256sum | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    echo "scripts/gpu_check.sh: installing the GPU environment into .venv-gpu (envs/gpu.txt)"
    python3 -m venv .venv-gpu
    .venv-gpu/bin/pip install --quiet --disable-pip-version-check -r envs/gpu.txt
    .venv-gpu/bin/pip install --quiet --disable-pip-version-check --no-deps -e .
    rm -f .venv-gpu/.requirements-*
    touch "$stamp"
  fi
  python=.venv-gpu/bin/python
fi
if ! sees_gpu "$python"; then
  echo "scripts/gpu_check.sh: $python's torch sees no GPU (a CPU build, or a driver too old for its CUDA)" >&2
  exit 2
fi

status=0
PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" "$python" -m phased_dmd.gpu_check "$@" || status=$?
if [ -f reports/gpu.md ]; then
  echo "scripts/gpu_check.sh: report in reports/gpu.md and reports/gpu.json (exit status $status); commit both"
fi
exit "$status"
