"""``train.backend: fast``: the same inputs and outputs as the TRL backend, trained by :mod:`safetyalign.fastdpo`.

Pairs are rendered and tokenized exactly as for TRL (:mod:`safetyalign.train.pairs`), the LoRA adapter is PEFT's
(``lora`` section, :func:`safetyalign.train.dpo_args.peft_config`), the data order, AdamW settings and learning-rate
schedule are those of transformers' Trainer, and the run folder gets ``metrics.jsonl`` (same keys), checkpoints
every ``train.save_steps`` (``--resume``), ``adapter/`` (safetensors + adapter_config.json + tokenizer +
training_summary.json + config.yaml), ``tensorboard/`` and the training plots. The loop lives in
:mod:`safetyalign.fastdpo.loop`.

Supported: sigmoid DPO against the adapter-disabled base (optionally precomputed, ``train.precompute_ref_log_probs``),
LoRA on any of the seven projections of llama / qwen2 / qwen3 / mistral models, float32 or bfloat16, one process.
``train.backend: auto`` picks this backend on a CUDA GPU when :func:`fast_unsupported_reason` finds nothing against it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from safetyalign.logs import get_logger

log = get_logger(__name__)
SUPPORTED_MODEL_TYPES = ("llama", "qwen2", "qwen3", "mistral")
PROJECTIONS = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}


def _training_reason(cfg: Any) -> str | None:
    """What in the ``train`` / ``lora`` sections the fast path does not implement."""
    t = cfg.train
    if list(t.loss_type) != ["sigmoid"] or t.rpo_alpha is not None:
        return f"loss {'+'.join(t.loss_type)}{' + rpo' if t.rpo_alpha is not None else ''} (fast: sigmoid only)"
    if t.ld_alpha is not None or t.use_weighting or t.label_smoothing:
        return "ld_alpha / use_weighting / label_smoothing are not implemented by the fast path"
    if t.use_reference_model:
        return "an explicit reference model (fast: the adapter-disabled base, which is the same weights)"
    if t.optim not in ("adamw_torch", "adamw_torch_fused"):
        return f"optimizer {t.optim} (fast: AdamW)"
    extra = set(cfg.lora.target_modules) - PROJECTIONS
    if extra:
        return f"LoRA on {sorted(extra)} (fast: the seven attention/MLP projections only)"
    return None


def _model_reason(cfg: Any) -> str | None:
    """What in the model's config the fast path does not implement (architecture, sliding window, float16)."""
    from transformers import AutoConfig

    from safetyalign.models.loading import _materialize_gguf, resolve_model

    if cfg.model.dtype == "float16":
        return "float16 training needs loss scaling (fast: bfloat16 or float32)"
    resolved = resolve_model(cfg.model)
    if resolved.gguf_file:
        resolved = _materialize_gguf(resolved)
    try:
        conf = AutoConfig.from_pretrained(resolved.path, revision=cfg.model.revision,
                                          trust_remote_code=cfg.model.trust_remote_code)
    except (OSError, ValueError) as exc:
        return f"model config unreadable ({type(exc).__name__})"
    if conf.model_type not in SUPPORTED_MODEL_TYPES:
        return f"model type {conf.model_type} (fast: {', '.join(SUPPORTED_MODEL_TYPES)})"
    window = getattr(conf, "sliding_window", None) if getattr(conf, "use_sliding_window", True) else None
    if window and window < cfg.model.max_length:
        return f"sliding-window attention ({window} < model.max_length {cfg.model.max_length})"
    return None


def fast_unsupported_reason(cfg: Any, need_gpu: bool = True) -> str | None:
    """Why ``train.backend=fast`` cannot train ``cfg`` (None = it can). ``need_gpu``: also require CUDA (what
    ``auto`` asks; an explicit ``fast`` also runs on CPU, uncompiled, for tests)."""
    reason = _training_reason(cfg)
    if reason is None and need_gpu:
        from safetyalign.models.loading import pick_device

        if not pick_device(cfg.model.device).startswith("cuda"):
            reason = "no CUDA device (the fast path is for GPUs)"
    return reason or _model_reason(cfg)


def fast_config(cfg: Any, device: str) -> Any:
    """FastDPOConfig from the ``train`` section (optimizer settings as transformers' AdamW defaults)."""
    from safetyalign.fastdpo.trainer import FastDPOConfig

    t = cfg.train
    return FastDPOConfig(beta=t.beta, lr=t.learning_rate, weight_decay=t.weight_decay,
                         max_grad_norm=t.max_grad_norm or None,
                         gradient_checkpointing=t.gradient_checkpointing)


def _tokenized(cfg: Any, tokenizer: Any, rows: list[dict] | None, name: str) -> tuple[list[tuple], dict | None]:
    """Rows -> ``(prompt_ids, chosen_ids, rejected_ids)`` exactly as the TRL backend tokenizes them."""
    from safetyalign.train.pairs import render_rows, tokenize_pairs

    if not rows:
        return [], None
    text = render_rows(rows, tokenizer, cfg.model.system_prompt)
    examples, stats = tokenize_pairs(text, tokenizer, cfg.model.max_length, cfg.model.max_prompt_length)
    log.info("%s pairs: %d kept of %d (skipped %s; prompts truncated %d, completions truncated %d)", name,
             stats.kept, stats.rows, stats.skipped or "none", stats.prompt_truncated, stats.completion_truncated)
    return [(e["prompt_ids"], e["chosen_ids"], e["rejected_ids"]) for e in examples], vars(stats)


def _policy(cfg: Any, model: Any, tokenizer: Any) -> tuple[Any, Any]:
    """Tokenizer and the PEFT LoRA model (as TRL would build it from the same config)."""
    from peft import get_peft_model

    from safetyalign.models.loading import load_model, load_tokenizer
    from safetyalign.train.dpo_args import peft_config

    tokenizer = tokenizer if tokenizer is not None else load_tokenizer(cfg.model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = model if model is not None else load_model(cfg.model, for_training=True)
    model.config.use_cache = False
    return get_peft_model(model, peft_config(cfg)), tokenizer


def train_fast_backend(cfg: Any, run_dir: Path, train_rows: list[dict], eval_rows: list[dict] | None = None,
                       resume: bool = False, model: Any = None, tokenizer: Any = None) -> Any:
    """Train with the fast path; write adapter, metrics, checkpoints, plots and legacy copies like the TRL backend."""
    import torch

    from safetyalign.errors import ConfigError, DataError
    from safetyalign.fastdpo.loop import LoopResult, run_loop
    from safetyalign.fastdpo.trainer import FastDPOTrainer

    start = time.perf_counter()
    reason = fast_unsupported_reason(cfg, need_gpu=False)
    if reason:
        raise ConfigError(f"train.backend=fast: {reason}; use train.backend=trl")
    if cfg.train.num_threads:
        torch.set_num_threads(cfg.train.num_threads)
    torch.manual_seed(cfg.train.seed)
    model, tokenizer = _policy(cfg, model, tokenizer)
    train_pairs, train_stats = _tokenized(cfg, tokenizer, train_rows, "train")
    eval_pairs, eval_stats = _tokenized(cfg, tokenizer, eval_rows, "eval")
    if not train_pairs:
        raise DataError(f"no usable training pairs (of {len(train_rows)} rows; check model.max_length)")
    device = str(next(model.parameters()).device)
    trainer = FastDPOTrainer(model, fast_config(cfg, device))
    try:
        result: LoopResult = run_loop(cfg, run_dir, trainer, model, train_pairs, eval_pairs, resume)
    finally:
        trainer.close()
    model.eval()
    pair_stats = {"train": train_stats, "eval": eval_stats}
    return _finish(cfg, run_dir, model, tokenizer, result, pair_stats, time.perf_counter() - start, device)


def _finish(cfg: Any, run_dir: Path, model: Any, tokenizer: Any, result: Any, pair_stats: dict, seconds: float,
            device: str) -> Any:
    """training_summary.json, adapter (+ legacy copy), plots; the TrainResult the TRL backend would return."""
    from safetyalign.runs import read_metrics
    from safetyalign.train.finalize import final_metrics, log_summary, write_adapter, write_plots
    from safetyalign.train.trainer import TrainResult

    metrics_path = run_dir / "metrics.jsonl"
    metrics = final_metrics(read_metrics(metrics_path))
    t = cfg.train
    summary = {
        "steps": result.steps, "seconds": round(seconds, 2), "backend": "fast", "resumed_from_step": result.resumed,
        "s_per_step": round(result.train_seconds / max(result.steps - (result.resumed or 0), 1), 3),
        "device": device, "loss_type": list(t.loss_type), "loss_weights": t.loss_weights, "beta": t.beta,
        "reference": "precomputed" if t.precompute_ref_log_probs else "adapter_disabled",
        "precompute_ref_s": result.precompute_seconds, "fast": result.fast_settings,
        "pairs": pair_stats, "final_metrics": metrics,
    }
    adapter_dir = write_adapter(cfg, run_dir, model, tokenizer, summary, None)
    plots = write_plots(cfg, run_dir, metrics_path)
    log_summary(metrics, summary)
    return TrainResult(adapter_dir=adapter_dir, metrics_path=metrics_path, metrics=metrics, steps=result.steps,
                       seconds=round(seconds, 2), plots=plots, resumed_from=result.resumed, model=model)
