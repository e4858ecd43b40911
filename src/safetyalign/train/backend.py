"""Training backends: ``trl`` (TRL + PEFT, CPU or GPU), ``fast`` (:mod:`safetyalign.fastdpo`, GPU), ``unsloth``
(GPU only, faster kernels) and ``prefix_cache`` (CPU, LoRA on the top layers).

All produce the same outputs (a PEFT LoRA adapter in safetensors). ``auto`` means ``fast`` on a CUDA GPU when the
model and the loss are ones it supports (see :func:`safetyalign.fastdpo.backend.fast_unsupported_reason`), else
``trl``. Unsloth patches
transformers/TRL when imported, so :func:`import_unsloth` must run before those libraries are imported; the
training entry point calls it first thing on that path.
"""

from __future__ import annotations

import sys
from typing import Any

from safetyalign.errors import ConfigError
from safetyalign.logs import get_logger

log = get_logger(__name__)


def resolve_backend(name: str, cfg: Any = None) -> str:
    """The backend to train with: ``auto`` -> ``fast`` on one CUDA GPU when ``cfg`` fits it, else ``trl``
    (``trl`` without ``cfg``); anything else is returned after a check."""
    if cfg is not None and cfg.train.reference_free and name != "prefix_cache":
        raise ConfigError(f"train.reference_free is implemented by train.backend=prefix_cache only, not '{name}'")
    if cfg is not None and cfg.train.use_reference_model and name == "prefix_cache":
        raise ConfigError("train.use_reference_model (--use-reference-model): the prefix_cache backend takes its "
                          "reference log-probs from one adapter-disabled pass of the same frozen weights; use "
                          "train.backend=trl for an explicit reference copy")
    if name == "trl":
        return "trl"
    if name == "auto":
        return _auto_backend(cfg) if cfg is not None else "trl"
    if name in ("unsloth", "prefix_cache", "fast"):
        return name
    raise ConfigError(f"train.backend: unknown backend '{name}' (use auto, trl, fast, unsloth or prefix_cache)")


def _auto_backend(cfg: Any) -> str:
    from safetyalign.train.distributed import is_distributed

    if is_distributed():
        return "trl"
    from safetyalign.fastdpo.backend import fast_unsupported_reason

    reason = fast_unsupported_reason(cfg)
    if reason is None:
        return "fast"
    log.info("train.backend=auto: using trl (%s)", reason)
    return "trl"


def import_unsloth() -> Any:
    """Import unsloth (before trl/transformers) or raise a one-line error saying why it cannot be used."""
    import importlib.util

    if importlib.util.find_spec("unsloth") is None:
        raise ConfigError("train.backend=unsloth: unsloth is not installed (pip install '.[gpu]'); "
                          "use train.backend=trl")
    import torch

    if not torch.cuda.is_available():
        raise ConfigError("train.backend=unsloth needs a CUDA GPU; none found (use train.backend=trl on CPU)")
    late = [m for m in ("trl", "transformers", "peft") if m in sys.modules]
    if late:
        log.warning("unsloth imported after %s; its patches may be incomplete", ", ".join(late))
    try:
        import unsloth  # noqa: F401  (patches transformers / trl on import)
    except Exception as exc:  # unsloth raises many kinds of errors for broken GPU setups
        raise ConfigError(f"train.backend=unsloth: import failed ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''}); use train.backend=trl") from None
    return sys.modules["unsloth"]


def load_unsloth_model(cfg: Any, tokenizer: Any = None) -> tuple[Any, Any]:
    """Base model + LoRA adapter through Unsloth's FastLanguageModel; returns ``(peft_model, tokenizer)``."""
    from unsloth import FastLanguageModel

    from safetyalign.models.loading import _materialize_gguf, pick_device, pick_dtype, resolve_model

    resolved = resolve_model(cfg.model)
    if resolved.gguf_file:
        resolved = _materialize_gguf(resolved)
    dtype = pick_dtype(cfg.model.dtype, pick_device(cfg.model.device))
    model, utok = FastLanguageModel.from_pretrained(model_name=resolved.path, max_seq_length=cfg.model.max_length,
                                                    dtype=dtype, load_in_4bit=False,
                                                    trust_remote_code=cfg.model.trust_remote_code)
    model = FastLanguageModel.get_peft_model(
        model, r=cfg.lora.r, lora_alpha=cfg.lora.lora_alpha, lora_dropout=cfg.lora.lora_dropout,
        target_modules=list(cfg.lora.target_modules), bias="none", random_state=cfg.train.seed,
        use_gradient_checkpointing="unsloth" if cfg.train.gradient_checkpointing else False)
    patch = getattr(__import__("unsloth"), "PatchDPOTrainer", None)
    if callable(patch):  # older unsloth releases need an explicit patch of TRL's DPOTrainer
        patch()
    tok = tokenizer or utok
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return model, tok
