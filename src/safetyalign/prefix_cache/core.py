"""Frozen-prefix activation caching for LoRA DPO.

When LoRA adapters sit only on the top ``L - K`` decoder layers, the bottom ``K`` layers are frozen and identical for
the policy and the reference model. Their output for every training sequence is computed once (no grad) and cached;
each training step then runs only the top layers (forward + backward) from the cache, and the reference log-probs
come from one adapter-disabled pass over the top layers. Per pair-visit this costs about ``3 (L-K) / L`` forward
passes instead of the ``~4`` of a standard DPO step (policy forward + backward + reference forward), which is what
makes DPO on a 2-core CPU practical. Each pair is packed as one row ``[prompt, chosen, rejected]`` with a 4-D mask
(the rejected answer sees the prompt but not the chosen one, and restarts its positions after the prompt), so the
shared prompt is computed once instead of twice. The loss is the same DPO objective; tests check it against plain
full forwards of the separate sequences.

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
    """One pair packed as a single row ``[prompt, chosen, rejected]`` (the prompt is computed once for both answers;
    the rejected tokens never attend to the chosen ones), its bottom-layer activations and reference log-probs."""

    hidden: torch.Tensor  # (T, H) output of the frozen bottom layers
    ids: torch.Tensor  # (T,) token ids
    positions: torch.Tensor  # (T,) position ids: the rejected answer restarts after the prompt
    segments: torch.Tensor  # (T,) SEG_PROMPT / SEG_CHOSEN / SEG_REJECTED
    src: torch.Tensor  # (M,) packed position whose output predicts target m
    targets: torch.Tensor  # (M,) response token ids
    groups: torch.Tensor  # (M,) 0 = chosen, 1 = rejected
    ref_logps: torch.Tensor  # (2,) summed response log-probs under the reference [chosen, rejected]


SEG_PROMPT, SEG_CHOSEN, SEG_REJECTED = 0, 1, 2


def pack_pair(pair: EncodedPair) -> dict[str, torch.Tensor]:
    """Token ids, positions, segments and (source, target, group) triples of one pair packed as one row."""
    p = pair.chosen_start
    if pair.rejected_start != p or pair.chosen_ids[:p] != pair.rejected_ids[:p]:
        raise ValueError("prefix_cache packs chosen and rejected after one shared prompt; their prompts differ")
    prompt, chosen, rejected = pair.chosen_ids[:p], pair.chosen_ids[p:], pair.rejected_ids[p:]
    if not prompt or not chosen or not rejected:
        raise ValueError("prompt, chosen and rejected need at least one token each")
    c, r = len(chosen), len(rejected)
    src = [p - 1, *range(p, p + c - 1), p - 1, *range(p + c, p + c + r - 1)]
    return {"ids": torch.tensor(prompt + chosen + rejected),
            "positions": torch.tensor([*range(p + c), *range(p, p + r)]),
            "segments": torch.tensor([SEG_PROMPT] * p + [SEG_CHOSEN] * c + [SEG_REJECTED] * r),
            "src": torch.tensor(src), "targets": torch.tensor(chosen + rejected),
            "groups": torch.tensor([0] * c + [1] * r)}


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
    """Right-pad a list of (T, ...) tensors; returns (padded, bool validity mask)."""
    n, t = len(seqs), max(s.shape[0] for s in seqs)
    out = seqs[0].new_full((n, t, *seqs[0].shape[1:]), value)
    valid = torch.zeros(n, t, dtype=torch.bool)
    for i, s in enumerate(seqs):
        out[i, : s.shape[0]] = s
        valid[i, : s.shape[0]] = True
    return out, valid


def packed_mask(segments: torch.Tensor, valid: torch.Tensor, attn_impl: str | None,
                dtype: torch.dtype) -> torch.Tensor:
    """4-D attention mask ``(B, 1, T, T)`` of packed rows: causal, the answers see the prompt and themselves only.

    Boolean (True = attend) for SDPA-style kernels, additive float for ``eager``; padding rows attend to themselves
    so that no row is fully masked.
    """
    t = segments.shape[1]
    causal = torch.ones(t, t, dtype=torch.bool).tril()
    seg_q, seg_k = segments[:, :, None], segments[:, None, :]
    allowed = causal & ((seg_k == SEG_PROMPT) | (seg_k == seg_q)) & valid[:, None, :] & valid[:, :, None]
    allowed |= torch.eye(t, dtype=torch.bool) & ~valid[:, :, None]
    allowed = allowed[:, None]
    if attn_impl == "eager":
        return torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)
    return allowed


@dataclass
class PackedBatch:
    """Padded tensors of several packed pairs, ready for the decoder."""

    ids: torch.Tensor
    positions: torch.Tensor
    mask: torch.Tensor
    src: tuple[torch.Tensor, torch.Tensor]  # (row, column) of each predicting position
    targets: torch.Tensor
    groups: torch.Tensor  # 2 * pair index + (0 chosen | 1 rejected)
    n_pairs: int
    n_tokens: int


def collate(items: list[dict[str, torch.Tensor]], model: Any, device: Any = "cpu") -> PackedBatch:
    """Pad packed pairs (dicts from :func:`pack_pair` or :class:`CachedPair` fields) into one batch."""
    ids, valid = _pad([it["ids"] for it in items])
    positions, _ = _pad([it["positions"] for it in items])
    segments, _ = _pad([it["segments"] for it in items])
    _, base = decoder_of(model)
    dtype = next(base.parameters()).dtype
    mask = packed_mask(segments, valid, getattr(base.config, "_attn_implementation", None), dtype)
    rows = torch.cat([torch.full_like(it["src"], i) for i, it in enumerate(items)])
    groups = torch.cat([2 * i + it["groups"] for i, it in enumerate(items)])
    return PackedBatch(ids.to(device), positions.to(device), mask.to(device),
                       (rows.to(device), torch.cat([it["src"] for it in items]).to(device)),
                       torch.cat([it["targets"] for it in items]).to(device), groups.to(device), len(items),
                       int(valid.sum()))


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


@torch.no_grad()
def build_cache(model: Any, pairs: list[EncodedPair], split_layer: int, batch_size: int = 8,
                progress: Any = None) -> list[CachedPair]:
    """Encode every pair through the frozen bottom layers once and compute reference log-probs (adapter off)."""
    cache: list[CachedPair | None] = [None] * len(pairs)
    device = next(model.parameters()).device
    packed = [pack_pair(p) for p in pairs]
    order = sorted(range(len(pairs)), key=lambda k: packed[k]["ids"].shape[0])  # similar lengths: little padding
    for i in range(0, len(pairs), batch_size):
        idx = order[i: i + batch_size]
        items = [packed[k] for k in idx]
        batch = collate(items, model, device)
        with layer_slice(model, 0, split_layer, final_norm=False) as decoder:
            hidden = decoder(input_ids=batch.ids, attention_mask=batch.mask, position_ids=batch.positions,
                             use_cache=False).last_hidden_state
        with _adapter_disabled(model):
            ref, _, _ = response_logps(model, hidden, batch, split_layer)
        for j, (k, it) in enumerate(zip(idx, items)):
            t = it["ids"].shape[0]
            cache[k] = CachedPair(hidden=hidden[j, :t].cpu().clone(), ref_logps=ref[2 * j: 2 * j + 2].cpu().clone(),
                                  **it)
        if progress is not None:
            progress(len(items))
    return cache  # type: ignore[return-value]


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
    device = next(model.parameters()).device
    packed = collate([vars(p) for p in batch], model, device)
    hidden, _ = _pad([p.hidden for p in batch])
    logps, counts, nll = response_logps(model, hidden.to(device), packed, split_layer)
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
