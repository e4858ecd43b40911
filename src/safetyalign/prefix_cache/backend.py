"""``train.backend: prefix_cache``: the same inputs and outputs as the TRL backend, trained by
:mod:`safetyalign.prefix_cache.trainer`. LoRA goes on the top ``lora.top_layers`` decoder layers only."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from safetyalign.errors import ConfigError
from safetyalign.logs import get_logger

log = get_logger(__name__)


def split_layer(cfg: Any, num_layers: int) -> int:
    """First decoder layer that gets LoRA (every layer below it is frozen and cached)."""
    top = cfg.lora.top_layers
    if top is None:
        raise ConfigError("train.backend=prefix_cache needs lora.top_layers (LoRA on the last N decoder layers)")
    if not 1 <= top <= num_layers:
        raise ConfigError(f"lora.top_layers must be in 1..{num_layers}, got {top}")
    return num_layers - top


def _peft_model(cfg: Any, model: Any, first: int, num_layers: int) -> Any:
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(cfg.train.seed)  # LoRA A is initialised randomly: same seed, same adapter, same run
    lora = LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.lora_alpha, lora_dropout=cfg.lora.lora_dropout,
                      target_modules=list(cfg.lora.target_modules), task_type="CAUSAL_LM",
                      layers_to_transform=list(range(first, num_layers)))
    return get_peft_model(model, lora)


def _args(cfg: Any, first: int) -> Any:
    from safetyalign.prefix_cache.trainer import PrefixTrainArgs

    t = cfg.train
    return PrefixTrainArgs(
        split_layer=first, max_steps=t.max_steps, batch_size=t.per_device_train_batch_size,
        grad_accum=t.gradient_accumulation_steps, lr=t.learning_rate, weight_decay=t.weight_decay,
        warmup_ratio=t.warmup_steps if t.warmup_steps < 1 else t.warmup_step_count() / t.max_steps,
        max_grad_norm=t.max_grad_norm, beta=t.beta, loss_types=list(t.loss_type), loss_weights=t.loss_weights,
        seed=t.seed, save_steps=t.save_steps, logging_steps=t.logging_steps,
        max_prompt_tokens=cfg.model.max_prompt_length, reference_free=t.reference_free,
        max_response_tokens=cfg.model.max_length - cfg.model.max_prompt_length)


def train_prefix_cache_backend(cfg: Any, run_dir: Path, train_rows: list[dict], resume: bool = False,
                               model: Any = None, tokenizer: Any = None) -> Any:
    """Train with cached frozen layers; write adapter, metrics, plots and legacy copies like the TRL backend."""
    import torch

    from safetyalign.config import dump_config
    from safetyalign.data import to_trl_rows
    from safetyalign.models.loading import load_model, load_tokenizer
    from safetyalign.prefix_cache.trainer import train_prefix_cache
    from safetyalign.runs import read_metrics
    from safetyalign.train.artifacts import copy_dir, save_adapter
    from safetyalign.train.finalize import final_metrics
    from safetyalign.train.plots import plot_training
    from safetyalign.train.trainer import TrainResult

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
    train_prefix_cache(model, tokenizer, rows, _args(cfg, first), run_dir, resume=resume)
    seconds = time.perf_counter() - start
    metrics_path = run_dir / "metrics.jsonl"
    metrics = final_metrics(read_metrics(metrics_path))
    summary = {"steps": cfg.train.max_steps, "seconds": round(seconds, 2), "backend": "prefix_cache",
               "split_layer": first, "pairs": len(rows), "loss_type": list(cfg.train.loss_type),
               "loss_weights": cfg.train.loss_weights, "beta": cfg.train.beta,
               "reference": "uniform" if cfg.train.reference_free else "adapter_disabled",
               "final_metrics": metrics}
    adapter_dir = save_adapter(model, tokenizer, run_dir / "adapter", {
        "config.yaml": dump_config(cfg), "training_summary.json": json.dumps(summary, indent=2) + "\n"})
    if Path(cfg.train.output_dir).resolve() != adapter_dir.resolve():
        copy_dir(adapter_dir, Path(cfg.train.output_dir))
    plots = plot_training(metrics_path, run_dir / "plots")
    Path(cfg.run.plots_dir).mkdir(parents=True, exist_ok=True)
    for p in plots:
        shutil.copy2(p, Path(cfg.run.plots_dir) / p.name)
    log.info("trained %d steps in %.1f s; adapter in %s", cfg.train.max_steps, seconds, adapter_dir)
    return TrainResult(adapter_dir=adapter_dir, metrics_path=metrics_path, metrics=metrics,
                       steps=cfg.train.max_steps, seconds=round(seconds, 2), plots=plots, model=model)
