"""Training loop of the ``prefix_cache`` backend: LoRA on the top layers, DPO from cached bottom-layer activations.

Writes through the training core: ``metrics.jsonl`` (+ TensorBoard) with namespaced keys and the project's
checkpoint format (:mod:`safetyalign.train.checkpoints`). ``lr_scheduler_type: cosine`` is its own cosine (warm-up
``lr * (step + 1) / W`` with ``W = max(1, int(warmup * max_steps))``, one step ahead of transformers' during
warm-up), kept so that published quickstart numbers reproduce; other schedules are transformers'.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from safetyalign.logs import get_logger
from safetyalign.prefix_cache.core import (
    PairCache,
    build_cache,
    dpo_step,
    encode_pair,
    validate_loss_types,
)
from safetyalign.train.checkpoints import latest_checkpoint, save_checkpoint, start_point
from safetyalign.train.core import MetricsWriter, peak_memory_gib

__all__ = ["PrefixTrainArgs", "encode_rows", "latest_checkpoint", "train_prefix_cache"]

log = get_logger(__name__)


@dataclass
class PrefixTrainArgs:
    """Hyper-parameters of one prefix-cache DPO run."""

    split_layer: int
    max_steps: int
    batch_size: int = 4
    grad_accum: int = 1
    lr: float = 5e-4
    warmup_ratio: float = 0.1
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    beta: float = 0.1
    loss_types: list[str] = field(default_factory=lambda: ["sigmoid"])
    loss_weights: list[float] | None = None
    seed: int = 42
    save_steps: int = 0
    logging_steps: int = 1
    max_prompt_tokens: int = 96
    max_response_tokens: int = 48
    max_row_tokens: int = 1024  # micro-batches are packed into rows of at most this many tokens
    reference_free: bool = False  # no reference log-probs (uniform reference)
    save_total_limit: int = 2
    report_to: list[str] = field(default_factory=list)  # "tensorboard" -> <run>/tensorboard
    disable_tqdm: bool = False
    lr_scheduler_type: str = "cosine"  # "cosine": the schedule of _lr_at; others: transformers.get_scheduler's
    warmup_steps: int = 0  # warm-up steps of a transformers schedule (cosine uses warmup_ratio)


def _lr_at(step: int, args: PrefixTrainArgs, schedule: Callable[[int], float] | None = None) -> float:
    if schedule is not None:  # a transformers schedule (train.lr_scheduler_type other than cosine)
        return args.lr * schedule(step)
    warm = max(1, int(args.warmup_ratio * args.max_steps))
    if step < warm:
        return args.lr * (step + 1) / warm
    progress = (step - warm) / max(1, args.max_steps - warm)
    return args.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def _batches(n: int, size: int, seed: int) -> Any:
    """Endless deterministic shuffled epochs of index batches."""
    epoch = 0
    while True:
        order = list(range(n))
        random.Random(seed + epoch).shuffle(order)
        for i in range(0, n - size + 1 if n >= size else 1, size):
            yield order[i: i + size]
        epoch += 1


def encode_rows(tokenizer: Any, trl_rows: list[dict[str, str]], args: PrefixTrainArgs) -> list:
    """Tokenize rendered {prompt, chosen, rejected} rows."""
    return [encode_pair(tokenizer, r["prompt"], r["chosen"], r["rejected"], args.max_prompt_tokens,
                        args.max_response_tokens) for r in trl_rows]


def train_prefix_cache(model: Any, tokenizer: Any, trl_rows: list[dict[str, str]], args: PrefixTrainArgs,
                       run_dir: Path, resume: bool = False,
                       on_step: Callable[[int, dict[str, Any]], None] | None = None,
                       info: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train the LoRA ``model`` (adapters only on layers >= split_layer) and return the final metrics.

    ``on_step(step, metrics)`` is called after every optimizer step (and after its checkpoint is written);
    ``info``, when given, receives ``resumed`` (step or None), ``train_seconds`` and ``cache_s``.
    """
    from tqdm.auto import tqdm

    validate_loss_types(args.loss_types)
    weights = args.loss_weights or [1.0] * len(args.loss_types)
    torch.manual_seed(args.seed)
    pairs = encode_rows(tokenizer, trl_rows, args)
    t0 = time.perf_counter()
    desc = "caching frozen layers" + ("" if args.reference_free else " + reference")
    with tqdm(total=len(pairs), desc=desc, unit="pair", disable=args.disable_tqdm) as bar:
        cache = build_cache(model, pairs, args.split_layer, progress=bar.update, max_row_tokens=args.max_row_tokens,
                            reference=not args.reference_free)
    cache_s = time.perf_counter() - t0
    log.info("cached %d pairs in %.1f s (shared prompt prefix: %d tokens)", len(pairs), cache_s,
             cache.prefix.ids.shape[0])
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=args.weight_decay)
    schedule = None
    if args.lr_scheduler_type != "cosine":
        from transformers import get_scheduler

        schedule = get_scheduler(args.lr_scheduler_type, opt, num_warmup_steps=args.warmup_steps,
                                 num_training_steps=args.max_steps).lr_lambdas[0]
    step = start_point(model, opt, params, run_dir, resume)
    resumed = step or None
    batches = _batches(len(cache.pairs), args.batch_size, args.seed)
    for _ in range(step * args.grad_accum):  # keep the data order identical to an uninterrupted run
        next(batches)
    writer, last = MetricsWriter(run_dir, args.report_to), {}
    t1 = time.perf_counter()
    model.train()
    with tqdm(total=args.max_steps, initial=step, desc="DPO (prefix cache)", unit="step",
              disable=args.disable_tqdm) as bar:
        while step < args.max_steps:
            last = _one_step(model, opt, params, cache, batches, _lr_at(step, args, schedule), args, weights)
            step += 1
            last.update({"step": step, "train/cache_s": round(cache_s, 2)})
            if step % args.logging_steps == 0 or step == args.max_steps:
                writer.row(last)
            if args.save_steps and step % args.save_steps == 0 and step < args.max_steps:
                save_checkpoint(model, opt, step, _epoch(step, args, len(cache.pairs)), run_dir / "checkpoints",
                                args.save_total_limit, "prefix_cache")
            if on_step is not None:
                on_step(step, last)
            bar.update(1)
            bar.set_postfix(loss=f"{last['train/loss']:.3f}", margin=f"{last['train/rewards/margins']:.2f}")
    writer.close()
    model.eval()
    if info is not None:
        info.update(resumed=resumed, train_seconds=time.perf_counter() - t1, cache_s=round(cache_s, 2))
    return last


def _epoch(step: int, args: PrefixTrainArgs, n: int) -> float:
    """Epochs of ``n`` pairs seen after ``step`` optimizer steps."""
    return round(step * args.batch_size * args.grad_accum / max(n, 1), 4)


def _one_step(model: Any, opt: torch.optim.Optimizer, params: list, cache: PairCache, batches: Any,
              lr: float, args: PrefixTrainArgs, weights: list[float]) -> dict[str, Any]:
    start = time.perf_counter()
    for g in opt.param_groups:
        g["lr"] = lr
    totals: dict[str, float] = {}
    loss_sum = 0.0
    for _ in range(args.grad_accum):
        out = dpo_step(model, cache, [cache.pairs[i] for i in next(batches)], args.split_layer, args.beta,
                       args.loss_types, weights, args.max_row_tokens)
        (out.loss / args.grad_accum).backward()
        loss_sum += out.loss.item() / args.grad_accum
        for k, v in out.stats.items():
            totals[k] = totals.get(k, 0.0) + v / args.grad_accum
    grad_norm = torch.nn.utils.clip_grad_norm_(params, args.max_grad_norm).item()
    opt.step()
    opt.zero_grad(set_to_none=True)
    seconds = time.perf_counter() - start
    tokens = totals.pop("train/tokens") * args.grad_accum
    return {"train/loss": loss_sum, **totals, "train/lr": lr, "train/grad_norm": grad_norm,
            "train/step_s": round(seconds, 3), "train/tokens_per_s": round(tokens / seconds, 1),
            "train/peak_memory_gib": peak_memory_gib()}
