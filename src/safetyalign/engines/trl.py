"""``train.backend: trl`` (TRL's DPOTrainer + PEFT, CPU or GPU, one or many processes) and the base of
``unsloth``. The reference model is, by default, the frozen base seen through the adapter-disabled policy (no second
copy in memory); ``train.use_reference_model`` loads an explicit frozen copy instead, and
``train.precompute_ref_log_probs`` computes reference log-probs once before training. Checkpoints are transformers'
Trainer layout (the Trainer resumes them); metrics, summary and adapter go through :mod:`safetyalign.train.core`.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safetyalign.engines.base import HONOURED, Engine, Only, config_fields
from safetyalign.logs import get_logger
from safetyalign.train.artifacts import last_checkpoint
from safetyalign.train.metrics import make_metrics_callback, truncate_metrics

if TYPE_CHECKING:
    from safetyalign.config import ExperimentConfig
    from safetyalign.train.core import TrainResult

log = get_logger(__name__)
NO_REFERENCE_FREE = Only("TRL's DPOTrainer has no reference-free loss (use train.backend=prefix_cache)")


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


def _datasets(cfg: ExperimentConfig, tokenizer: Any, train_rows: list[dict], eval_rows: list[dict] | None) -> tuple:
    from datasets import Dataset

    from safetyalign.errors import DataError
    from safetyalign.train.pairs import tokenized_rows

    train_ex, train_stats = tokenized_rows(cfg, tokenizer, train_rows, "train")
    if not train_ex:
        raise DataError(f"no usable training pairs (of {len(train_rows)} rows; check model.max_length)")
    eval_ex, eval_stats = tokenized_rows(cfg, tokenizer, eval_rows, "eval")
    eval_ds = Dataset.from_list(eval_ex) if eval_ex else None
    return Dataset.from_list(train_ex), eval_ds, {"train": train_stats, "eval": eval_stats}


def _policy(cfg: ExperimentConfig, model: Any, tokenizer: Any) -> tuple[Any, Any, Any]:
    """``(model, tokenizer, peft_config)``: the model stays None (loaded by :func:`_base_model` once the trainer
    arguments exist) unless one was passed in."""
    from safetyalign.models.loading import load_tokenizer
    from safetyalign.train.dpo_args import peft_config

    tokenizer = tokenizer if tokenizer is not None else load_tokenizer(cfg.model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer, peft_config(cfg)


def _base_model(cfg: ExperimentConfig, device: str, dtype: Any, for_training: bool) -> Any:
    """The base model for this process. Called after DPOConfig is built, so that DeepSpeed ZeRO-3 partitions
    the weights while loading and FSDP's low-memory loading sees the process group."""
    from safetyalign.train.distributed import load_device, load_for_engine

    return load_for_engine(cfg.model, load_device(device), dtype, for_training)


def _reference(cfg: ExperimentConfig, device: str, dtype: Any) -> Any:
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


def _log_start(backend: str, device: str, dtype: Any, cfg: ExperimentConfig, args: Any) -> None:
    from safetyalign.train.distributed import batch_layout, engine

    b = batch_layout(cfg.train.per_device_train_batch_size, cfg.train.gradient_accumulation_steps)
    log.info("training: backend=%s device=%s dtype=%s steps=%d loss=%s; batch %d per device x %d accumulation x %d "
             "processes = %d pairs per step (engine %s)", backend, device, str(dtype).replace("torch.", ""),
             cfg.train.max_steps, "+".join(args.loss_type), b["per_device_train_batch_size"],
             b["gradient_accumulation_steps"], b["world_size"], b["global_batch_size"], engine())


class TRLEngine(Engine):
    """TRL's DPOTrainer with a PEFT LoRA adapter: every field honoured except ``reference_free``."""

    name = "trl"
    auto_rank = 2
    rules = {**{f: HONOURED for f in config_fields()}, "train.reference_free": NO_REFERENCE_FREE}

    def load_policy(self, cfg: ExperimentConfig, model: Any, tokenizer: Any) -> tuple[Any, Any, Any]:
        """``(model or None, tokenizer, peft_config or None)``; Unsloth overrides it."""
        return _policy(cfg, model, tokenizer)

    def trainer_args(self, cfg: ExperimentConfig, run_dir: Path, device: str, dtype: Any, has_eval: bool) -> Any:
        """TRL's DPOConfig for this run (:func:`safetyalign.train.dpo_args.dpo_config`)."""
        from safetyalign.train.dpo_args import dpo_config

        return dpo_config(cfg, run_dir, device, dtype, has_eval)

    def run(self, cfg: ExperimentConfig, run_dir: Path, train_rows: list[dict], eval_rows: list[dict] | None,
            resume: bool, model: Any, tokenizer: Any) -> TrainResult:
        start = time.perf_counter()
        import torch

        from safetyalign.models.loading import pick_device, pick_dtype
        from safetyalign.train.distributed import setup
        from safetyalign.train.finalize import finalize

        if cfg.train.num_threads:
            torch.set_num_threads(cfg.train.num_threads)
        device = pick_device(cfg.model.device)
        setup(cpu=not device.startswith("cuda"))  # process group first (no-op for one process)
        model, tokenizer, lora = self.load_policy(cfg, model, tokenizer)
        dtype = next(model.parameters()).dtype if model is not None else pick_dtype(cfg.model.dtype, device)
        train_ds, eval_ds, pair_stats = _datasets(cfg, tokenizer, train_rows, eval_rows)
        metrics_path = run_dir / "metrics.jsonl"
        ckpt = _resume_point(run_dir, resume, metrics_path)
        args = self.trainer_args(cfg, run_dir, device, dtype, eval_ds is not None)  # before loading: _base_model
        if model is None:
            model = _base_model(cfg, device, dtype, for_training=True)
        torch.manual_seed(cfg.train.seed)  # TRL wraps the model in LoRA before the Trainer seeds: same init as
        trainer = _dpo_trainer_class()(  # the fast and prefix_cache engines
            model=model, ref_model=_reference(cfg, device, dtype), args=args, train_dataset=train_ds,
            eval_dataset=eval_ds, processing_class=tokenizer, peft_config=lora,
            callbacks=_callbacks(run_dir, metrics_path, cfg.train.report_to))
        _log_start(self.name, device, dtype, cfg, args)
        out = trainer.train(resume_from_checkpoint=str(ckpt) if ckpt else None)
        if eval_ds is not None:
            trainer.evaluate()
        return finalize(cfg, run_dir, trainer, tokenizer, out, time.perf_counter() - start, pair_stats, ckpt,
                        self.name)
