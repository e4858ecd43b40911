#!/usr/bin/env bash
# Evaluate base and tuned on the red-team and benign suites -> output/evaluation_results.json.
#   bash scripts/run_eval.sh [CONFIG] [key=value ...] [--adapter DIR] [--base-only]
# Without CONFIG: the last training run (the config stored in output/dpo_lora) with the adapter output/dpo_lora;
# before any training, the default recipe's base model only. Same as: safetyalign eval ...
set -euo pipefail
cd "$(dirname "$0")/.."
bin=".venv/bin/safetyalign"
[[ -x "$bin" ]] || bin="safetyalign"
exec "$bin" eval "$@"
