#!/usr/bin/env bash
# Train a LoRA adapter with DPO -> output/dpo_lora/ (+ plots/, logs/, the run folder under output/runs/).
#   bash scripts/run_train.sh [CONFIG] [key=value ...] [--use-reference-model] [--resume] [--num-processes N]
# Without CONFIG: $SAFETYALIGN_CONFIG, else configs/train/qwen2.5-7b_lora_dpo.yaml on a CUDA GPU,
# else the CPU recipe configs/quickstart.yaml. Same as: safetyalign train ...
set -euo pipefail
cd "$(dirname "$0")/.."
bin=".venv/bin/safetyalign"
[[ -x "$bin" ]] || bin="safetyalign"
exec "$bin" train "$@"
