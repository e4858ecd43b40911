"""``train.backend: unsloth``: the original project's engine: Unsloth's ``FastLanguageModel`` (its kernels and
LoRA wiring) + ``PatchDPOTrainer()`` + TRL's DPOTrainer, run by the TRL engine's loop (same data, metrics, summary).

Unsloth patches transformers / TRL when imported, so :func:`import_unsloth` runs before those libraries are
imported (the CLI calls it first thing). Install: ``requirements-unsloth.txt`` in its own environment (Unsloth's pins
exclude the project's: transformers <= 5.17, trl <= 1.15, datasets < 5), or carry the wheels of
``benchmarks/fetch_wheels.sh --unsloth``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from safetyalign.engines.base import Only
from safetyalign.engines.trl import TRLEngine
from safetyalign.errors import ConfigError
from safetyalign.logs import get_logger

if TYPE_CHECKING:
    from safetyalign.config import ExperimentConfig

log = get_logger(__name__)


def import_unsloth() -> Any:
    """Import unsloth (before trl/transformers) or raise a one-line error saying why it cannot be used."""
    import importlib.util

    if importlib.util.find_spec("unsloth") is None:
        raise ConfigError("train.backend=unsloth: unsloth is not installed (requirements-unsloth.txt, in its own "
                          "environment); use train.backend=trl")
    import torch

    if not torch.cuda.is_available():
        raise ConfigError("train.backend=unsloth needs a CUDA GPU; none found (use train.backend=trl on CPU)")
    late = [m for m in ("trl", "transformers", "peft") if m in sys.modules and "unsloth" not in sys.modules]
    if late:
        log.warning("unsloth imported after %s; its patches may be incomplete", ", ".join(late))
    try:
        import unsloth  # noqa: F401  (patches transformers / trl on import)
    except Exception as exc:  # unsloth raises many kinds of errors for broken GPU setups
        raise ConfigError(f"train.backend=unsloth: import failed ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''}); use train.backend=trl") from None
    return sys.modules["unsloth"]


def load_unsloth_model(cfg: ExperimentConfig, tokenizer: Any = None) -> tuple[Any, Any]:
    """Base model + LoRA adapter through Unsloth's FastLanguageModel, TRL patched; ``(peft_model, tokenizer)``."""
    from unsloth import FastLanguageModel, PatchDPOTrainer

    from safetyalign.models.loading import _materialize_gguf, pick_device, pick_dtype, resolve_model
    from safetyalign.train.dpo_args import lora_layers

    PatchDPOTrainer()
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
        layers_to_transform=lora_layers(cfg),
        use_gradient_checkpointing="unsloth" if cfg.train.gradient_checkpointing else False)
    tok = tokenizer or utok
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return model, tok


class UnslothEngine(TRLEngine):
    """TRL's DPOTrainer after ``PatchDPOTrainer()`` on an Unsloth ``FastLanguageModel``; GPU, one process."""

    name = "unsloth"
    auto_rank = None  # only when asked: importing it patches transformers / TRL for the whole process
    rules = {**TRLEngine.rules,
             "train.use_reference_model": Only("trains against the adapter-disabled base only")}

    def environment(self, cfg: ExperimentConfig) -> str | None:
        import importlib.util

        import torch

        from safetyalign.train.distributed import world_size

        if importlib.util.find_spec("unsloth") is None:
            return "unsloth is not installed (requirements-unsloth.txt, in its own environment)"
        if not torch.cuda.is_available():
            return "needs a CUDA GPU"
        return "runs in one process only" if world_size() > 1 else None

    def trainer_args(self, cfg: ExperimentConfig, run_dir: Any, device: str, dtype: Any, has_eval: bool) -> Any:
        """As TRL's, but gradient checkpointing is Unsloth's own (set on the model by get_peft_model)."""
        args = super().trainer_args(cfg, run_dir, device, dtype, has_eval)
        args.gradient_checkpointing = False
        return args

    def load_policy(self, cfg: ExperimentConfig, model: Any, tokenizer: Any) -> tuple[Any, Any, Any]:
        if model is not None:
            raise ConfigError("train.backend=unsloth loads its own model; pass no preloaded model")
        import_unsloth()
        model, tokenizer = load_unsloth_model(cfg, tokenizer)
        return model, tokenizer, None
