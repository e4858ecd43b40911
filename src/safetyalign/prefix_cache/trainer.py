"""Training loop of the ``prefix_cache`` backend: LoRA on the top layers, DPO from cached bottom-layer activations.

Writes the same outputs as the TRL backend: ``metrics.jsonl`` with namespaced keys, ``checkpoints/checkpoint-N``
(adapter safetensors + optimizer state as safetensors + trainer_state.json) and ``adapter/``.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from safetyalign.io import append_jsonl, atomic_write_text
from safetyalign.logs import get_logger
from safetyalign.prefix_cache.core import (
    PairCache,
    build_cache,
    dpo_step,
    encode_pair,
    validate_loss_types,
)

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


def _lr_at(step: int, args: PrefixTrainArgs) -> float:
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


def _save_checkpoint(model: Any, opt: torch.optim.Optimizer, step: int, ckpt_root: Path, keep: int) -> Path:
    from safetensors.torch import save_file

    final = ckpt_root / f"checkpoint-{step}"
    tmp = ckpt_root / f".checkpoint-{step}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    state = {}
    for i, group in enumerate(opt.param_groups):
        for j, p in enumerate(group["params"]):
            for k, v in opt.state.get(p, {}).items():
                if torch.is_tensor(v):
                    state[f"{i}.{j}.{k}"] = v.detach().contiguous().cpu()
    save_file(state, str(tmp / "optimizer.safetensors"))
    atomic_write_text(tmp / "trainer_state.json", json.dumps({"step": step}))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for old in sorted(ckpt_root.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _load_checkpoint(model: Any, opt: torch.optim.Optimizer, ckpt: Path) -> int:
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(model, load_file(str(ckpt / "adapter_model.safetensors")))
    state = load_file(str(ckpt / "optimizer.safetensors"))
    for i, group in enumerate(opt.param_groups):
        for j, p in enumerate(group["params"]):
            entries = {k.split(".", 2)[2]: v for k, v in state.items() if k.startswith(f"{i}.{j}.")}
            if entries:
                opt.state[p] = {k: v.to(p.device) for k, v in entries.items()}
    return int(json.loads((ckpt / "trainer_state.json").read_text())["step"])


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete ``checkpoints/checkpoint-N`` folder, if any."""
    ckpts = [p for p in (run_dir / "checkpoints").glob("checkpoint-*") if (p / "trainer_state.json").is_file()]
    return max(ckpts, key=lambda p: int(p.name.split("-")[1])) if ckpts else None


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop metric rows logged after the checkpoint we resume from (they will be logged again)."""
    from safetyalign.io import write_jsonl
    from safetyalign.runs import read_metrics

    write_jsonl(path, [r for r in read_metrics(path) if r.get("step", 0) <= step])


def encode_rows(tokenizer: Any, trl_rows: list[dict[str, str]], args: PrefixTrainArgs) -> list:
    """Tokenize rendered {prompt, chosen, rejected} rows."""
    return [encode_pair(tokenizer, r["prompt"], r["chosen"], r["rejected"], args.max_prompt_tokens,
                        args.max_response_tokens) for r in trl_rows]


def train_prefix_cache(model: Any, tokenizer: Any, trl_rows: list[dict[str, str]], args: PrefixTrainArgs,
                       run_dir: Path, resume: bool = False,
                       on_step: Callable[[int, dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Train the LoRA ``model`` (adapters only on layers >= split_layer) and return the final metrics.

    ``on_step(step, metrics)`` is called after every optimizer step (and after its checkpoint is written).
    """
    from tqdm.auto import tqdm

    validate_loss_types(args.loss_types)
    weights = args.loss_weights or [1.0] * len(args.loss_types)
    torch.manual_seed(args.seed)
    pairs = encode_rows(tokenizer, trl_rows, args)
    t0 = time.perf_counter()
    desc = "caching frozen layers" + ("" if args.reference_free else " + reference")
    with tqdm(total=len(pairs), desc=desc, unit="pair") as bar:
        cache = build_cache(model, pairs, args.split_layer, progress=bar.update, max_row_tokens=args.max_row_tokens,
                            reference=not args.reference_free)
    cache_s = time.perf_counter() - t0
    log.info("cached %d pairs in %.1f s (shared prompt prefix: %d tokens)", len(pairs), cache_s,
             cache.prefix.ids.shape[0])
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=args.weight_decay)
    step = 0
    ckpt = latest_checkpoint(run_dir) if resume else None
    if ckpt is not None:
        step = _load_checkpoint(model, opt, ckpt)
        _truncate_metrics(run_dir / "metrics.jsonl", step)
        log.info("resumed from %s (step %d)", ckpt, step)
    batches = _batches(len(cache.pairs), args.batch_size, args.seed)
    for _ in range(step * args.grad_accum):  # keep the data order identical to an uninterrupted run
        next(batches)
    metrics_path = run_dir / "metrics.jsonl"
    last: dict[str, Any] = {}
    model.train()
    with tqdm(total=args.max_steps, initial=step, desc="DPO (prefix cache)", unit="step") as bar:
        while step < args.max_steps:
            last = _one_step(model, opt, params, cache, batches, step, args, weights)
            step += 1
            last.update({"step": step, "train/cache_s": round(cache_s, 2)})
            if step % args.logging_steps == 0 or step == args.max_steps:
                append_jsonl(metrics_path, last)
            if args.save_steps and step % args.save_steps == 0 and step < args.max_steps:
                _save_checkpoint(model, opt, step, run_dir / "checkpoints", keep=2)
            if on_step is not None:
                on_step(step, last)
            bar.update(1)
            bar.set_postfix(loss=f"{last['train/loss']:.3f}", margin=f"{last['train/rewards/margins']:.2f}")
    model.eval()
    return last


def _one_step(model: Any, opt: torch.optim.Optimizer, params: list, cache: PairCache, batches: Any,
              step: int, args: PrefixTrainArgs, weights: list[float]) -> dict[str, Any]:
    start = time.perf_counter()
    lr = _lr_at(step, args)
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
            "train/peak_memory_gib": _peak_memory_gib()}


def _peak_memory_gib() -> float:
    if torch.cuda.is_available():
        return round(torch.cuda.max_memory_allocated() / 2**30, 3)
    try:
        import resource

        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 3)  # KiB → GiB (Linux)
    except (ImportError, OSError):
        return 0.0
