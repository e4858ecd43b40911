"""``train.backend: prefix_cache``: LoRA on the top ``lora.top_layers`` decoder layers; the frozen layers below run
once per pair and are cached (:mod:`safetyalign.prefix_cache`). Several times faster than TRL on a CPU.

``lr_scheduler_type: cosine`` is its own cosine, whose warm-up runs one step ahead of transformers' (kept so
published quickstart numbers reproduce); the other schedules are transformers'. Reference log-probs are always
computed once, in the caching pass. It evaluates no held-out pairs: it refuses eval rows
(``data.eval_fraction > 0``), and ``auto`` passes it over.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from safetyalign.engines.base import HONOURED, Engine, Only, config_fields
from safetyalign.engines.fast import ADAMW, only_tensorboard

if TYPE_CHECKING:
    from safetyalign.config import ExperimentConfig
    from safetyalign.train.core import TrainResult

LOSSES = ("sigmoid", "ipo", "hinge", "sft")
SCHEDULES = ("cosine", "linear", "constant", "constant_with_warmup")


class PrefixCacheEngine(Engine):
    """Cached frozen prefix layers + LoRA on the top layers (CPU-friendly)."""

    name = "prefix_cache"
    auto_rank = 1
    rules = {
        **{f: HONOURED for f in config_fields()},
        "train.use_reference_model": Only("takes reference log-probs from one adapter-disabled pass of the same "
                                          "frozen weights (use train.backend=trl for an explicit copy)"),
        "train.lr_scheduler_type": Only(f"implements the schedules {', '.join(SCHEDULES)} only",
                                        lambda v, c: v in SCHEDULES),
        "train.optim": Only(f"implements AdamW only ({', '.join(ADAMW)})", lambda v, c: v in ADAMW),
        "train.loss_type": Only(f"implements the losses {', '.join(LOSSES)} only",
                                lambda v, c: set(v) <= set(LOSSES)),
        "train.label_smoothing": Only("implements no label smoothing"),
        "train.ld_alpha": Only("does not implement LD-DPO"),
        "train.use_weighting": Only("does not implement WPO weighting"),
        "train.gradient_checkpointing": Only("keeps no activations to recompute (the frozen layers are cached)"),
        "train.eval_steps": Only("evaluates no held-out pairs"),
        "train.per_device_eval_batch_size": Only("evaluates no held-out pairs"),
        "train.report_to": Only("writes metrics.jsonl and TensorBoard only", only_tensorboard),
        "lora.top_layers": Only("needs LoRA on the last N layers (the frozen ones below are cached)",
                                lambda v, c: v is not None),
    }

    def auto_reason(self, cfg: ExperimentConfig) -> str | None:
        if cfg.data.eval_fraction > 0:
            return f"data.eval_fraction={cfg.data.eval_fraction}: evaluates no held-out pairs"
        return None

    def environment(self, cfg: ExperimentConfig) -> str | None:
        from safetyalign.train.distributed import world_size

        return "runs in one process only (multi-process training: train.backend=trl)" if world_size() > 1 else None

    def run(self, cfg: ExperimentConfig, run_dir: Path, train_rows: list[dict], eval_rows: list[dict] | None,
            resume: bool, model: Any, tokenizer: Any) -> TrainResult:
        from safetyalign.errors import ConfigError
        from safetyalign.prefix_cache.backend import train_prefix_cache_backend

        if eval_rows:
            raise ConfigError(f"train.backend=prefix_cache: {len(eval_rows)} eval rows given; this engine "
                              "evaluates no held-out pairs (set data.eval_fraction: 0 or use train.backend=trl)")
        return train_prefix_cache_backend(cfg, run_dir, train_rows, resume=resume, model=model, tokenizer=tokenizer)
