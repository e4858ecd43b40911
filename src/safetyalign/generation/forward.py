"""Prefill and decode forwards over a slot-based static KV cache.

The cache holds ``slots`` sequences of up to ``max_len`` tokens: ``k[layer]`` and ``v[layer]`` are
``[slots, n_kv, max_len, head_dim]``. A request owns one slot from its prefill to its last token.

* :func:`prefill` runs a group of prompts right-padded to one width (causal attention needs no mask: padding only
  follows real tokens), writes their keys/values into their slots and returns the last real token's logits.
* :func:`decode` runs one new token for slots ``0..B-1`` (a batch *bucket*; idle slots compute garbage that
  nobody reads), attending to the first ``T`` cache positions of each slot with a length mask. Grouped-query
  attention runs as a ``rep``-token query per KV head, so K/V are never repeated. All shapes are static for a
  given ``(B, T)``, so the whole step can be captured in one CUDA graph.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from safetyalign.fastdpo.layers import lin, rms
from safetyalign.generation.weights import DecoderWeights


class KVCache:
    """Static key/value tensors ``[layers, slots, n_kv, max_len, head_dim]`` (``k[i]``/``v[i]``: one layer's view)."""

    def __init__(self, w: DecoderWeights, slots: int, max_len: int) -> None:
        shape = (len(w.layers), slots, w.n_kv, max_len, w.head_dim)
        self.k_all = torch.zeros(shape, dtype=w.dtype, device=w.device)
        self.v_all = torch.zeros(shape, dtype=w.dtype, device=w.device)
        self.k, self.v = list(self.k_all.unbind(0)), list(self.v_all.unbind(0))
        self.slots, self.max_len = slots, max_len

    @property
    def nbytes(self) -> int:
        return 2 * self.k_all.numel() * self.k_all.element_size()

    def move(self, src: int, dst: int, length: int) -> None:
        """Copy the first ``length`` positions of slot ``src`` to slot ``dst`` (compaction), all layers at once."""
        for t in (self.k_all, self.v_all):
            t[:, dst, :, :length] = t[:, src, :, :length]


def _rot(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def rope_cos_sin(w: DecoderWeights, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin ``[*positions.shape, head_dim]`` from the model's own rotary module (same scaling, same dtype)."""
    flat = positions.reshape(1, -1)
    cos, sin = w.rotary(w.embed[:1][None], flat)
    return cos.reshape(*positions.shape, -1), sin.reshape(*positions.shape, -1)


def _mlp(w: DecoderWeights, layer: dict, h: torch.Tensor) -> torch.Tensor:
    base, lo = layer["base"], layer["lora"]
    x = rms(h, layer["ln2"], w.eps)
    gate, up = lin(x, base[4], lo[4], 0.0), lin(x, base[5], lo[5], 0.0)
    return h + lin(F.silu(gate) * up, base[6], lo[6], 0.0)


def _qkv(w: DecoderWeights, layer: dict, h: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> tuple:
    """q ``[..., nh, hd]``, k, v ``[..., nkv, hd]`` (RoPE applied) of hidden states ``h [..., H]``."""
    base, lo = layer["base"], layer["lora"]
    x = rms(h, layer["ln1"], w.eps)
    lead = h.shape[:-1]
    q = lin(x, base[0], lo[0], 0.0).view(*lead, w.n_heads, w.head_dim)
    k = lin(x, base[1], lo[1], 0.0).view(*lead, w.n_kv, w.head_dim)
    v = lin(x, base[2], lo[2], 0.0).view(*lead, w.n_kv, w.head_dim)
    if w.qk_norm:
        q, k = rms(q, layer["q_norm"], w.eps), rms(k, layer["k_norm"], w.eps)
    c, s = cos.unsqueeze(-2), sin.unsqueeze(-2)
    return q * c + _rot(q) * s, k * c + _rot(k) * s, v


def prefill(w: DecoderWeights, cache: KVCache, ids: torch.Tensor, lengths: torch.Tensor,
            slots: torch.Tensor) -> torch.Tensor:
    """Logits ``[n, vocab]`` of the last real token of each right-padded prompt ``ids [n, width]``; keys/values of
    positions ``0..width-1`` are written to ``slots`` (positions past a prompt's length hold padding garbage that
    decode overwrites or masks)."""
    n, width = ids.shape
    pos = torch.arange(width, device=ids.device)
    cos, sin = rope_cos_sin(w, pos)
    h = F.embedding(ids, w.embed)
    rep = w.n_heads // w.n_kv
    for li, layer in enumerate(w.layers):
        q, k, v = _qkv(w, layer, h, cos, sin)
        k, v = k.transpose(1, 2), v.transpose(1, 2)  # [n, nkv, width, hd]
        cache.k[li][slots, :, :width] = k
        cache.v[li][slots, :, :width] = v
        if rep > 1:
            k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        o = F.scaled_dot_product_attention(q.transpose(1, 2), k, v, is_causal=True)
        h = h + lin(o.transpose(1, 2).reshape(n, width, -1), layer["base"][3], layer["lora"][3], 0.0)
        h = _mlp(w, layer, h)
    last = h[torch.arange(n, device=h.device), lengths - 1]
    return F.linear(rms(last, w.norm, w.eps), w.lm_head)


def decode(w: DecoderWeights, cache: KVCache, tokens: torch.Tensor, positions: torch.Tensor,
           span: int) -> torch.Tensor:
    """Logits ``[B, vocab]`` for one token per slot ``0..B-1`` (``tokens``/``positions`` ``[B]``), attending to
    cache positions ``0..span-1`` (every position ``<=`` the slot's own)."""
    b = tokens.shape[0]
    cos, sin = rope_cos_sin(w, positions)
    h = F.embedding(tokens, w.embed)
    rows = torch.arange(b, device=tokens.device)
    keep = torch.arange(span, device=tokens.device)[None, :] <= positions[:, None]
    mask = torch.zeros(keep.shape, dtype=h.dtype, device=h.device).masked_fill_(~keep, float("-inf"))
    mask = mask[:, None, None, :]
    rep = w.n_heads // w.n_kv
    for li, layer in enumerate(w.layers):
        q, k, v = _qkv(w, layer, h, cos, sin)
        kc, vc = cache.k[li], cache.v[li]
        kc[rows, :, positions] = k
        vc[rows, :, positions] = v
        qg = q.view(b, w.n_kv, rep, w.head_dim)
        o = F.scaled_dot_product_attention(qg, kc[:b, :, :span], vc[:b, :, :span], attn_mask=mask)
        h = h + lin(o.reshape(b, -1), layer["base"][3], layer["lora"][3], 0.0)
        h = _mlp(w, layer, h)
    return F.linear(rms(h, w.norm, w.eps), w.lm_head)
