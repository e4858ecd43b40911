"""Batched generation: chat-template rendering identical to training, left padding, length-sorted batches.

``generate(model, tokenizer, prompts, gen)`` returns one response per prompt in the original order. Prompts are
rendered with :func:`safetyalign.chat.render_prompt` (same system prompt as training), sorted by length so batches
carry little padding, and decoded greedily unless ``gen.do_sample``. ``adapter_disabled(model)`` runs a PEFT
model as its base model, so base and tuned are evaluated from one copy of the weights; ``adapter_merged(model)``
folds the LoRA weights in while the tuned model generates (one matmul per projection instead of three).
On a CUDA model (``eval.generation.engine: auto``, the default) the prompts go through the project's generation
engine instead (:mod:`safetyalign.generation`: continuous batching, static KV cache, CUDA-graph decode); the CPU
keeps HF ``generate``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from safetyalign.eval.config import GenerationConfig
from safetyalign.logs import get_logger

log = get_logger(__name__)


@dataclass
class GenerationStats:
    """Throughput of one :func:`generate` call."""

    prompts: int = 0
    new_tokens: int = 0
    seconds: float = 0.0
    batches: int = 0
    tokens_per_s: float = 0.0
    truncated_prompts: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@contextlib.contextmanager
def adapter_disabled(model: Any) -> Iterator[Any]:
    """``with adapter_disabled(model):`` runs a PEFT model as its base model; a plain model is unchanged."""
    if hasattr(model, "disable_adapter") and hasattr(model, "peft_config"):
        with model.disable_adapter():
            yield model
    else:
        yield model


MERGE_COPY_LIMIT = 2 * 2**30  # bytes of base weights copied to restore them exactly after a merge


@contextlib.contextmanager
def adapter_merged(model: Any) -> Iterator[Any]:
    """``with adapter_merged(model):`` generates from a PEFT model with its LoRA weights merged into the base
    weights, then unmerges and restores the base weights bit for bit from a copy. Skipped (the model runs
    unmerged, same results up to rounding) for plain models and when that copy would exceed ``MERGE_COPY_LIMIT``."""
    layers = [m.get_base_layer() for m in model.modules() if hasattr(m, "merge") and hasattr(m, "get_base_layer")]
    size = sum(m.weight.numel() * m.weight.element_size() for m in layers)
    if not hasattr(model, "merge_adapter") or not layers or size > MERGE_COPY_LIMIT:
        yield model
        return
    saved = [m.weight.detach().clone() for m in layers]
    model.merge_adapter()
    try:
        yield model
    finally:
        model.unmerge_adapter()
        for m, w in zip(layers, saved):
            m.weight.data.copy_(w)


def _gen_kwargs(gen: GenerationConfig, tokenizer: Any) -> dict[str, Any]:
    kw: dict[str, Any] = {"max_new_tokens": gen.max_new_tokens, "do_sample": gen.do_sample,
                          "pad_token_id": tokenizer.pad_token_id}
    if gen.do_sample:
        kw.update(temperature=gen.temperature, top_p=gen.top_p)
    else:  # silence "temperature is set but do_sample=False" warnings from the model's generation_config
        kw.update(temperature=None, top_p=None, top_k=None)
    return kw


def _stop_ids(tokenizer: Any) -> list[int]:
    from safetyalign.chat import end_of_turn

    ids = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
    marker = end_of_turn(tokenizer)
    tid = tokenizer.convert_tokens_to_ids(marker) if marker else None
    if isinstance(tid, int) and tid != getattr(tokenizer, "unk_token_id", None):
        ids.add(tid)
    return sorted(ids)


def generate(model: Any, tokenizer: Any, prompts: list[str], gen: GenerationConfig | None = None,
             system_prompt: str | None = None, max_prompt_length: int = 512, stats: GenerationStats | None = None,
             on_batch: Callable[[list[int], list[str]], None] | None = None, desc: str = "generate") -> list[str]:
    """Responses for ``prompts`` (original order). ``on_batch(indices, responses)`` is called after each batch
    (used to cache results for resuming); ``stats`` (if given) is filled in."""
    import torch
    from tqdm.auto import tqdm

    from safetyalign.chat import render_prompt
    from safetyalign.generation.evalhook import use_engine

    gen = gen or GenerationConfig()
    stats = stats if stats is not None else GenerationStats()
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    texts = [render_prompt(tokenizer, p, system_prompt) for p in prompts]
    lengths = [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
    order = sorted(range(len(texts)), key=lambda i: -lengths[i])
    stats.truncated_prompts += sum(1 for n in lengths if n > max_prompt_length)
    if use_engine(model, getattr(gen, "engine", "auto"), gen.do_sample):  # CUDA: continuous-batching engine
        return _run_engine(model, tokenizer, prompts, texts, gen, max_prompt_length, stats, on_batch, desc)
    out: list[str] = [""] * len(prompts)
    kw = _gen_kwargs(gen, tokenizer)
    kw["eos_token_id"] = _stop_ids(tokenizer)
    device = next(model.parameters()).device
    if gen.do_sample:
        torch.manual_seed(gen.seed)
    start = time.perf_counter()
    bs = max(1, gen.batch_size)
    for b in tqdm(range(0, len(order), bs), desc=desc, unit="batch", disable=len(order) <= bs):
        idx = order[b:b + bs]
        tokenizer.truncation_side = "left"
        enc = tokenizer([texts[i] for i in idx], return_tensors="pt", padding=True, truncation=True,
                        max_length=max_prompt_length, add_special_tokens=False).to(device)
        with torch.inference_mode():
            seqs = model.generate(**enc, **kw)
        new = seqs[:, enc["input_ids"].shape[1]:]
        pad = tokenizer.pad_token_id
        stats.new_tokens += int(sum(int((row != pad).sum()) for row in new))
        decoded = tokenizer.batch_decode(new, skip_special_tokens=True)
        for i, text in zip(idx, decoded):
            out[i] = text.strip()
        stats.batches += 1
        if on_batch:
            on_batch(idx, [out[i] for i in idx])
    stats.prompts += len(prompts)
    stats.seconds += time.perf_counter() - start
    stats.tokens_per_s = stats.new_tokens / stats.seconds if stats.seconds else 0.0
    log.info("%s: %d prompts, %d new tokens in %.1f s (%.1f tokens/s)", desc, len(prompts), stats.new_tokens,
             stats.seconds, stats.tokens_per_s)
    return out


def _run_engine(model: Any, tokenizer: Any, prompts: list[str], texts: list[str], gen: GenerationConfig,
                max_prompt_length: int, stats: GenerationStats,
                on_batch: Callable[[list[int], list[str]], None] | None, desc: str) -> list[str]:
    """:func:`generate` through :mod:`safetyalign.generation` (continuous batching, CUDA-graph decode)."""
    from safetyalign.generation.evalhook import engine_generate

    start = time.perf_counter()
    out, est = engine_generate(model, tokenizer, prompts, texts, gen, _stop_ids(tokenizer), max_prompt_length,
                               on_batch)
    stats.prompts += len(prompts)
    stats.seconds += time.perf_counter() - start
    stats.new_tokens += est["new_tokens_excl_stop"]
    stats.batches += est["prefills"]
    stats.tokens_per_s = stats.new_tokens / stats.seconds if stats.seconds else 0.0
    stats.extra["engine"] = est
    log.info("%s (engine, LoRA %s): %d prompts, %d new tokens in %.1f s (%.1f tokens/s)", desc, est["lora"],
             len(prompts), stats.new_tokens, stats.seconds, stats.tokens_per_s)
    return out
