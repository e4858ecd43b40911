"""Frozen-prefix activation caching for LoRA DPO.

When LoRA adapters sit only on the top ``L - K`` decoder layers, the bottom ``K`` layers are frozen and identical for
the policy and the reference model. Their output for every training sequence is computed once (no grad) and cached;
each training step then runs only the top layers (forward + backward) from the cache, and the reference log-probs
come from one adapter-disabled pass over the top layers. Per pair-visit this costs about ``3 (L-K) / L`` forward
passes instead of the ``~4`` of a standard DPO step (policy forward + backward + reference forward), which is what
makes DPO on a 2-core CPU practical. The loss is the same DPO objective; tests check it against a full forward.

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

SUPPORTED_MODEL_TYPES = {"llama", "qwen2", "qwen3", "mistral"}


@dataclass
class EncodedPair:
    """Token ids of one preference pair: prompt tokens followed by each response's tokens."""

    chosen_ids: list[int]
    rejected_ids: list[int]
    chosen_start: int  # index of the first response token in chosen_ids
    rejected_start: int


@dataclass
class CachedPair:
    """Cached bottom-layer activations and reference log-probs of one pair."""

    hidden: list[torch.Tensor]  # [chosen (T1, H), rejected (T2, H)]
    ids: list[torch.Tensor]  # token ids, for targets
    starts: list[int]
    ref_logps: torch.Tensor  # (2,) summed response log-probs under the reference


def decoder_of(model: Any) -> Any:
    """The inner decoder (``LlamaModel``-like) of a (PEFT-wrapped) causal LM."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    model_type = getattr(base.config, "model_type", "")
    if model_type not in SUPPORTED_MODEL_TYPES:
        from safetyalign.errors import ConfigError

        raise ConfigError(f"backend prefix_cache supports {sorted(SUPPORTED_MODEL_TYPES)}, not '{model_type}': "
                          f"use train.backend=trl")
    return base.model, base


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


def encode_pair(tokenizer: Any, prompt_text: str, chosen_text: str, rejected_text: str, max_prompt_tokens: int,
                max_response_tokens: int) -> EncodedPair:
    """Tokenize rendered prompt/responses; the prompt keeps its end, responses keep their start."""
    p = tokenizer(prompt_text, add_special_tokens=False)["input_ids"][-max_prompt_tokens:]
    c = tokenizer(chosen_text, add_special_tokens=False)["input_ids"][:max_response_tokens]
    r = tokenizer(rejected_text, add_special_tokens=False)["input_ids"][:max_response_tokens]
    return EncodedPair(p + c, p + r, len(p), len(p))


def _pad(seqs: list[torch.Tensor], value: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad a list of (T, ...) tensors; returns (padded, attention_mask)."""
    n, t = len(seqs), max(s.shape[0] for s in seqs)
    out = seqs[0].new_full((n, t, *seqs[0].shape[1:]), value)
    mask = torch.zeros(n, t, dtype=torch.long)
    for i, s in enumerate(seqs):
        out[i, : s.shape[0]] = s
        mask[i, : s.shape[0]] = 1
    return out, mask


def response_logps(model: Any, hidden: torch.Tensor, mask: torch.Tensor, ids: torch.Tensor, starts: list[int],
                   split_layer: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run the top layers from cached ``hidden`` and return per-sequence (sum logp, token count, mean nll).

    The LM head is applied only to positions that predict response tokens (no full-vocab logits for prompts).
    """
    _, base = decoder_of(model)
    with layer_slice(model, split_layer, None, final_norm=True) as decoder:
        out = decoder(inputs_embeds=hidden, attention_mask=mask, use_cache=False).last_hidden_state
    rows, cols, targets = [], [], []
    lengths = mask.sum(1).tolist()
    for i, (start, length) in enumerate(zip(starts, lengths)):
        pos = torch.arange(start - 1, length - 1)
        rows.append(torch.full_like(pos, i))
        cols.append(pos)
        targets.append(ids[i, start:length])
    r, c, tgt = torch.cat(rows), torch.cat(cols), torch.cat(targets)
    logits = base.lm_head(out[r, c]).float()
    token_logp = torch.gather(F.log_softmax(logits, -1), 1, tgt[:, None]).squeeze(1)
    n = len(starts)
    sums = torch.zeros(n, dtype=token_logp.dtype).index_add(0, r, token_logp)
    counts = torch.bincount(r, minlength=n).clamp(min=1).to(token_logp.dtype)
    return sums, counts, -sums / counts


@torch.no_grad()
def build_cache(model: Any, pairs: list[EncodedPair], split_layer: int, batch_size: int = 8,
                progress: Any = None) -> list[CachedPair]:
    """Encode every pair through the frozen bottom layers once and compute reference log-probs (adapter off)."""
    cache: list[CachedPair] = []
    device = next(model.parameters()).device
    for i in range(0, len(pairs), batch_size):
        chunk = pairs[i: i + batch_size]
        seqs = [torch.tensor(s) for p in chunk for s in (p.chosen_ids, p.rejected_ids)]
        starts = [s for p in chunk for s in (p.chosen_start, p.rejected_start)]
        ids, mask = _pad(seqs)
        ids, mask = ids.to(device), mask.to(device)
        with layer_slice(model, 0, split_layer, final_norm=False) as decoder:
            hidden = decoder(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
        with _adapter_disabled(model):
            ref, _, _ = response_logps(model, hidden, mask, ids, starts, split_layer)
        lengths = mask.sum(1).tolist()
        for j in range(len(chunk)):
            a, b = 2 * j, 2 * j + 1
            cache.append(CachedPair(
                hidden=[hidden[a, : lengths[a]].clone(), hidden[b, : lengths[b]].clone()],
                ids=[ids[a, : lengths[a]].clone(), ids[b, : lengths[b]].clone()],
                starts=[starts[a], starts[b]], ref_logps=ref[a: b + 1].clone()))
        if progress is not None:
            progress(len(chunk))
    return cache


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


def dpo_step(model: Any, batch: list[CachedPair], split_layer: int, beta: float, loss_types: list[str],
             loss_weights: list[float]) -> StepOutput:
    """DPO (sigmoid / ipo / hinge) plus optional SFT-on-chosen on a micro-batch of cached pairs."""
    hidden, mask = _pad([h for p in batch for h in p.hidden])
    ids, _ = _pad([t for p in batch for t in p.ids])
    starts = [s for p in batch for s in p.starts]
    logps, counts, nll = response_logps(model, hidden, mask, ids, starts, split_layer)
    ref = torch.stack([p.ref_logps for p in batch]).to(logps.dtype)
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
        "train/tokens": float(mask.sum().item()),
    }
    return StepOutput(loss=loss, stats=stats)


def validate_loss_types(loss_types: list[str]) -> None:
    """Raise a one-line ConfigError for loss types this backend does not implement."""
    from safetyalign.errors import ConfigError

    unknown = [t for t in loss_types if t not in {"sigmoid", "ipo", "hinge", "sft"}]
    if unknown:
        raise ConfigError(f"backend prefix_cache supports loss types sigmoid, ipo, hinge, sft; got {unknown}")
