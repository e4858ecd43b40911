"""Frozen-prefix activation caching for LoRA DPO.

When LoRA adapters sit only on the top ``L - K`` decoder layers, the bottom ``K`` layers are frozen and identical for
the policy and the reference model. Their output for every training sequence is computed once (no grad) and cached;
each training step then runs only the top layers (forward + backward) from the cache, and the reference log-probs
come from one adapter-disabled pass over the top layers. Per pair-visit this costs about ``3 (L-K) / L`` forward
passes instead of the ``~4`` of a standard DPO step (policy forward + backward + reference forward), which is what
makes DPO on a 2-core CPU practical.

Pairs are packed (:mod:`safetyalign.prefix_cache.packing`): the prompt is computed once for both answers, the
prefix (nearly) all prompts share once per row, and rows carry no padding inside. The loss is the same DPO objective;
tests check it against plain full forwards of the separate sequences.

Works for decoder models whose ``model.model`` runs ``self.layers`` over ``inputs_embeds`` without rescaling them
(Llama, Qwen2/2.5/3, Mistral, SmolLM2). Other architectures: use the ``trl`` backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from safetyalign.prefix_cache.packing import (
    MAX_ROW_TOKENS,
    EncodedPair,
    PackedBatch,
    SharedPrefix,
    _pad,
    collate,
    encode_pair,
    pack_pair,
    shared_prefix,
)

__all__ = ["CachedPair", "EncodedPair", "PairCache", "build_cache", "dpo_step", "encode_pair", "validate_loss_types"]
SUPPORTED_MODEL_TYPES = {"llama", "qwen2", "qwen3", "mistral"}


@dataclass
class CachedPair:
    """One pair packed as ``[prompt, chosen, rejected]`` without the shared prefix, its bottom-layer activations
    and reference log-probs."""

    hidden: torch.Tensor  # (T, H) output of the frozen bottom layers
    ids: torch.Tensor  # (T,) token ids
    positions: torch.Tensor  # (T,) position ids (from the shared prefix length on; the rejected answer restarts)
    segments: torch.Tensor  # (T,) SEG_PROMPT / SEG_CHOSEN / SEG_REJECTED
    src: torch.Tensor  # (M,) position in this item whose output predicts target m
    targets: torch.Tensor  # (M,) response token ids
    groups: torch.Tensor  # (M,) 0 = chosen, 1 = rejected
    sees_prefix: torch.Tensor  # () bool: the pair starts with the shared prefix (else its tokens include its prompt)
    ref_logps: torch.Tensor  # (2,) summed response log-probs under the reference [chosen, rejected]


@dataclass
class PairCache:
    """Everything a training step needs: the shared prefix and the cached pairs."""

    prefix: SharedPrefix
    pairs: list[CachedPair]


def decoder_of(model: Any) -> Any:
    """The inner decoder (``LlamaModel``-like) of a (PEFT-wrapped) causal LM."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    model_type = getattr(base.config, "model_type", "")
    if model_type not in SUPPORTED_MODEL_TYPES:
        from safetyalign.errors import ConfigError

        raise ConfigError(f"backend prefix_cache supports {sorted(SUPPORTED_MODEL_TYPES)}, not '{model_type}': "
                          f"use train.backend=trl")
    return base.model, base


def _collate(items: list[dict[str, torch.Tensor]], prefix: SharedPrefix, model: Any, device: Any,
             max_row_tokens: int) -> PackedBatch:
    _, base = decoder_of(model)
    return collate(items, prefix, getattr(base.config, "_attn_implementation", None), next(base.parameters()).dtype,
                   device, max_row_tokens)


@contextmanager
def layer_slice(model: Any, start: int, stop: int | None, final_norm: bool) -> Iterator[Any]:
    """Temporarily make the decoder run only layers ``[start:stop]`` (and optionally skip the final norm)."""
    decoder, _ = decoder_of(model)
    layers, norm = decoder.layers, decoder.norm
    decoder.layers = torch.nn.ModuleList(list(layers)[start:stop])
    if not final_norm:
        decoder.norm = torch.nn.Identity()
    try:
        yield decoder
    finally:
        decoder.layers, decoder.norm = layers, norm


def response_logps(model: Any, hidden: torch.Tensor, batch: PackedBatch, split_layer: int
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run the top layers from cached ``hidden`` and return per-answer (sum logp, token count, mean nll), each of
    shape ``(2 * n_pairs,)`` ordered chosen, rejected, chosen, rejected, ...

    The LM head is applied only to positions that predict response tokens (no full-vocab logits for prompts).
    """
    _, base = decoder_of(model)
    with layer_slice(model, split_layer, None, final_norm=True) as decoder:
        out = decoder(inputs_embeds=hidden, attention_mask=batch.mask, position_ids=batch.positions,
                      use_cache=False).last_hidden_state
    logits = base.lm_head(out[batch.src[0], batch.src[1]]).float()
    token_logp = torch.gather(F.log_softmax(logits, -1), 1, batch.targets[:, None]).squeeze(1)
    n = 2 * batch.n_pairs
    sums = torch.zeros(n, dtype=token_logp.dtype, device=token_logp.device).index_add(0, batch.groups, token_logp)
    counts = torch.bincount(batch.groups, minlength=n).clamp(min=1).to(token_logp.dtype)
    return sums, counts, -sums / counts


def row_hidden(prefix: SharedPrefix, pairs: list[CachedPair], batch: PackedBatch, device: Any) -> torch.Tensor:
    """The cached bottom-layer activations laid out like ``batch``'s rows (shared prefix first)."""
    assert prefix.hidden is not None, "build_cache fills the shared prefix's activations"
    rows = [torch.cat([prefix.hidden, *[pairs[i].hidden for i in row]]) for row in batch.rows]
    return _pad(rows)[0].to(device)


@torch.no_grad()
def build_cache(model: Any, pairs: list[EncodedPair], split_layer: int, batch_size: int = 8,
                progress: Any = None, max_row_tokens: int = MAX_ROW_TOKENS, reference: bool = True) -> PairCache:
    """Encode every pair through the frozen bottom layers once and compute reference log-probs (adapter off);
    ``reference=False`` stores zeros instead (a uniform reference, ``train.reference_free``)."""
    cached: list[CachedPair | None] = [None] * len(pairs)
    device = next(model.parameters()).device
    prefix_ids, uses = shared_prefix(pairs)
    s = len(prefix_ids)
    prefix = SharedPrefix(ids=torch.tensor(prefix_ids, dtype=torch.long))
    packed = [pack_pair(p, s if use else 0) for p, use in zip(pairs, uses)]
    order = sorted(range(len(pairs)), key=lambda k: packed[k]["ids"].shape[0])  # similar lengths: little padding
    for i in range(0, len(pairs), batch_size):
        idx = order[i: i + batch_size]
        items = [packed[k] for k in idx]
        batch = _collate(items, prefix, model, device, max_row_tokens)
        with layer_slice(model, 0, split_layer, final_norm=False) as decoder:
            hidden = decoder(input_ids=batch.ids, attention_mask=batch.mask, position_ids=batch.positions,
                             use_cache=False).last_hidden_state
        if reference:
            with _adapter_disabled(model):
                ref, _, _ = response_logps(model, hidden, batch, split_layer)
        else:
            ref = hidden.new_zeros(2 * len(items))
        if prefix.hidden is None:
            prefix.hidden = hidden[0, :s].cpu().clone()
        for j, (k, it) in enumerate(zip(idx, items)):
            r, start, n = batch.spans[j]
            cached[k] = CachedPair(hidden=hidden[r, start: start + n].cpu().clone(),
                                   ref_logps=ref[2 * j: 2 * j + 2].cpu().clone(), **it)
        if progress is not None:
            progress(len(items))
    return PairCache(prefix=prefix, pairs=cached)  # type: ignore[arg-type]


@contextmanager
def _adapter_disabled(model: Any) -> Iterator[None]:
    if hasattr(model, "disable_adapter"):
        with model.disable_adapter():
            yield
    else:
        yield


@dataclass
class StepOutput:
    """Loss and DPO statistics of one micro-batch."""

    loss: torch.Tensor
    stats: dict[str, float]


def dpo_step(model: Any, cache: PairCache, batch: list[CachedPair], split_layer: int, beta: float,
             loss_types: list[str], loss_weights: list[float], max_row_tokens: int = MAX_ROW_TOKENS) -> StepOutput:
    """DPO (sigmoid / ipo / hinge) plus optional SFT-on-chosen on a micro-batch of cached pairs."""
    device = next(model.parameters()).device
    packed = _collate([vars(p) for p in batch], cache.prefix, model, device, max_row_tokens)
    hidden = row_hidden(cache.prefix, batch, packed, device)
    logps, counts, nll = response_logps(model, hidden, packed, split_layer)
    ref = torch.stack([p.ref_logps for p in batch]).to(device=device, dtype=logps.dtype)
    pol_c, pol_r = logps[0::2], logps[1::2]
    chosen_reward, rejected_reward = beta * (pol_c - ref[:, 0]), beta * (pol_r - ref[:, 1])
    margin = chosen_reward - rejected_reward
    terms = {
        "sigmoid": lambda: -F.logsigmoid(margin).mean(),
        "ipo": lambda: ((margin / beta - 1 / (2 * beta)) ** 2).mean(),
        "hinge": lambda: torch.relu(1 - margin).mean(),
        "sft": lambda: nll[0::2].mean(),
    }
    loss = sum(w * terms[t]() for t, w in zip(loss_types, loss_weights))
    stats = {
        "train/rewards/chosen": chosen_reward.mean().item(),
        "train/rewards/rejected": rejected_reward.mean().item(),
        "train/rewards/margins": margin.mean().item(),
        "train/rewards/accuracies": (margin > 0).float().mean().item(),
        "train/logps/chosen": pol_c.mean().item(),
        "train/logps/rejected": pol_r.mean().item(),
        "train/nll/chosen": nll[0::2].mean().item(),
        "train/tokens": float(packed.n_tokens),
    }
    return StepOutput(loss=loss, stats=stats)


def validate_loss_types(loss_types: list[str]) -> None:
    """Raise a one-line ConfigError for loss types this backend does not implement."""
    from safetyalign.errors import ConfigError

    unknown = [t for t in loss_types if t not in {"sigmoid", "ipo", "hinge", "sft"}]
    if unknown:
        raise ConfigError(f"backend prefix_cache supports loss types sigmoid, ipo, hinge, sft; got {unknown}")
