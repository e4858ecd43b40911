"""Adapter folders written atomically, and checkpoint discovery for ``--resume``.

Adapters are written into a hidden temp folder next to the target and swapped in with renames, so a kill leaves
either the previous adapter or the new one, never a half-written folder. Weights are always safetensors.

Checkpoints (``<run>/checkpoints/checkpoint-<step>/``) are written by ``transformers.Trainer``: the LoRA weights
as ``adapter_model.safetensors``; optimizer, scheduler and RNG state with ``torch.save`` (``optimizer.pt``,
``scheduler.pt``, ``rng_state.pth``). These hold tensors and plain Python containers only, and transformers 5
loads all of them with ``torch.load(..., weights_only=True)``, so no arbitrary pickle is executed on resume.
A checkpoint interrupted mid-write (no readable ``trainer_state.json`` or no adapter file) is ignored and removed.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from safetyalign.logs import get_logger

log = get_logger(__name__)
ADAPTER_FILES = ("adapter_model.safetensors", "adapter_config.json")


def swap_in(tmp: Path, target: Path) -> Path:
    """Replace ``target`` by ``tmp`` with renames (old copy removed afterwards)."""
    old = target.with_name(f".{target.name}.old{os.getpid()}")
    if target.exists():
        target.replace(old)
    tmp.replace(target)
    shutil.rmtree(old, ignore_errors=True)
    return target


def save_adapter(model: Any, tokenizer: Any, target: Path, extra_text: dict[str, str] | None = None,
                 state_dict: dict[str, Any] | None = None, base_model: str | None = None) -> Path:
    """Save the LoRA adapter (safetensors) + tokenizer + extra text files into ``target`` atomically.

    ``state_dict``: the full model state dict gathered from FSDP / ZeRO-3 shards (PEFT keeps the adapter keys).
    ``base_model``: the name recorded as the adapter's base (default: ``model.name_or_path`` of the
    ``config.yaml`` in ``extra_text``), replacing the local load path PEFT writes (e.g. a cache under $HOME).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    kwargs: dict[str, Any] = {"safe_serialization": True}
    if state_dict is not None:
        kwargs["state_dict"] = state_dict
    if "ref" in getattr(model, "peft_config", {}):  # TRL's frozen reference copy must not be exported
        kwargs["selected_adapters"] = ["default"]
    model.save_pretrained(tmp, **kwargs)
    if tokenizer is not None:
        tokenizer.save_pretrained(tmp)
    for name, text in (extra_text or {}).items():
        (tmp / name).write_text(text, encoding="utf-8")
    record_base_model(tmp, base_model or _configured_model(extra_text))
    missing = [f for f in ADAPTER_FILES if not (tmp / f).is_file()]
    if missing:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError(f"adapter save produced no {missing} in {tmp}")
    return swap_in(tmp, target)


def _configured_model(extra_text: dict[str, str] | None) -> str | None:
    import yaml

    text = (extra_text or {}).get("config.yaml")
    data = yaml.safe_load(text) if text else None
    model = data.get("model") if isinstance(data, dict) else None
    return model.get("name_or_path") if isinstance(model, dict) else None


def record_base_model(folder: Path, name: str | None) -> None:
    """Record the base model by ``name`` in ``adapter_config.json`` and the PEFT model card (README.md) of
    ``folder``, instead of the local folder it was loaded from (shareable files carry no home path)."""
    if not name:
        return
    cfg_path = folder / "adapter_config.json"
    if not cfg_path.is_file():
        return
    data = json.loads(cfg_path.read_text(encoding="utf-8"))
    local = data.get("base_model_name_or_path")
    data["base_model_name_or_path"] = name
    cfg_path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    card = folder / "README.md"
    if local and local != name and card.is_file():
        card.write_text(card.read_text(encoding="utf-8").replace(str(local), name), encoding="utf-8")


def copy_dir(src: Path, target: Path) -> Path:
    """Copy folder ``src`` to ``target`` atomically (temp copy + rename)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp)
    return swap_in(tmp, target)


def checkpoint_step(path: Path) -> int:
    """``checkpoint-40`` -> 40 (-1 when the name has no step)."""
    try:
        return int(path.name.rsplit("-", 1)[-1])
    except ValueError:
        return -1


def _has(ckpt: Path, files: tuple[str, ...], dirs: tuple[str, ...]) -> bool:
    return any((ckpt / f).is_file() for f in files) or any(p.is_dir() for d in dirs for p in ckpt.glob(d))


def is_complete(ckpt: Path) -> bool:
    """A checkpoint is usable when its trainer state parses and the weights + optimizer state exist.

    Layouts: one process / DDP write ``adapter_model.safetensors`` + ``optimizer.pt``; FSDP with a sharded state
    dict writes ``pytorch_model_fsdp_0/`` + ``optimizer_0/`` (full: ``pytorch_model_fsdp.bin`` + ``optimizer.bin``);
    DeepSpeed writes the adapter + ``global_step<N>/`` (partitioned optimizer states). ``trainer_state.json`` is
    written last, after every process finished its part.
    """
    try:
        state = json.loads((ckpt / "trainer_state.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    weights = _has(ckpt, ("adapter_model.safetensors", "pytorch_model_fsdp.bin"), ("pytorch_model_fsdp_*",))
    optimizer = _has(ckpt, ("optimizer.pt", "optimizer.bin"), ("optimizer_*", "global_step*"))
    return isinstance(state, dict) and "global_step" in state and weights and optimizer


def last_checkpoint(ckpt_dir: Path, remove_incomplete: bool = True) -> Path | None:
    """The newest complete ``checkpoint-<step>`` folder; incomplete ones (killed mid-save) are removed."""
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return None
    found = sorted((p for p in ckpt_dir.glob("checkpoint-*") if p.is_dir() and checkpoint_step(p) >= 0),
                   key=checkpoint_step)
    best = None
    for ckpt in found:
        if is_complete(ckpt):
            best = ckpt
        elif remove_incomplete:
            log.warning("removing incomplete checkpoint %s (interrupted while saving)", ckpt)
            shutil.rmtree(ckpt, ignore_errors=True)
    return best
