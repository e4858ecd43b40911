"""The training stage: ``train()`` resolves ``train.backend`` to an engine (:mod:`safetyalign.engines`) and runs
it. Every engine writes the same run-folder outputs through :mod:`safetyalign.train.core`: ``adapter/``
(safetensors + config.yaml + training_summary.json), ``metrics.jsonl``, ``tensorboard/``, ``plots/``,
``checkpoints/``, and the copies at ``train.output_dir`` and ``run.plots_dir``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from safetyalign.train.core import TrainResult

if TYPE_CHECKING:
    from safetyalign.config import ExperimentConfig


def train(cfg: ExperimentConfig, run_dir: Path, train_rows: list[dict], eval_rows: list[dict] | None = None,
          resume: bool = False, model: Any = None, tokenizer: Any = None) -> TrainResult:
    """Train a LoRA adapter with DPO on ``train_rows`` ({prompt, chosen, rejected, ...}).

    ``model``/``tokenizer`` may be passed already loaded; the adapter is injected into that model in place and the
    trained PeftModel is returned as ``TrainResult.model``. An engine that cannot honour a field of the config
    refuses it with a one-line :class:`~safetyalign.errors.ConfigError` naming the field.
    """
    from safetyalign.engines import select_engine

    run_dir = Path(run_dir)
    check_has_pairs(train_rows)
    run_dir.mkdir(parents=True, exist_ok=True)
    engine = select_engine(cfg)
    return engine.train(cfg, run_dir, train_rows, eval_rows, resume=resume, model=model, tokenizer=tokenizer)


def check_has_pairs(train_rows: list[dict]) -> None:
    """Every engine needs at least one usable pair: zero is one clear line, before any engine is chosen."""
    from safetyalign.errors import DataError

    usable = [r for r in train_rows if all(isinstance(r.get(k), str) and r.get(k) for k in ("chosen", "rejected"))
              and r.get("prompt")]
    if not usable:
        raise DataError(f"no usable training pairs ({len(train_rows)} rows, none with prompt, chosen and rejected "
                        f"text): check data.sources (columns, split) and the skip reasons in data/data_summary.json")


__all__ = ["TrainResult", "check_has_pairs", "train"]
