"""After training: the adapter folder (atomic), training_summary.json, plots and the legacy copies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from safetyalign.logs import get_logger
from safetyalign.runs import read_metrics
from safetyalign.train.artifacts import checkpoint_step, copy_dir, save_adapter

log = get_logger(__name__)
SUMMARY_KEYS = ("train/loss", "train/rewards/chosen", "train/rewards/rejected", "train/rewards/margins",
                "train/rewards/accuracies")


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


def finalize(cfg: Any, run_dir: Path, trainer: Any, tokenizer: Any, out: Any, seconds: float,
             pair_stats: dict[str, Any], ckpt: Path | None, backend: str) -> Any:
    """Write ``<run>/adapter`` (+ copy at ``train.output_dir``), plots (+ copies in ``run.plots_dir``).

    Every process calls this (gathering sharded weights is a collective); only the main process writes files.
    """
    from safetyalign.train import distributed
    from safetyalign.train.trainer import TrainResult

    metrics_path = run_dir / "metrics.jsonl"
    steps = int(trainer.state.global_step)
    resumed = checkpoint_step(ckpt) if ckpt else None
    state_dict = distributed.full_state_dict(trainer)  # FSDP / ZeRO-3: gathered on every process
    adapter_dir, plots, metrics = run_dir / "adapter", [], {}
    if distributed.is_main_process():
        metrics = final_metrics(read_metrics(metrics_path))
        summary = _summary(cfg, trainer, out, seconds, pair_stats, metrics, steps, resumed, backend)
        adapter_dir = write_adapter(cfg, run_dir, distributed.unwrap(trainer), tokenizer, summary, state_dict)
        plots = write_plots(cfg, run_dir, metrics_path)
        log_summary(metrics, summary)
    del state_dict
    distributed.barrier()  # the adapter exists for everyone once this returns
    if not distributed.is_main_process():
        metrics = final_metrics(read_metrics(metrics_path))
    return TrainResult(adapter_dir=adapter_dir, metrics_path=metrics_path, metrics=metrics, steps=steps,
                       seconds=round(seconds, 2), plots=plots, resumed_from=resumed, model=trainer.model)


def _summary(cfg: Any, trainer: Any, out: Any, seconds: float, pair_stats: dict[str, Any], metrics: dict[str, Any],
             steps: int, resumed: int | None, backend: str) -> dict[str, Any]:
    """The content of ``adapter/training_summary.json``."""
    from safetyalign.train.distributed import batch_layout, engine

    run_steps = steps - (resumed or 0)
    return {
        "steps": steps, "seconds": round(seconds, 2), "backend": backend, "resumed_from_step": resumed,
        "s_per_step": round(float(out.metrics.get("train_runtime", seconds)) / max(run_steps, 1), 3),
        "device": str(trainer.args.device), "loss_type": list(trainer.args.loss_type),
        "loss_weights": trainer.args.loss_weights, "beta": trainer.args.beta,
        "reference": ("explicit" if trainer.ref_model is not None else
                      "precomputed" if trainer.args.precompute_ref_log_probs else "adapter_disabled"),
        "distributed": {"engine": engine(), **batch_layout(cfg.train.per_device_train_batch_size,
                                                            cfg.train.gradient_accumulation_steps)},
        "pairs": pair_stats, "train_output": {k: v for k, v in out.metrics.items() if isinstance(v, (int, float))},
        "final_metrics": metrics,
    }


def write_adapter(cfg: Any, run_dir: Path, model: Any, tokenizer: Any, summary: dict[str, Any],
                   state_dict: dict[str, Any] | None) -> Path:
    from safetyalign.config import dump_config

    adapter_dir = save_adapter(model, tokenizer, run_dir / "adapter", {
        "config.yaml": dump_config(cfg),
        "training_summary.json": json.dumps(summary, indent=2, default=str) + "\n"}, state_dict=state_dict)
    log.info("adapter saved to %s", adapter_dir)
    legacy = Path(cfg.train.output_dir)
    if legacy.resolve() != adapter_dir.resolve():
        try:
            copy_dir(adapter_dir, legacy)
            log.info("adapter copied to %s", legacy)
        except OSError as exc:  # the legacy copy is a convenience: the run folder keeps the adapter and plots
            log.warning("adapter not copied to %s: %s", legacy, exc)
    return adapter_dir


def write_plots(cfg: Any, run_dir: Path, metrics_path: Path) -> list[Path]:
    from safetyalign.train.plots import plot_training

    plots = plot_training(metrics_path, run_dir / "plots")
    plots_dir = Path(cfg.run.plots_dir)
    if plots and plots_dir.resolve() != (run_dir / "plots").resolve():
        try:
            plots_dir.mkdir(parents=True, exist_ok=True)
            for p in plots:
                shutil.copy2(p, plots_dir / p.name)
        except OSError as exc:
            log.warning("plots not copied to %s: %s (they are in %s)", plots_dir, exc, run_dir / "plots")
    return plots


def log_summary(metrics: dict[str, Any], summary: dict[str, Any]) -> None:
    parts = []
    for key in ("train/loss", "train/rewards/margins", "train/rewards/accuracies"):
        if f"{key}/first" in metrics:
            parts.append(f"{key.split('/')[-1]} {metrics[f'{key}/first']:.4f} -> {metrics[f'{key}/last']:.4f}")
    log.info("trained %d steps in %.1f s (%.2f s/step): %s", summary["steps"], summary["seconds"],
             summary["s_per_step"], "; ".join(parts))
