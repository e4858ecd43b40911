"""``train.backend: fast``: the same inputs and outputs as the TRL backend, trained by :mod:`safetyalign.fastdpo`.

Pairs are rendered and tokenized exactly as for TRL (:mod:`safetyalign.train.pairs`), the LoRA adapter is PEFT's
(``lora`` section, :func:`safetyalign.train.dpo_args.peft_config`), the data order, AdamW settings and learning-rate
schedule are those of transformers' Trainer, and the run folder gets ``metrics.jsonl`` (same keys), checkpoints
every ``train.save_steps`` (``--resume``), ``adapter/`` (safetensors + adapter_config.json + tokenizer +
training_summary.json + config.yaml), ``tensorboard/`` and the training plots. The loop lives in
:mod:`safetyalign.fastdpo.loop`.

Supported: sigmoid DPO against the adapter-disabled base (optionally precomputed, ``train.precompute_ref_log_probs``),
LoRA on any of the seven projections of llama / qwen2 / qwen3 / mistral models, float32 or bfloat16, one process.
Which ``train``/``lora`` values it honours and which it refuses is declared in :mod:`safetyalign.engines.fast`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safetyalign.logs import get_logger

if TYPE_CHECKING:
    from safetyalign.config import ExperimentConfig
    from safetyalign.train.core import TrainResult

log = get_logger(__name__)
SUPPORTED_MODEL_TYPES = ("llama", "qwen2", "qwen3", "mistral")
PROJECTIONS = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}


def model_reason(cfg: ExperimentConfig) -> str | None:
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


def fast_config(cfg: ExperimentConfig, device: str) -> Any:
    """FastDPOConfig from the ``train`` section (optimizer settings as transformers' AdamW defaults)."""
    from safetyalign.fastdpo.trainer import FastDPOConfig

    t = cfg.train
    return FastDPOConfig(beta=t.beta, lr=t.learning_rate, weight_decay=t.weight_decay,
                         max_grad_norm=t.max_grad_norm or None,
                         gradient_checkpointing=t.gradient_checkpointing)


def _policy(cfg: ExperimentConfig, model: Any, tokenizer: Any) -> tuple[Any, Any]:
    """Tokenizer and the PEFT LoRA model (as TRL would build it from the same config)."""
    import torch
    from peft import get_peft_model

    from safetyalign.models.loading import load_model, load_tokenizer
    from safetyalign.train.dpo_args import peft_config

    tokenizer = tokenizer if tokenizer is not None else load_tokenizer(cfg.model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = model if model is not None else load_model(cfg.model, for_training=True)
    model.config.use_cache = False
    lora = peft_config(cfg)
    torch.manual_seed(cfg.train.seed)  # LoRA A's initialisation, as the trl and prefix_cache engines seed it
    return get_peft_model(model, lora), tokenizer


def train_fast_backend(cfg: ExperimentConfig, run_dir: Path, train_rows: list[dict],
                       eval_rows: list[dict] | None = None, resume: bool = False, model: Any = None,
                       tokenizer: Any = None) -> TrainResult:
    """Train with the fast path; write adapter, metrics, checkpoints, plots and legacy copies like the TRL backend."""
    import torch

    from safetyalign.errors import DataError
    from safetyalign.fastdpo.loop import LoopResult, run_loop
    from safetyalign.fastdpo.trainer import FastDPOTrainer
    from safetyalign.train.pairs import tokenized_rows

    start = time.perf_counter()
    if cfg.train.num_threads:
        torch.set_num_threads(cfg.train.num_threads)
    torch.manual_seed(cfg.train.seed)
    model, tokenizer = _policy(cfg, model, tokenizer)
    train_ex, train_stats = tokenized_rows(cfg, tokenizer, train_rows, "train")
    eval_ex, eval_stats = tokenized_rows(cfg, tokenizer, eval_rows, "eval")
    train_pairs, eval_pairs = _triples(train_ex), _triples(eval_ex)
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


def _triples(examples: list[dict]) -> list[tuple]:
    return [(e["prompt_ids"], e["chosen_ids"], e["rejected_ids"]) for e in examples]


def _finish(cfg: ExperimentConfig, run_dir: Path, model: Any, tokenizer: Any, result: Any, pair_stats: dict,
            seconds: float, device: str) -> TrainResult:
    """training_summary.json (the core's schema), adapter (+ legacy copy), plots."""
    from safetyalign.runs import read_metrics
    from safetyalign.train.core import final_metrics, finish, summary

    t = cfg.train
    s = summary(cfg, engine="fast", steps=result.steps, resumed=result.resumed, seconds=seconds,
                train_seconds=result.train_seconds, device=device,
                reference="precomputed" if t.precompute_ref_log_probs else "adapter_disabled", pairs=pair_stats,
                metrics=final_metrics(read_metrics(run_dir / "metrics.jsonl")),
                engine_details={"precompute_ref_s": result.precompute_seconds, **result.fast_settings})
    return finish(cfg, run_dir, model, tokenizer, s)
