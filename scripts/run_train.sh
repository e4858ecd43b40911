#!/usr/bin/env bash
# Train a LoRA adapter with DPO. Usage: scripts/run_train.sh [CONFIG] [overrides...] [--resume] [--run-dir DIR]
# Default config: configs/train/qwen2.5-7b_lora_dpo.yaml (GPU). CPU: scripts/run_train.sh configs/train/smollm2_cpu.yaml
set -euo pipefail
cd "$(dirname "$0")/.."
config="configs/train/qwen2.5-7b_lora_dpo.yaml"
if [[ $# -gt 0 && "$1" != -* && "$1" != *=* ]]; then config="$1"; shift; fi
bin=".venv/bin/safetyalign"
[[ -x "$bin" ]] || bin="safetyalign"
exec "$bin" train "$config" "$@"
