"""``train.backend: prefix_cache``: the same inputs and outputs as the TRL backend, trained by
:mod:`safetyalign.prefix_cache.trainer`. LoRA goes on the top ``lora.top_layers`` decoder layers only."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safetyalign.errors import ConfigError
from safetyalign.logs import get_logger

if TYPE_CHECKING:
    from safetyalign.config import ExperimentConfig
    from safetyalign.train.core import TrainResult

log = get_logger(__name__)


def split_layer(cfg: ExperimentConfig, num_layers: int) -> int:
    """First decoder layer that gets LoRA (every layer below it is frozen and cached)."""
    top = cfg.lora.top_layers
    if top is None:
        raise ConfigError("train.backend=prefix_cache needs lora.top_layers (LoRA on the last N decoder layers)")
    if not 1 <= top <= num_layers:
        raise ConfigError(f"lora.top_layers must be in 1..{num_layers}, got {top}")
    return num_layers - top


def _peft_model(cfg: ExperimentConfig, model: Any, first: int, num_layers: int) -> Any:
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(cfg.train.seed)  # LoRA A is initialised randomly: same seed, same adapter, same run
    lora = LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.lora_alpha, lora_dropout=cfg.lora.lora_dropout,
                      target_modules=list(cfg.lora.target_modules), task_type="CAUSAL_LM",
                      layers_to_transform=list(range(first, num_layers)))
    return get_peft_model(model, lora)


def _args(cfg: ExperimentConfig, first: int) -> Any:
    from safetyalign.prefix_cache.trainer import PrefixTrainArgs
    from safetyalign.train.dpo_args import loss_spec

    t = cfg.train
    types, weights = loss_spec(t)  # rpo_alpha -> an 'sft' term, as for TRL
    return PrefixTrainArgs(
        split_layer=first, max_steps=t.max_steps, batch_size=t.per_device_train_batch_size,
        grad_accum=t.gradient_accumulation_steps, lr=t.learning_rate, weight_decay=t.weight_decay,
        warmup_ratio=t.warmup_steps if t.warmup_steps < 1 else t.warmup_step_count() / t.max_steps,
        max_grad_norm=t.max_grad_norm, beta=t.beta, loss_types=types, loss_weights=weights,
        seed=t.seed, save_steps=t.save_steps, logging_steps=t.logging_steps,
        max_prompt_tokens=cfg.model.max_prompt_length, reference_free=t.reference_free,
        max_response_tokens=cfg.model.max_length - cfg.model.max_prompt_length,
        save_total_limit=t.save_total_limit, report_to=list(t.report_to), disable_tqdm=t.disable_tqdm,
        lr_scheduler_type=t.lr_scheduler_type, warmup_steps=t.warmup_step_count())


def train_prefix_cache_backend(cfg: ExperimentConfig, run_dir: Path, train_rows: list[dict], resume: bool = False,
                               model: Any = None, tokenizer: Any = None) -> TrainResult:
    """Train with cached frozen layers; adapter, metrics, summary and plots through the training core."""
    import torch

    from safetyalign.data.formatting import to_trl_rows
    from safetyalign.models.loading import load_model, load_tokenizer
    from safetyalign.prefix_cache.trainer import train_prefix_cache
    from safetyalign.runs import read_metrics
    from safetyalign.train.core import final_metrics, finish, summary

    start = time.perf_counter()
    if cfg.train.num_threads:
        torch.set_num_threads(cfg.train.num_threads)
    tokenizer = tokenizer if tokenizer is not None else load_tokenizer(cfg.model)
    model = model if model is not None else load_model(cfg.model, for_training=True)
    num_layers = model.config.num_hidden_layers
    first = split_layer(cfg, num_layers)
    model = _peft_model(cfg, model, first, num_layers)
    rows = to_trl_rows(train_rows, tokenizer, cfg.model.system_prompt)
    log.info("training: backend=prefix_cache layers %d-%d trainable (LoRA r=%d), %d pairs, %d steps x %d pairs",
             first, num_layers - 1, cfg.lora.r, len(rows), cfg.train.max_steps, cfg.train.per_device_train_batch_size)
    info: dict[str, Any] = {}
    last = train_prefix_cache(model, tokenizer, rows, _args(cfg, first), run_dir, resume=resume, info=info)
    s = summary(cfg, engine="prefix_cache", steps=int(last.get("step", cfg.train.max_steps)),
                resumed=info.get("resumed"), seconds=time.perf_counter() - start,
                train_seconds=info.get("train_seconds", 0.0), device=str(next(model.parameters()).device),
                reference="uniform" if cfg.train.reference_free else "precomputed",
                pairs={"train": {"rows": len(train_rows), "kept": len(rows)}, "eval": None},
                metrics=final_metrics(read_metrics(run_dir / "metrics.jsonl")),
                engine_details={"split_layer": first, "cache_s": info.get("cache_s")})
    return finish(cfg, run_dir, model, tokenizer, s)
