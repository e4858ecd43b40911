"""The project's checkpoint format, shared by the ``fast`` and ``prefix_cache`` engines (``trl`` and ``unsloth``
keep transformers' Trainer layout, which the Trainer itself resumes).

``<run>/checkpoints/checkpoint-<step>/`` holds the adapter (``adapter_model.safetensors`` + adapter_config.json),
the optimizer state keyed by parameter name (``optimizer.safetensors``: ``<param name>::<state key>``), the RNG
states (``rng_state.safetensors``) and ``trainer_state.json`` (``{"global_step", "epoch", "backend"}``); written to
a temporary folder and renamed, so a kill never leaves a half checkpoint; no pickles. On resume, rows of
``metrics.jsonl`` after the checkpoint are dropped (they are logged again).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

from safetyalign.io import atomic_write_text
from safetyalign.logs import get_logger

log = get_logger(__name__)
FILES = ("trainer_state.json", "adapter_model.safetensors", "optimizer.safetensors")


def _param_names(model: Any) -> dict[int, str]:
    return {id(p): n for n, p in model.named_parameters()}


def checkpoint_step(path: Path) -> int:
    try:
        return int(path.name.rsplit("-", 1)[-1])
    except ValueError:
        return -1


def save_checkpoint(model: Any, optimizer: Any, step: int, epoch: float, root: Path, keep: int,
                    backend: str) -> Path:
    """Write ``checkpoint-<step>`` atomically (temp folder + rename) and keep the newest ``keep`` checkpoints."""
    from safetensors.torch import save_file

    final, tmp = root / f"checkpoint-{step}", root / f".checkpoint-{step}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    names = _param_names(model)
    state = {f"{names[id(p)]}::{k}": v.detach().contiguous().cpu()
             for p, s in optimizer.state.items() for k, v in s.items() if torch.is_tensor(v)}
    save_file(state, str(tmp / "optimizer.safetensors"))
    rng = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state()
    save_file(rng, str(tmp / "rng_state.safetensors"))
    atomic_write_text(tmp / "trainer_state.json", json.dumps({"global_step": step, "epoch": epoch,
                                                              "backend": backend}))
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for old in sorted(root.glob("checkpoint-*"), key=checkpoint_step)[:-keep] if keep > 0 else []:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint (trainer state, adapter and optimizer state present)."""
    done = [p for p in (Path(run_dir) / "checkpoints").glob("checkpoint-*") if checkpoint_step(p) >= 0
            and all((p / f).is_file() for f in FILES)]
    return max(done, key=checkpoint_step) if done else None


def load_checkpoint(model: Any, optimizer: Any, params: list[Any], ckpt: Path) -> int:
    """Restore adapter weights, optimizer state and RNG states; returns the checkpoint's step."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(model, load_file(str(ckpt / "adapter_model.safetensors")))
    state = load_file(str(ckpt / "optimizer.safetensors"))
    names = _param_names(model)
    group = optimizer.param_groups[0]
    on_device = bool(group.get("fused") or group.get("capturable"))
    for p in params:
        entries = {k.split("::", 1)[1]: v for k, v in state.items() if k.split("::", 1)[0] == names[id(p)]}
        if entries:
            optimizer.state[p] = {k: v.to(p.device if (k != "step" or on_device) else "cpu")
                                  for k, v in entries.items()}
    rng = load_file(str(ckpt / "rng_state.safetensors"))
    torch.set_rng_state(rng["cpu"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state(rng["cuda"])
    return int(json.loads((ckpt / "trainer_state.json").read_text(encoding="utf-8"))["global_step"])


def start_point(model: Any, optimizer: Any, params: list[Any], run_dir: Path, resume: bool) -> int:
    """Step to start from: the last complete checkpoint on ``--resume`` (metric rows after it dropped), else 0
    (old metrics and checkpoints removed)."""
    from safetyalign.train.metrics import truncate_metrics

    metrics_path = Path(run_dir) / "metrics.jsonl"
    ckpt = latest_checkpoint(run_dir) if resume else None
    if resume and ckpt is None:
        log.warning("--resume: no complete checkpoint in %s; starting from step 0", Path(run_dir) / "checkpoints")
    if ckpt is None:
        metrics_path.unlink(missing_ok=True)
        shutil.rmtree(Path(run_dir) / "checkpoints", ignore_errors=True)
        return 0
    step = load_checkpoint(model, optimizer, params, ckpt)
    dropped = truncate_metrics(metrics_path, step)
    log.info("resuming from %s (%d metric rows after it dropped)", ckpt.name, dropped)
    return step
