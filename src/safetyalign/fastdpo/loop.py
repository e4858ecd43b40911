"""Training loop of the ``fast`` backend: data order, steps, metrics rows, evaluation, checkpoints and resume.

The data order is transformers' Trainer's (accelerate's seedable sampler): each epoch a permutation drawn with
``torch.randperm(n, generator=seed + epoch)``, cut into micro-batches of ``per_device_train_batch_size`` (the last
may be smaller), ``gradient_accumulation_steps`` micro-batches per optimizer step (the last step of an epoch may have
fewer). Checkpoints (``checkpoints/checkpoint-<step>/``) hold the adapter (safetensors + adapter_config.json), the
AdamW state by parameter name and the RNG states (safetensors), and ``trainer_state.json``; no pickles.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from safetyalign.io import append_jsonl, atomic_write_text
from safetyalign.logs import get_logger

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


def _param_names(model: Any) -> dict[int, str]:
    return {id(p): n for n, p in model.named_parameters()}


def save_checkpoint(model: Any, trainer: Any, step: int, epoch: float, root: Path, keep: int) -> Path:
    """Write ``checkpoint-<step>`` atomically (temp folder + rename) and keep the newest ``keep`` checkpoints."""
    from safetensors.torch import save_file

    final, tmp = root / f"checkpoint-{step}", root / f".checkpoint-{step}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    names = _param_names(model)
    state = {f"{names[id(p)]}::{k}": v.detach().contiguous().cpu()
             for p, s in trainer.optimizer.state.items() for k, v in s.items() if torch.is_tensor(v)}
    save_file(state, str(tmp / "optimizer.safetensors"))
    rng = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state()
    save_file(rng, str(tmp / "rng_state.safetensors"))
    atomic_write_text(tmp / "trainer_state.json", json.dumps({"global_step": step, "epoch": epoch, "backend": "fast"}))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for old in sorted(root.glob("checkpoint-*"), key=_ckpt_step)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _ckpt_step(path: Path) -> int:
    try:
        return int(path.name.rsplit("-", 1)[-1])
    except ValueError:
        return -1


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint of this backend (trainer state, adapter and optimizer state present)."""
    done = [p for p in (run_dir / "checkpoints").glob("checkpoint-*") if _ckpt_step(p) >= 0
            and all((p / f).is_file() for f in ("trainer_state.json", "adapter_model.safetensors",
                                                "optimizer.safetensors"))]
    return max(done, key=_ckpt_step) if done else None


def load_checkpoint(model: Any, trainer: Any, ckpt: Path) -> int:
    """Restore adapter weights, AdamW state and RNG states; returns the checkpoint's step."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(model, load_file(str(ckpt / "adapter_model.safetensors")))
    state = load_file(str(ckpt / "optimizer.safetensors"))
    names = _param_names(model)
    group = trainer.optimizer.param_groups[0]
    on_device = bool(group.get("fused") or group.get("capturable"))
    for p in trainer.params:
        entries = {k.split("::", 1)[1]: v for k, v in state.items() if k.split("::", 1)[0] == names[id(p)]}
        if entries:
            trainer.optimizer.state[p] = {k: v.to(p.device if (k != "step" or on_device) else "cpu")
                                          for k, v in entries.items()}
    rng = load_file(str(ckpt / "rng_state.safetensors"))
    torch.set_rng_state(rng["cpu"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state(rng["cuda"])
    return int(json.loads((ckpt / "trainer_state.json").read_text(encoding="utf-8"))["global_step"])


def _tokens(pairs: list[tuple]) -> int:
    """Tokens as TRL counts them: prompt + answer for each of the two sequences of a pair."""
    return sum(2 * len(p) + len(c) + len(r) for p, c, r in pairs)


def _peak_memory_gib() -> float:
    from safetyalign.train.metrics import _peak_memory_gib as peak

    return round(peak(), 4)


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


class _Writer:
    """metrics.jsonl rows (appended, flushed) and, when asked, TensorBoard scalars."""

    def __init__(self, run_dir: Path, report_to: list[str]) -> None:
        self.path = run_dir / "metrics.jsonl"
        self.tb = None
        if "tensorboard" in report_to:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(log_dir=str(run_dir / "tensorboard"))

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


def _start_point(model: Any, trainer: Any, run_dir: Path, resume: bool) -> int:
    """Step to start from: the last complete checkpoint on ``--resume`` (metric rows after it dropped), else 0
    (old metrics and checkpoints removed)."""
    from safetyalign.train.metrics import truncate_metrics

    metrics_path = run_dir / "metrics.jsonl"
    ckpt = latest_checkpoint(run_dir) if resume else None
    if resume and ckpt is None:
        log.warning("--resume: no complete checkpoint in %s; starting from step 0", run_dir / "checkpoints")
    if ckpt is None:
        metrics_path.unlink(missing_ok=True)
        shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
        return 0
    step = load_checkpoint(model, trainer, ckpt)
    dropped = truncate_metrics(metrics_path, step)
    log.info("resuming from %s (%d metric rows after it dropped)", ckpt.name, dropped)
    return step


def _scheduler(cfg: Any, trainer: Any, start: int) -> None:
    """transformers' LR schedule (as TRL builds it), advanced to ``start``."""
    from transformers import get_scheduler

    t = cfg.train
    trainer.scheduler = get_scheduler(t.lr_scheduler_type, trainer.optimizer, num_warmup_steps=t.warmup_step_count(),
                                      num_training_steps=t.max_steps)
    for _ in range(start):
        trainer.scheduler.step()


def _micro_batches(pairs: list[tuple], plan: list, k: int) -> list[list[tuple]] | None:
    """Step ``k``'s micro-batches as lists of pairs (None after the last step)."""
    return [[pairs[i] for i in mb] for mb in plan[k][0]] if k < len(plan) else None


def _train_row(metrics: dict[str, float], step: int, epoch: float, tokens: int, seconds: float,
               total_tokens: int) -> dict[str, Any]:
    row: dict[str, Any] = {"step": step, "epoch": epoch}
    for k, v in metrics.items():
        row["train/lr" if k == "train/learning_rate" else k] = v
    row.update({"train/step_s": round(seconds, 4), "train/tokens_per_s": round(tokens / max(seconds, 1e-9), 2),
                "train/num_tokens": float(total_tokens), "train/peak_memory_gib": _peak_memory_gib()})
    return row


def run_loop(cfg: Any, run_dir: Path, trainer: Any, model: Any, pairs: list[tuple], eval_pairs: list[tuple],
             resume: bool) -> LoopResult:
    """Train ``cfg.train.max_steps`` optimizer steps of ``trainer`` on ``pairs``; see the module docs."""
    from tqdm.auto import tqdm

    t = cfg.train
    plan = plan_steps(len(pairs), t.per_device_train_batch_size, t.gradient_accumulation_steps, t.seed, t.max_steps)
    start = _start_point(model, trainer, run_dir, resume)
    _scheduler(cfg, trainer, start)
    refs, pre_s = precompute_references(trainer, pairs, plan, start) if t.precompute_ref_log_probs else (None, None)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    writer, losses = _Writer(run_dir, t.report_to), []
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
                save_checkpoint(model, trainer, k + 1, epoch, run_dir / "checkpoints", t.save_total_limit)
            bar.update(1)
            bar.set_postfix(loss=f"{m['train/loss']:.3f}", margin=f"{m['train/rewards/margins']:.2f}")
    train_s = time.perf_counter() - t0
    _final_rows(writer, t, plan, eval_pairs, trainer, train_s, losses, start)
    writer.close()
    return LoopResult(t.max_steps, start or None, round(train_s, 2), pre_s, _settings(trainer))


def _final_rows(writer: _Writer, t: Any, plan: list, eval_pairs: list[tuple], trainer: Any, train_s: float,
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
