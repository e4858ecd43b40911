"""Training metrics: TRL/Trainer log dicts -> namespaced rows in ``<run>/metrics.jsonl``.

One JSON object per logged step, keys as in docs/run_folder.md: ``step``, ``epoch``, ``train/loss``,
``train/rewards/{chosen,rejected,margins,accuracies}``, ``train/lr``, ``train/grad_norm``, ``train/tokens_per_s``,
``train/peak_memory_gib``; evaluation rows use ``eval/...``. Every other TRL metric keeps its name under the prefix
(``train/logps/chosen``, ``train/entropy``...). The file is appended and flushed per row, so it survives a kill;
on resume, rows after the resumed step are dropped first (:func:`truncate_metrics`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from safetyalign.io import append_jsonl, write_jsonl
from safetyalign.runs import read_metrics

RENAME = {"learning_rate": "lr", "train_loss": "loss_avg", "train_runtime": "runtime_s",
          "train_samples_per_second": "samples_per_s", "train_steps_per_second": "steps_per_s"}
SKIP = {"epoch", "total_flos", "num_tokens"}


def namespace_logs(logs: dict[str, Any], step: int, epoch: float | None) -> dict[str, Any]:
    """A Trainer ``logs`` dict as one metrics row with ``train/`` or ``eval/`` keys."""
    row: dict[str, Any] = {"step": step, "epoch": round(epoch, 4) if epoch is not None else None}
    is_eval = any(k.startswith("eval_") for k in logs)
    for key, value in logs.items():
        if key in SKIP or not isinstance(value, (int, float)):
            continue
        if key.startswith("eval_"):
            name = "eval/" + RENAME.get(key[5:], key[5:])
        else:
            name = ("eval/" if is_eval else "train/") + RENAME.get(key, key)
        row[name] = float(value)
    return row


def truncate_metrics(path: Path, max_step: int) -> int:
    """Keep only rows with ``step <= max_step`` (before resuming from that step); returns rows dropped."""
    rows = read_metrics(path)
    kept = [r for r in rows if int(r.get("step", 0)) <= max_step]
    if len(kept) != len(rows) or (path.is_file() and not path.read_text(encoding="utf-8").endswith("\n")):
        write_jsonl(path, kept)
    return len(rows) - len(kept)


def make_metrics_callback(path: Path) -> Any:
    """A ``transformers.TrainerCallback`` that appends namespaced rows (plus throughput and peak memory)."""
    import torch
    from transformers import TrainerCallback

    from safetyalign.train.core import peak_memory_gib

    class MetricsCallback(TrainerCallback):
        """Writes metrics.jsonl; adds tokens/s (from TRL's num_tokens) and peak accelerator memory."""

        def __init__(self) -> None:
            self.last_time: float | None = None
            self.last_tokens: float | None = None

        def on_train_begin(self, args, state, control, **kwargs):
            self.last_time, self.last_tokens = time.perf_counter(), 0.0  # TRL's token counter starts at 0
            if torch.cuda.is_available():
                torch.cuda.reset_peak_memory_stats()

        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or not state.is_world_process_zero:
                return
            row = namespace_logs(logs, state.global_step, state.epoch)
            if "num_tokens" in logs and not any(k.startswith("eval_") for k in logs):
                now, tokens = time.perf_counter(), float(logs["num_tokens"])
                if self.last_time is not None and self.last_tokens is not None and now > self.last_time:
                    row["train/tokens_per_s"] = round((tokens - self.last_tokens) / (now - self.last_time), 2)
                self.last_time, self.last_tokens = now, tokens
                row["train/num_tokens"] = tokens
                row["train/peak_memory_gib"] = peak_memory_gib()
            if len(row) > 2:
                append_jsonl(path, row)

    return MetricsCallback()
