"""The bridge between ``safetyalign.eval.generate`` and the engine: when to use it and how to run eval prompts.

``eval.generation.engine``: ``auto`` (default) uses the engine on a CUDA model of a supported architecture and
HF ``generate`` otherwise (the CPU keeps HF ``generate``); ``fast`` always uses the engine (an unsupported model
or decoding setting is an error); ``hf`` always uses HF ``generate``. Decoding settings the HF path would take from
the model's own ``generation_config`` (repetition penalty, top-k when sampling) are applied by the engine too;
settings it cannot honour make ``auto`` fall back to HF ``generate`` (logged) and ``fast`` fail.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

from safetyalign.errors import ConfigError
from safetyalign.logs import get_logger

log = get_logger(__name__)
ENGINES = ("auto", "fast", "hf")
# generation_config fields whose non-default values the engine cannot reproduce
UNSUPPORTED = {"no_repeat_ngram_size": 0, "num_beams": 1, "min_new_tokens": None, "min_length": 0, "typical_p": 1.0,
               "epsilon_cutoff": 0.0, "eta_cutoff": 0.0, "encoder_repetition_penalty": 1.0, "bad_words_ids": None,
               "suppress_tokens": None, "begin_suppress_tokens": None, "sequence_bias": None, "min_p": None,
               "diversity_penalty": 0.0, "num_return_sequences": 1}


def _model_settings(model: Any, do_sample: bool) -> tuple[dict[str, Any], str | None]:
    """(engine keyword arguments taken from the model's generation_config, reason it cannot be honoured or None)."""
    gc = getattr(model, "generation_config", None)
    if gc is None:
        return {}, None
    for name, default in UNSUPPORTED.items():
        value = getattr(gc, name, default)
        if value not in (default, None) and not (name == "min_length" and value == 0):
            return {}, f"generation_config.{name}={value!r} is not supported by the generation engine"
    kw = {"repetition_penalty": float(getattr(gc, "repetition_penalty", None) or 1.0)}
    if do_sample:
        kw["top_k"] = int(getattr(gc, "top_k", None) or 0)
    return kw, None


def use_engine(model: Any, engine: str, do_sample: bool = False) -> bool:
    """Whether ``generate`` should run the engine for ``model`` under setting ``engine``."""
    from safetyalign.generation.weights import supported

    if engine not in ENGINES:
        raise ConfigError(f"eval.generation.engine: {engine!r} is not one of {', '.join(ENGINES)}")
    if engine == "hf":
        return False
    _, reason = _model_settings(model, do_sample)
    ok = supported(model)
    if engine == "fast":
        if not ok:
            raise ConfigError("eval.generation.engine=fast: model type "
                              f"{getattr(getattr(model, 'config', None), 'model_type', '?')!r} is not supported "
                              "(llama, qwen2, qwen3, mistral); use engine: hf")
        if reason:
            raise ConfigError(f"eval.generation.engine=fast: {reason}; use engine: hf")
        return True
    dev = next(model.parameters()).device
    if dev.type != "cuda" or not ok:
        return False
    if reason:
        log.warning("generation engine not used: %s (falling back to HF generate)", reason)
        return False
    return True


def request_seed(seed: int, prompt: str) -> int:
    """Per-request sampling seed: the config seed and the prompt text (independent of order and batch)."""
    return (seed * 1_000_003 + zlib.crc32(prompt.encode("utf-8"))) & 0x7FFFFFFF


def engine_generate(model: Any, tokenizer: Any, prompts: list[str], texts: list[str], gen: Any, stop_ids: list[int],
                    max_prompt_length: int, on_batch: Callable[[list[int], list[str]], None] | None,
                    ) -> tuple[list[str], dict[str, Any]]:
    """Responses (original order) and the engine's stats for rendered prompt ``texts`` (left-truncated to
    ``max_prompt_length`` tokens, as the HF path does)."""
    import torch

    from safetyalign.generation.engine import GenerationEngine, Request

    ids = [tokenizer(t, add_special_tokens=False)["input_ids"][-max_prompt_length:] for t in texts]
    reqs = [Request(p, gen.max_new_tokens, request_seed(gen.seed, q)) for p, q in zip(ids, prompts)]
    kw, _ = _model_settings(model, gen.do_sample)
    out: list[str] = [""] * len(prompts)
    stop = set(stop_ids)

    def text(tokens: list[int]) -> str:
        return tokenizer.decode([t for t in tokens if t not in stop], skip_special_tokens=True).strip()

    def finished(idx: list[int], answers: list[list[int]]) -> None:
        for i, a in zip(idx, answers):
            out[i] = text(a)
        if on_batch:
            on_batch(idx, [out[i] for i in idx])

    engine = GenerationEngine(model, use_adapter=True)
    try:
        engine.generate(reqs, stop_ids=stop_ids, do_sample=gen.do_sample, temperature=gen.temperature,
                        top_p=gen.top_p, on_finish=finished, **kw)
        stats = engine.stats.to_dict()
        stats["new_tokens_excl_stop"] = sum(len(out_i) for out_i in engine.out) - sum(
            1 for a in engine.out if a and a[-1] in stop)
    finally:
        del engine
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return out, stats
