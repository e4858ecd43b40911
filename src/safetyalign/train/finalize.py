"""After TRL / Unsloth training: the adapter folder (atomic), training_summary.json (the core's schema), plots and
the legacy copies; the collective parts (gathering sharded weights) for multi-process runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from safetyalign.logs import get_logger
from safetyalign.runs import read_metrics
from safetyalign.train.artifacts import checkpoint_step
from safetyalign.train.core import TrainResult, final_metrics, log_summary, summary, write_adapter, write_plots

if TYPE_CHECKING:
    from safetyalign.config import ExperimentConfig

log = get_logger(__name__)


def finalize(cfg: ExperimentConfig, run_dir: Path, trainer: Any, tokenizer: Any, out: Any, seconds: float,
             pair_stats: dict[str, Any], ckpt: Path | None, backend: str) -> TrainResult:
    """Write ``<run>/adapter`` (+ copy at ``train.output_dir``), plots (+ copies in ``run.plots_dir``).

    Every process calls this (gathering sharded weights is a collective); only the main process writes files.
    """
    from safetyalign.train import distributed

    metrics_path = run_dir / "metrics.jsonl"
    steps = int(trainer.state.global_step)
    resumed = checkpoint_step(ckpt) if ckpt else None
    state_dict = distributed.full_state_dict(trainer)  # FSDP / ZeRO-3: gathered on every process
    adapter_dir, plots, metrics = run_dir / "adapter", [], {}
    if distributed.is_main_process():
        metrics = final_metrics(read_metrics(metrics_path))
        s = _summary(cfg, trainer, out, seconds, pair_stats, metrics, steps, resumed, backend)
        adapter_dir = write_adapter(cfg, run_dir, distributed.unwrap(trainer), tokenizer, s, state_dict)
        plots = write_plots(cfg, run_dir, metrics_path)
        log_summary(metrics, s)
    del state_dict
    distributed.barrier()  # the adapter exists for everyone once this returns
    if not distributed.is_main_process():
        metrics = final_metrics(read_metrics(metrics_path))
    return TrainResult(adapter_dir=adapter_dir, metrics_path=metrics_path, metrics=metrics, steps=steps,
                       seconds=round(seconds, 2), plots=plots, resumed_from=resumed, model=trainer.model)


def _summary(cfg: ExperimentConfig, trainer: Any, out: Any, seconds: float, pair_stats: dict[str, Any],
             metrics: dict[str, Any], steps: int, resumed: int | None, backend: str) -> dict[str, Any]:
    """The content of ``adapter/training_summary.json`` (:func:`safetyalign.train.core.summary`)."""
    t = cfg.train
    reference = ("explicit" if t.use_reference_model else
                 "precomputed" if t.precompute_ref_log_probs else "adapter_disabled")
    return summary(cfg, engine=backend, steps=steps, resumed=resumed, seconds=seconds,
                   train_seconds=float(out.metrics.get("train_runtime", seconds)), device=str(trainer.args.device),
                   reference=reference, pairs=pair_stats, metrics=metrics,
                   engine_details={"train_output": {k: v for k, v in out.metrics.items()
                                                    if isinstance(v, (int, float))}})
