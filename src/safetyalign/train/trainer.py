"""``train()``: DPO + LoRA on preference rows, with checkpoints, resume, metrics, plots and an atomic adapter.

The reference model is, by default, the frozen base seen through the adapter-disabled policy (no second copy in
memory); ``train.use_reference_model`` loads an explicit frozen copy instead, and
``train.precompute_ref_log_probs`` computes reference log-probs once before training.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safetyalign.logs import get_logger
from safetyalign.train.artifacts import copy_dir, last_checkpoint, save_adapter
from safetyalign.train.metrics import make_metrics_callback, truncate_metrics
from safetyalign.train.pairs import PairStats, render_rows, tokenize_pairs

log = get_logger(__name__)


@dataclass
class TrainResult:
    """Where the adapter and metrics went, the final metrics and how long it took."""

    adapter_dir: Path
    metrics_path: Path
    metrics: dict[str, Any]
    steps: int
    seconds: float
    plots: list[Path] = field(default_factory=list)
    resumed_from: int | None = None
    model: Any = field(default=None, repr=False)  # the trained PeftModel (disable_adapter() gives the base)


def _dpo_trainer_class() -> Any:
    """TRL's DPOTrainer, taught to accept rows that are already tokenized (see safetyalign.train.pairs)."""
    from trl import DPOTrainer

    class PreTokenizedDPOTrainer(DPOTrainer):
        """Skips TRL's text preprocessing (EOS append, BOS from add_special_tokens) for pre-tokenized rows."""

        def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
            if "prompt_ids" in dataset.column_names:
                return dataset
            return super()._prepare_dataset(dataset, processing_class, args, dataset_name)

    return PreTokenizedDPOTrainer


def _datasets(cfg: Any, tokenizer: Any, train_rows: list[dict], eval_rows: list[dict] | None) -> tuple:
    from datasets import Dataset

    from safetyalign.errors import DataError

    def build(rows: list[dict], name: str) -> tuple[Any, PairStats]:
        text = render_rows(rows, tokenizer, cfg.model.system_prompt)
        examples, stats = tokenize_pairs(text, tokenizer, cfg.model.max_length, cfg.model.max_prompt_length)
        log.info("%s pairs: %d kept of %d (skipped %s; prompts truncated %d, completions truncated %d)", name,
                 stats.kept, stats.rows, stats.skipped or "none", stats.prompt_truncated, stats.completion_truncated)
        return (Dataset.from_list(examples) if examples else None), stats

    train_ds, train_stats = build(train_rows, "train")
    if train_ds is None:
        raise DataError(f"no usable training pairs (of {len(train_rows)} rows; check model.max_length)")
    eval_ds, eval_stats = build(eval_rows, "eval") if eval_rows else (None, None)
    return train_ds, eval_ds, {"train": vars(train_stats), "eval": vars(eval_stats) if eval_stats else None}


def _policy(cfg: Any, backend: str, model: Any, tokenizer: Any) -> tuple[Any, Any, Any]:
    """``(model, tokenizer, peft_config)``: unsloth loads a PEFT model now; for trl the model stays None (loaded
    by :func:`_base_model` once the trainer arguments exist) unless one was passed in."""
    from safetyalign.models.loading import load_tokenizer
    from safetyalign.train.dpo_args import peft_config

    if backend == "unsloth":
        from safetyalign.train.backend import load_unsloth_model

        model, tokenizer = load_unsloth_model(cfg, tokenizer)
        return model, tokenizer, None
    tokenizer = tokenizer if tokenizer is not None else load_tokenizer(cfg.model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer, peft_config(cfg)


def _base_model(cfg: Any, device: str, dtype: Any, for_training: bool) -> Any:
    """The base model for this process. Called after DPOConfig is built, so that DeepSpeed ZeRO-3 partitions
    the weights while loading and FSDP's low-memory loading sees the process group."""
    from safetyalign.train.distributed import load_device, load_for_engine

    return load_for_engine(cfg.model, load_device(device), dtype, for_training)


def _reference(cfg: Any, device: str, dtype: Any) -> Any:
    if not cfg.train.use_reference_model:
        return None
    log.info("loading an explicit frozen reference model (train.use_reference_model=true)")
    ref = _base_model(cfg, device, dtype, for_training=False)
    ref.requires_grad_(False)
    return ref


def _callbacks(run_dir: Path, metrics_path: Path, report_to: list[str]) -> list[Any]:
    from safetyalign.train.distributed import is_main_process

    callbacks = [make_metrics_callback(metrics_path)]  # writes on the main process only
    if "tensorboard" in report_to and is_main_process():
        from torch.utils.tensorboard import SummaryWriter
        from transformers.integrations import TensorBoardCallback

        tb = TensorBoardCallback(tb_writer=SummaryWriter(log_dir=str(run_dir / "tensorboard")))
        tb.logging_dir = str(run_dir / "tensorboard")  # also for the writer re-opened by the final evaluate()
        callbacks.append(tb)
    return callbacks


def _resume_point(run_dir: Path, resume: bool, metrics_path: Path) -> Path | None:
    """The checkpoint to resume from (None = fresh start), chosen by the main process, which alone edits files
    (drops metric rows after the checkpoint, or clears old metrics/checkpoints); the others get its choice."""
    from safetyalign.train.distributed import broadcast, is_main_process

    ckpt = _main_resume_point(run_dir, resume, metrics_path) if is_main_process() else None
    chosen = broadcast(str(ckpt) if ckpt is not None else None)
    return Path(chosen) if chosen else None


def _main_resume_point(run_dir: Path, resume: bool, metrics_path: Path) -> Path | None:
    ckpt = last_checkpoint(run_dir / "checkpoints") if resume else None
    if resume and ckpt is None:
        log.warning("--resume: no complete checkpoint in %s; starting from step 0", run_dir / "checkpoints")
    if ckpt is not None:
        from safetyalign.train.artifacts import checkpoint_step

        dropped = truncate_metrics(metrics_path, checkpoint_step(ckpt))
        log.info("resuming from %s (%d metric rows after it dropped)", ckpt.name, dropped)
    else:
        metrics_path.unlink(missing_ok=True)
        shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    return ckpt


def _preflight(run_dir: Path) -> None:
    from safetyalign.train.distributed import is_main_process

    if not is_main_process():
        return
    try:
        from safetyalign.doctor import run_checks

        for check in run_checks(run_dir):
            if not check.ok:
                log.warning("preflight: %s: %s. %s", check.name, check.detail, check.advice)
    except Exception as exc:  # preflight must never stop training
        log.warning("preflight checks failed to run: %s", exc)


def train(cfg: Any, run_dir: Path, train_rows: list[dict], eval_rows: list[dict] | None = None,
          resume: bool = False, model: Any = None, tokenizer: Any = None) -> TrainResult:
    """Train a LoRA adapter with DPO on ``train_rows`` ({prompt, chosen, rejected, ...}); see module docs.

    ``model``/``tokenizer`` may be passed already loaded (trl backend); the adapter is injected into that model in
    place and the trained PeftModel is returned as ``TrainResult.model``. Outputs: ``<run_dir>/adapter/``,
    ``metrics.jsonl``, ``tensorboard/``, ``plots/training_*.png``, ``checkpoints/``, plus copies at
    ``train.output_dir`` and ``run.plots_dir``.
    """
    from safetyalign.train.backend import import_unsloth, resolve_backend

    run_dir = Path(run_dir)
    check_has_pairs(train_rows)
    run_dir.mkdir(parents=True, exist_ok=True)
    backend = resolve_backend(cfg.train.backend, cfg)
    from safetyalign.train.distributed import check_backend

    check_backend(backend)
    if backend == "fast":
        from safetyalign.fastdpo.backend import train_fast_backend

        return train_fast_backend(cfg, run_dir, train_rows, eval_rows, resume=resume, model=model, tokenizer=tokenizer)
    if backend == "prefix_cache":
        from safetyalign.prefix_cache.backend import train_prefix_cache_backend

        return train_prefix_cache_backend(cfg, run_dir, train_rows, resume=resume, model=model, tokenizer=tokenizer)
    if backend == "unsloth":
        import_unsloth()  # must precede trl / transformers imports on this path
    start = time.perf_counter()
    import torch

    from safetyalign.models.loading import pick_device, pick_dtype
    from safetyalign.train.distributed import setup
    from safetyalign.train.dpo_args import dpo_config

    if cfg.train.num_threads:
        torch.set_num_threads(cfg.train.num_threads)
    device = pick_device(cfg.model.device)
    setup(cpu=not device.startswith("cuda"))  # process group first (no-op for one process)
    _preflight(run_dir)
    model, tokenizer, lora = _policy(cfg, backend, model, tokenizer)
    dtype = next(model.parameters()).dtype if model is not None else pick_dtype(cfg.model.dtype, device)
    train_ds, eval_ds, pair_stats = _datasets(cfg, tokenizer, train_rows, eval_rows)
    metrics_path = run_dir / "metrics.jsonl"
    ckpt = _resume_point(run_dir, resume, metrics_path)
    args = dpo_config(cfg, run_dir, device, dtype, eval_ds is not None)  # before loading: see _base_model
    if model is None:
        model = _base_model(cfg, device, dtype, for_training=True)
    trainer = _dpo_trainer_class()(
        model=model, ref_model=_reference(cfg, device, dtype), args=args, train_dataset=train_ds,
        eval_dataset=eval_ds, processing_class=tokenizer, peft_config=lora,
        callbacks=_callbacks(run_dir, metrics_path, cfg.train.report_to))
    _log_start(backend, device, dtype, cfg, args)
    out = trainer.train(resume_from_checkpoint=str(ckpt) if ckpt else None)
    if eval_ds is not None:
        trainer.evaluate()
    seconds = time.perf_counter() - start
    from safetyalign.train.finalize import finalize

    return finalize(cfg, run_dir, trainer, tokenizer, out, seconds, pair_stats, ckpt, backend)


def check_has_pairs(train_rows: list[dict]) -> None:
    """Every engine needs at least one usable pair: zero is one clear line, before any engine is chosen."""
    from safetyalign.errors import DataError

    usable = [r for r in train_rows if all(isinstance(r.get(k), str) and r.get(k) for k in ("chosen", "rejected"))
              and r.get("prompt")]
    if not usable:
        raise DataError(f"no usable training pairs ({len(train_rows)} rows, none with prompt, chosen and rejected "
                        f"text): check data.sources (columns, split) and the skip reasons in data/data_summary.json")


def _log_start(backend: str, device: str, dtype: Any, cfg: Any, args: Any) -> None:
    from safetyalign.train.distributed import batch_layout, engine

    b = batch_layout(cfg.train.per_device_train_batch_size, cfg.train.gradient_accumulation_steps)
    log.info("training: backend=%s device=%s dtype=%s steps=%d loss=%s; batch %d per device x %d accumulation x %d "
             "processes = %d pairs per step (engine %s)", backend, device, str(dtype).replace("torch.", ""),
             cfg.train.max_steps, "+".join(args.loss_type), b["per_device_train_batch_size"],
             b["gradient_accumulation_steps"], b["world_size"], b["global_batch_size"], engine())


__all__ = ["TrainResult", "save_adapter", "copy_dir", "train"]
