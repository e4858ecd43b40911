"""``train.backend: fast``: :mod:`safetyalign.fastdpo` (packed, compiled LoRA-DPO step; the same outputs as TRL).

Honours the TRL engine's fields except the ones refused below (sigmoid DPO against the adapter-disabled base,
AdamW, LoRA on the seven projections of llama / qwen2 / qwen3 / mistral, bfloat16 or float32, one process).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from safetyalign.engines.base import HONOURED, Engine, Only, config_fields

if TYPE_CHECKING:
    from safetyalign.config import ExperimentConfig
    from safetyalign.train.core import TrainResult

PROJECTIONS = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
ADAMW = ("adamw_torch", "adamw_torch_fused")


def only_tensorboard(value: list[str], cfg: Any) -> bool:
    return set(value) <= {"tensorboard"}


class FastEngine(Engine):
    """The project's fast path (fastest LoRA-DPO step on one GPU; also runs uncompiled on CPU)."""

    name = "fast"
    auto_rank = 0
    rules = {
        **{f: HONOURED for f in config_fields()},
        "train.loss_type": Only("implements the sigmoid loss only", lambda v, c: list(v) == ["sigmoid"]),
        "train.loss_weights": Only("one sigmoid term of weight 1 only", lambda v, c: v is None or list(v) == [1.0]),
        "train.rpo_alpha": Only("has no sft term"),
        "train.label_smoothing": Only("implements plain sigmoid DPO (no label smoothing)"),
        "train.ld_alpha": Only("does not implement LD-DPO"),
        "train.use_weighting": Only("does not implement WPO weighting"),
        "train.use_reference_model": Only("uses the adapter-disabled base as the reference (the same weights)"),
        "train.reference_free": Only("has no reference-free loss (use train.backend=prefix_cache)"),
        "train.optim": Only(f"implements AdamW only ({', '.join(ADAMW)})", lambda v, c: v in ADAMW),
        "train.report_to": Only("writes metrics.jsonl and TensorBoard only", only_tensorboard),
        "lora.target_modules": Only("puts LoRA on the seven attention/MLP projections only",
                                    lambda v, c: set(v) <= PROJECTIONS),
    }

    def environment(self, cfg: ExperimentConfig) -> str | None:
        from safetyalign.fastdpo.backend import model_reason
        from safetyalign.train.distributed import world_size

        if world_size() > 1:
            return "runs in one process only (multi-process training: train.backend=trl)"
        return model_reason(cfg)

    def auto_reason(self, cfg: ExperimentConfig) -> str | None:
        from safetyalign.models.loading import pick_device

        return None if pick_device(cfg.model.device).startswith("cuda") else "no CUDA device (fast is for GPUs)"

    def run(self, cfg: ExperimentConfig, run_dir: Path, train_rows: list[dict], eval_rows: list[dict] | None,
            resume: bool, model: Any, tokenizer: Any) -> TrainResult:
        from safetyalign.fastdpo.backend import train_fast_backend

        return train_fast_backend(cfg, run_dir, train_rows, eval_rows, resume=resume, model=model,
                                  tokenizer=tokenizer)
