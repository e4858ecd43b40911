"""Training loop of the ``fast`` backend: data order, steps, metrics rows, evaluation, checkpoints and resume.

The data order is transformers' Trainer's (accelerate's seedable sampler): each epoch a permutation drawn with
``torch.randperm(n, generator=seed + epoch)``, cut into micro-batches of ``per_device_train_batch_size`` (the last
may be smaller), ``gradient_accumulation_steps`` micro-batches per optimizer step (the last step of an epoch may have
fewer). Checkpoints, metrics, the LR schedule and peak memory are the training core's
(:mod:`safetyalign.train.checkpoints`, :mod:`safetyalign.train.core`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from safetyalign.logs import get_logger
from safetyalign.train.checkpoints import save_checkpoint, start_point
from safetyalign.train.core import MetricsWriter, lr_scheduler, peak_memory_gib

log = get_logger(__name__)


@dataclass
class LoopResult:
    """What :func:`run_loop` did: steps reached, the step it resumed from, seconds, fast-path settings used."""

    steps: int
    resumed: int | None
    train_seconds: float
    precompute_seconds: float | None = None
    fast_settings: dict[str, Any] = field(default_factory=dict)


def plan_steps(n: int, batch: int, accum: int, seed: int, max_steps: int) -> list[tuple[list[list[int]], float]]:
    """Per optimizer step: its micro-batches (pair indices) and the epoch reached after it (see module docs)."""
    plan: list[tuple[list[list[int]], float]] = []
    epoch = 0
    while len(plan) < max_steps:
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch)).tolist()
        batches = [order[i:i + batch] for i in range(0, n, batch)]
        per_epoch = -(-len(batches) // accum)
        for k, i in enumerate(range(0, len(batches), accum)):
            plan.append((batches[i:i + accum], round(epoch + (k + 1) / per_epoch, 4)))
            if len(plan) == max_steps:
                break
        epoch += 1
    return plan


def _tokens(pairs: list[tuple]) -> int:
    """Tokens as TRL counts them: prompt + answer for each of the two sequences of a pair."""
    return sum(2 * len(p) + len(c) + len(r) for p, c, r in pairs)


def precompute_references(trainer: Any, pairs: list[tuple], plan: list, start: int) -> tuple[dict, float]:
    """Reference log-probs of every micro-batch of steps ``start..``, packed exactly as the step will pack it."""
    t0 = time.perf_counter()
    refs = {k: [trainer.reference_logps([pairs[i] for i in mb]).cpu() for mb in plan[k][0]]
            for k in range(start, len(plan))}
    seconds = round(time.perf_counter() - t0, 2)
    log.info("reference log-probs precomputed for %d micro-batches in %.1f s", sum(map(len, refs.values())), seconds)
    return refs, seconds


@torch.no_grad()
def evaluate(trainer: Any, pairs: list[tuple], batch: int) -> dict[str, float]:
    """``eval/...`` metrics: the DPO loss and rewards over ``pairs`` (no dropout), averaged over batches."""
    t0 = time.perf_counter()
    totals: dict[str, float] = {}
    chunks = [pairs[i:i + batch] for i in range(0, len(pairs), batch)]
    for mb in chunks:
        loss, stats = trainer.loss(mb, training=False)
        for k, v in {"loss": loss, **stats}.items():
            totals[k] = totals.get(k, 0.0) + float(v) / len(chunks)
    return {**{f"eval/{k}": v for k, v in totals.items()}, "eval/runtime_s": round(time.perf_counter() - t0, 3)}


def _micro_batches(pairs: list[tuple], plan: list, k: int) -> list[list[tuple]] | None:
    """Step ``k``'s micro-batches as lists of pairs (None after the last step)."""
    return [[pairs[i] for i in mb] for mb in plan[k][0]] if k < len(plan) else None


def _train_row(metrics: dict[str, float], step: int, epoch: float, tokens: int, seconds: float,
               total_tokens: int) -> dict[str, Any]:
    row: dict[str, Any] = {"step": step, "epoch": epoch}
    for k, v in metrics.items():
        row["train/lr" if k == "train/learning_rate" else k] = v
    row.update({"train/step_s": round(seconds, 4), "train/tokens_per_s": round(tokens / max(seconds, 1e-9), 2),
                "train/num_tokens": float(total_tokens), "train/peak_memory_gib": peak_memory_gib()})
    return row


def run_loop(cfg: Any, run_dir: Path, trainer: Any, model: Any, pairs: list[tuple], eval_pairs: list[tuple],
             resume: bool) -> LoopResult:
    """Train ``cfg.train.max_steps`` optimizer steps of ``trainer`` on ``pairs``; see the module docs."""
    from tqdm.auto import tqdm

    t = cfg.train
    plan = plan_steps(len(pairs), t.per_device_train_batch_size, t.gradient_accumulation_steps, t.seed, t.max_steps)
    start = start_point(model, trainer.optimizer, trainer.params, run_dir, resume)
    trainer.scheduler = lr_scheduler(cfg, trainer.optimizer, start)
    refs, pre_s = precompute_references(trainer, pairs, plan, start) if t.precompute_ref_log_probs else (None, None)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    writer, losses = MetricsWriter(run_dir, t.report_to), []
    total_tokens = sum(_tokens([pairs[i] for mb in plan[k][0] for i in mb]) for k in range(start))
    t0 = time.perf_counter()
    model.train()
    with tqdm(total=t.max_steps, initial=start, desc="DPO (fast)", unit="step", disable=t.disable_tqdm) as bar:
        upcoming = _micro_batches(pairs, plan, start)
        for k in range(start, t.max_steps):
            epoch = plan[k][1]
            batches, upcoming = upcoming, _micro_batches(pairs, plan, k + 1)
            s0 = time.perf_counter()
            m = trainer.step_accumulated(batches, refs[k] if refs else None, upcoming)  # prepares upcoming[0]
            seconds, tokens = time.perf_counter() - s0, _tokens([p for b in batches for p in b])
            total_tokens += tokens
            losses.append(m["train/loss"])
            if (k + 1) % t.logging_steps == 0 or k == start or k + 1 == t.max_steps:
                writer.row(_train_row(m, k + 1, epoch, tokens, seconds, total_tokens))
            if eval_pairs and t.eval_steps and (k + 1) % t.eval_steps == 0 and k + 1 < t.max_steps:
                writer.row({"step": k + 1, "epoch": epoch, **evaluate(trainer, eval_pairs, t.per_device_eval_batch_size
                                                                       or t.per_device_train_batch_size)})
            if (k + 1) % t.save_steps == 0 or k + 1 == t.max_steps:
                save_checkpoint(model, trainer.optimizer, k + 1, epoch, run_dir / "checkpoints", t.save_total_limit,
                                "fast")
            bar.update(1)
            bar.set_postfix(loss=f"{m['train/loss']:.3f}", margin=f"{m['train/rewards/margins']:.2f}")
    train_s = time.perf_counter() - t0
    _final_rows(writer, t, plan, eval_pairs, trainer, train_s, losses, start)
    writer.close()
    return LoopResult(t.max_steps, start or None, round(train_s, 2), pre_s, _settings(trainer))


def _final_rows(writer: MetricsWriter, t: Any, plan: list, eval_pairs: list[tuple], trainer: Any, train_s: float,
                losses: list[float], start: int) -> None:
    """The end-of-training summary row (as the Trainer logs it) and the final evaluation."""
    steps = t.max_steps - start
    epoch = plan[-1][1] if plan else 0.0
    if steps > 0:
        writer.row({"step": t.max_steps, "epoch": epoch, "train/runtime_s": round(train_s, 3),
                    "train/steps_per_s": round(steps / train_s, 4), "train/loss_avg": sum(losses) / len(losses)})
    if eval_pairs:
        writer.row({"step": t.max_steps, "epoch": epoch,
                    **evaluate(trainer, eval_pairs, t.per_device_eval_batch_size or t.per_device_train_batch_size)})


def _settings(trainer: Any) -> dict[str, Any]:
    """The fast-path settings that were in effect (for training_summary.json)."""
    d = trainer.decoder
    return {"attention": d.spec.attention, "compiled": trainer.compiled, "fused_projections": d.spec.fused,
            "fused_logprobs": d.fused_logprobs, "reentrant_checkpoint": d.reentrant,
            "gradient_checkpointing": d.checkpoint, "embedding_offloaded": d.embed_offloaded,
            "prefetch": trainer.config.prefetch}
