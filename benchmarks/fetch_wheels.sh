#!/usr/bin/env bash
# Download the wheels that the device image lacks into .whl/ (gitignored), for Python 3.12 x86-64.
# Usage: bash benchmarks/fetch_wheels.sh [--unsloth]
# The device image already has torch, transformers, peft, accelerate, pyarrow, pandas, xxhash, fsspec, triton.
# Carry .whl with the device `run` call and install with:
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
dl() {
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any -d .whl "$@"
}
mkdir -p .whl
# TRL (the project's pinned version) and the parts of its/datasets' requirements missing on the device.
dl trl==1.16.0 datasets==5.2.0 dill==0.4.0 multiprocess==0.70.18
# Liger kernels (pure Python + Triton).
dl liger-kernel==0.7.0
if [[ "${1:-}" == "--unsloth" ]]; then
  dl unsloth unsloth_zoo
fi
ls -la .whl
du -sh .whl
