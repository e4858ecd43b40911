"""Pure functions of one Qwen2/Qwen3/Llama/Mistral-style decoder layer with LoRA, over packed (padding-free) tokens.

Weights are function arguments, so one compiled graph serves every layer. A projection is either single
(``(weight, bias)`` + LoRA ``(A, B, scale)`` or None) or a fused group (q/k/v, gate/up): one base matmul over the
group's concatenated weight, one LoRA-A matmul over the concatenated A's and one LoRA-B matmul over the
block-diagonal B's (fewer, larger kernels; see :mod:`safetyalign.fastdpo.model` for how weights are fused).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class LayerSpec:
    """Shape constants of a decoder layer (closed over by the compiled layer function)."""

    n_heads: int
    n_kv: int
    head_dim: int
    eps: float
    attention: str  # "flex" | "flex_rep" | "sdpa"
    fused: bool = False  # q/k/v and gate/up as fused groups
    qk_norm: bool = False  # Qwen3: RMSNorm over head_dim on q and k before RoPE


def rms(x: torch.Tensor, w: torch.Tensor, eps: float) -> torch.Tensor:
    """RMSNorm as transformers computes it (float32 statistics, result cast back, then the weight)."""
    xf = x.float()
    xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
    return w * xf.to(x.dtype)


def _rot(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def rope(q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotary position embedding (half-rotation layout, as transformers' ``apply_rotary_pos_emb``)."""
    return q * cos + _rot(q) * sin, k * cos + _rot(k) * sin


def swiglu(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    """SiLU-gated MLP activation."""
    return F.silu(gate) * up


def lin(x: torch.Tensor, base: tuple, lora: tuple | None, drop: float) -> torch.Tensor:
    """``x W^T + b + (B (A dropout(x))) * scale`` in the activation dtype (as PEFT under bf16 autocast)."""
    w, b = base
    y = F.linear(x, w, b)
    if lora is not None:
        a, bb, scale = lora
        xd = F.dropout(x, drop) if drop > 0 else x
        y = y + F.linear(F.linear(xd, a.to(x.dtype)), bb.to(x.dtype)) * scale
    return y


def lin_group(x: torch.Tensor, base: tuple, lora: tuple | None, drop: float, sizes: tuple[int, ...]) -> tuple:
    """A fused projection group: ``base = (W_cat, b_cat)``, ``lora = (A_1..A_n, B_1..B_n, scale)`` (one scale for the
    group); returns the per-projection outputs. Each projection keeps its own dropout mask, as in PEFT."""
    w, b = base
    y = F.linear(x, w, b)
    if lora is not None:
        n = len(sizes)
        a_s, b_s, scale = lora[:n], lora[n:2 * n], lora[2 * n]
        if drop > 0:
            xa = torch.cat([F.linear(F.dropout(x, drop), a.to(x.dtype)) for a in a_s], dim=-1)
        else:
            xa = F.linear(x, torch.cat(a_s).to(x.dtype))
        y = y + F.linear(xa, torch.block_diag(*b_s).to(x.dtype)) * scale
    return y.split(list(sizes), dim=-1)


def make_layer_fn(spec: LayerSpec, pointwise_compile: bool = False) -> Callable[..., torch.Tensor]:
    """A pure decoder-layer function ``f(h, cos, sin, mask, norms, base, lora, drop)``. ``pointwise_compile``
    compiles only RMSNorm, RoPE, SwiGLU and the attention kernel (matmuls and LoRA stay eager)."""
    from torch.nn.attention.flex_attention import flex_attention

    nh, nkv, hd = spec.n_heads, spec.n_kv, spec.head_dim
    norm, rot, act = rms, rope, swiglu
    if pointwise_compile:
        norm, rot, act = torch.compile(rms), torch.compile(rope), torch.compile(swiglu)
        flex_attention = torch.compile(flex_attention)

    def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: Any) -> torch.Tensor:
        if spec.attention == "flex":
            return flex_attention(q, k, v, block_mask=mask, enable_gqa=nh != nkv)
        rep = nh // nkv
        if rep > 1:
            k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        if spec.attention == "flex_rep":  # FlexAttention on repeated K/V heads (no GQA path)
            return flex_attention(q, k, v, block_mask=mask)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask)

    def project(x: torch.Tensor, base: tuple, lora: tuple, drop: float, group: int) -> tuple:
        """q/k/v (group 0) or gate/up (group 1) projections, fused or one by one."""
        if spec.fused:
            sizes = (nh * hd, nkv * hd, nkv * hd) if group == 0 else (base[1][0].shape[0] // 2,) * 2
            return lin_group(x, base[group], lora[group], drop, sizes)
        idx = (0, 1, 2) if group == 0 else (4, 5)
        return tuple(lin(x, base[i], lora[i], drop) for i in idx)

    def layer(h, cos, sin, mask, norms, base, lora, drop):  # noqa: ANN001, ANN202
        t = h.shape[0]
        lo = lora if lora is not None else (None,) * len(base)
        x = norm(h, norms[0], spec.eps)
        q, k, v = project(x, base, lo, drop, 0)
        q, k, v = q.view(1, t, nh, hd), k.view(1, t, nkv, hd), v.view(1, t, nkv, hd)
        if spec.qk_norm:
            q, k = norm(q, norms[2], spec.eps), norm(k, norms[3], spec.eps)
        q, k = rot(q.transpose(1, 2), k.transpose(1, 2), cos, sin)
        o = attend(q, k, v.transpose(1, 2), mask).transpose(1, 2).reshape(t, nh * hd)
        o_i, down_i = (2, 3) if spec.fused else (3, 6)
        h = h + lin(o, base[o_i], lo[o_i], drop)
        x = norm(h, norms[1], spec.eps)
        gate, up = project(x, base, lo, drop, 1)
        return h + lin(act(gate, up), base[down_i], lo[down_i], drop)

    return layer
