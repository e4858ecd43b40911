#!/usr/bin/env bash
# Thin wrapper: evaluate a model (and optionally an adapter) on the red-team and benign suites.
#   scripts/run_eval.sh configs/eval/smollm2_cpu.yaml [--adapter output/runs/<run>/adapter] [key=value ...]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python
exec "$PY" -m safetyalign eval "${@:-configs/eval/smollm2_cpu.yaml}"
