"""The training core every engine writes through: :class:`TrainResult`, the one ``training_summary.json`` schema
(versioned), the ``metrics.jsonl`` + TensorBoard writer, the learning-rate schedule (``transformers.get_scheduler``),
peak memory, and the closing steps (adapter, plots, legacy copies). Checkpoints live in
:mod:`safetyalign.train.checkpoints`. Nothing here imports an engine or a stage.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from safetyalign.io import append_jsonl
from safetyalign.logs import get_logger

if TYPE_CHECKING:
    from safetyalign.config import ExperimentConfig

log = get_logger(__name__)
SUMMARY_VERSION = 2  # 1 = the three per-engine layouts before the engine contract
SUMMARY_KEYS = ("train/loss", "train/rewards/chosen", "train/rewards/rejected", "train/rewards/margins",
                "train/rewards/accuracies")


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


def peak_memory_gib() -> float:
    """Peak CUDA memory when on a GPU, else the process's peak resident set size (GiB)."""
    import torch

    if torch.cuda.is_available():
        return round(torch.cuda.max_memory_allocated() / 2**30, 4)
    try:
        import resource
        import sys

        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return round(rss / 2**30 if sys.platform == "darwin" else rss / 2**20, 4)
    except (ImportError, OSError):
        return 0.0


def lr_scheduler(cfg: ExperimentConfig, optimizer: Any, start: int = 0) -> Any:
    """transformers' schedule ``train.lr_scheduler_type`` with ``train.warmup_steps`` (as TRL builds it), advanced
    to step ``start`` (resume)."""
    from transformers import get_scheduler

    t = cfg.train
    scheduler = get_scheduler(t.lr_scheduler_type, optimizer, num_warmup_steps=t.warmup_step_count(),
                              num_training_steps=t.max_steps)
    for _ in range(start):
        scheduler.step()
    return scheduler


class MetricsWriter:
    """``<run>/metrics.jsonl`` rows (appended and flushed, so a kill loses nothing written) and, when
    ``train.report_to`` has ``tensorboard``, the same scalars in ``<run>/tensorboard``."""

    def __init__(self, run_dir: Path, report_to: list[str]) -> None:
        self.path = Path(run_dir) / "metrics.jsonl"
        self.tb = None
        if "tensorboard" in report_to:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(log_dir=str(Path(run_dir) / "tensorboard"))

    def row(self, row: dict[str, Any]) -> None:
        append_jsonl(self.path, row)
        if self.tb is not None:
            for k, v in row.items():
                if k not in ("step", "epoch") and isinstance(v, (int, float)):
                    self.tb.add_scalar(k, v, row["step"])
            self.tb.flush()

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def final_metrics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Last value of every metric key (train and eval), plus first/last of the main curves."""
    last: dict[str, Any] = {}
    for row in rows:
        last.update({k: v for k, v in row.items() if k not in ("step", "epoch")})
    train_rows = [r for r in rows if "train/loss" in r]
    if train_rows:
        for key in SUMMARY_KEYS:
            vals = [r[key] for r in train_rows if key in r]
            if vals:
                last[f"{key}/first"], last[f"{key}/last"] = vals[0], vals[-1]
    return last


def summary(cfg: ExperimentConfig, *, engine: str, steps: int, resumed: int | None, seconds: float,
            train_seconds: float, device: str, reference: str, pairs: dict[str, Any], metrics: dict[str, Any],
            engine_details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The content of ``adapter/training_summary.json``, the same keys for every engine (``schema_version``)."""
    from safetyalign.train.distributed import batch_layout
    from safetyalign.train.distributed import engine as dist_engine
    from safetyalign.train.dpo_args import loss_spec

    t = cfg.train
    types, weights = loss_spec(t)
    return {
        "schema_version": SUMMARY_VERSION, "backend": engine, "steps": steps, "max_steps": t.max_steps,
        "resumed_from_step": resumed, "seconds": round(seconds, 2),
        "s_per_step": round(train_seconds / max(steps - (resumed or 0), 1), 3), "device": device,
        "loss_type": types, "loss_weights": weights, "beta": t.beta, "reference": reference,
        "peak_memory_gib": peak_memory_gib(),
        "distributed": {"engine": dist_engine(), **batch_layout(t.per_device_train_batch_size,
                                                                  t.gradient_accumulation_steps)},
        "pairs": pairs, "final_metrics": metrics, "engine_details": engine_details or {},
    }


def write_adapter(cfg: ExperimentConfig, run_dir: Path, model: Any, tokenizer: Any, summary_: dict[str, Any],
                  state_dict: dict[str, Any] | None = None) -> Path:
    """``<run>/adapter`` (atomic: safetensors, config.yaml, training_summary.json) and its copy at
    ``train.output_dir``."""
    from safetyalign.config import dump_config
    from safetyalign.train.artifacts import copy_dir, save_adapter

    adapter_dir = save_adapter(model, tokenizer, Path(run_dir) / "adapter", {
        "config.yaml": dump_config(cfg),
        "training_summary.json": json.dumps(summary_, indent=2, default=str) + "\n"}, state_dict=state_dict)
    log.info("adapter saved to %s", adapter_dir)
    legacy = Path(cfg.train.output_dir)
    if legacy.resolve() != adapter_dir.resolve():
        try:
            copy_dir(adapter_dir, legacy)
            log.info("adapter copied to %s", legacy)
        except OSError as exc:  # the legacy copy is a convenience: the run folder keeps the adapter and plots
            log.warning("adapter not copied to %s: %s", legacy, exc)
    return adapter_dir


def write_plots(cfg: ExperimentConfig, run_dir: Path, metrics_path: Path) -> list[Path]:
    """Training plots into ``<run>/plots`` and copies into ``run.plots_dir``."""
    from safetyalign.train.plots import plot_training

    plots = plot_training(metrics_path, Path(run_dir) / "plots")
    plots_dir = Path(cfg.run.plots_dir)
    if plots and plots_dir.resolve() != (Path(run_dir) / "plots").resolve():
        try:
            plots_dir.mkdir(parents=True, exist_ok=True)
            for p in plots:
                shutil.copy2(p, plots_dir / p.name)
        except OSError as exc:
            log.warning("plots not copied to %s: %s (they are in %s)", plots_dir, exc, Path(run_dir) / "plots")
    return plots


def log_summary(metrics: dict[str, Any], summary_: dict[str, Any]) -> None:
    parts = []
    for key in ("train/loss", "train/rewards/margins", "train/rewards/accuracies"):
        if f"{key}/first" in metrics:
            parts.append(f"{key.split('/')[-1]} {metrics[f'{key}/first']:.4f} -> {metrics[f'{key}/last']:.4f}")
    log.info("trained %d steps in %.1f s (%.2f s/step): %s", summary_["steps"], summary_["seconds"],
             summary_["s_per_step"], "; ".join(parts))


def finish(cfg: ExperimentConfig, run_dir: Path, model: Any, tokenizer: Any, summary_: dict[str, Any]) -> TrainResult:
    """Adapter, plots and the log line for a one-process engine; the :class:`TrainResult` every engine returns."""
    metrics_path = Path(run_dir) / "metrics.jsonl"
    adapter_dir = write_adapter(cfg, run_dir, model, tokenizer, summary_)
    plots = write_plots(cfg, run_dir, metrics_path)
    log_summary(summary_["final_metrics"], summary_)
    return TrainResult(adapter_dir=adapter_dir, metrics_path=metrics_path, metrics=summary_["final_metrics"],
                       steps=summary_["steps"], seconds=summary_["seconds"], plots=plots,
                       resumed_from=summary_["resumed_from_step"], model=model)
