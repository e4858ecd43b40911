"""Next-token choice: greedy, or temperature + top-p sampling reproducible per request.

Sampling draws no state from a global generator: the uniform number for (request seed, token index, vocab id) is a
counter-based hash, and the token is the Gumbel-max over the nucleus. A request's answer therefore depends only on
its seed, its prompt and the model, never on which other requests share its batch or on the order they run in.
"""

from __future__ import annotations

import torch

_M32 = 0xFFFFFFFF
_MUL = 0x045D9F3B  # < 2**27: products of 32-bit values stay inside int64


def _mix(x: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer hash (two multiply-xorshift rounds) on int64 tensors holding values < 2**32."""
    x = (((x >> 16) ^ x) * _MUL) & _M32
    x = (((x >> 16) ^ x) * _MUL) & _M32
    return (x >> 16) ^ x


def uniforms(seeds: torch.Tensor, steps: torch.Tensor, vocab: int) -> torch.Tensor:
    """``[B, vocab]`` float32 in (0, 1): a fixed function of (seed, step, token id)."""
    key = _mix(_mix(seeds.long() & _M32) ^ (steps.long() & _M32))
    ids = torch.arange(vocab, device=seeds.device, dtype=torch.long)
    bits = _mix(key[:, None] ^ _mix(ids)[None, :]) & 0x7FFFFF  # 23 bits: (bits + 0.5) is exact in float32
    return (bits.float() + 0.5) / float(1 << 23)


def top_p_mask(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """``logits`` with tokens outside the nucleus set to -inf (the most likely token always stays)."""
    if top_p >= 1.0:
        return logits
    probs, idx = torch.sort(logits.softmax(-1), dim=-1, descending=True)
    drop_sorted = probs.cumsum(-1) - probs >= top_p  # mass before this token already reaches top_p
    drop = torch.zeros_like(drop_sorted).scatter_(-1, idx, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def repetition_penalty(logits: torch.Tensor, seen: torch.Tensor, penalty: float) -> torch.Tensor:
    """transformers' repetition penalty: logits of tokens already in the sequence (``seen [B, vocab]`` bool, prompt
    included) are divided by ``penalty`` when positive, multiplied when negative."""
    pen = torch.where(logits < 0, logits * penalty, logits / penalty)
    return torch.where(seen, pen, logits)


def top_k_mask(logits: torch.Tensor, top_k: int) -> torch.Tensor:
    """``logits`` with all but the ``top_k`` largest per row set to -inf (ties at the threshold kept)."""
    if top_k <= 0 or top_k >= logits.shape[-1]:
        return logits
    kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def next_tokens(logits: torch.Tensor, do_sample: bool, temperature: float = 1.0, top_p: float = 1.0,
                seeds: torch.Tensor | None = None, steps: torch.Tensor | None = None, top_k: int = 0,
                penalty: float = 1.0, seen: torch.Tensor | None = None) -> torch.Tensor:
    """Token ids ``[B]`` from ``logits [B, vocab]``, processed in transformers' order: repetition penalty (with
    ``seen``), then temperature, top-k, top-p. ``seeds``/``steps`` ``[B]`` (per request: seed and index of the
    token being drawn) are needed when sampling."""
    if penalty != 1.0 and seen is not None:
        logits = repetition_penalty(logits.float(), seen, penalty)
    if not do_sample:
        return logits.argmax(-1)
    if seeds is None or steps is None:
        raise ValueError("sampling needs per-request seeds and steps")
    x = top_p_mask(top_k_mask(logits.float() / max(temperature, 1e-6), top_k), top_p)
    gumbel = -torch.log(-torch.log(uniforms(seeds, steps, x.shape[-1])))
    return (x + gumbel).argmax(-1)
