"""Functional Qwen2/Llama-style decoder over a transformers model's own weights, with LoRA and packed attention."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from safetyalign.fastdpo.logprobs import chunked_logprobs
from safetyalign.fastdpo.packing import PackedBatch, dense_mask, flex_block_mask

PROJ = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class LayerSpec:
    """Shape constants of a decoder layer (closed over by the compiled layer function)."""

    n_heads: int
    n_kv: int
    head_dim: int
    eps: float
    attention: str  # "flex" | "flex_rep" | "sdpa"


def _rms(x: torch.Tensor, w: torch.Tensor, eps: float) -> torch.Tensor:
    xf = x.float()
    xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
    return w * xf.to(x.dtype)


def _rot(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def _lin(x: torch.Tensor, base: tuple, lora: tuple | None, drop: float) -> torch.Tensor:
    w, b = base
    y = F.linear(x, w, b)
    if lora is not None:
        a, bb, scale = lora
        xd = F.dropout(x, drop) if drop > 0 else x
        y = y + F.linear(F.linear(xd, a.to(x.dtype)), bb.to(x.dtype)) * scale
    return y


def _rope(q: torch.Tensor, k: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return q * cos + _rot(q) * sin, k * cos + _rot(k) * sin


def _swiglu(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    return F.silu(gate) * up


def make_layer_fn(spec: LayerSpec, pointwise_compile: bool = False) -> Callable[..., torch.Tensor]:
    """A pure decoder-layer function ``f(h, cos, sin, mask, norms, base, lora, drop)``; weights are arguments so that
    one compiled graph serves every layer. ``pointwise_compile`` compiles only RMSNorm, RoPE, SwiGLU and the
    attention kernel (matmuls and LoRA stay eager)."""
    from torch.nn.attention.flex_attention import flex_attention

    nh, nkv, hd = spec.n_heads, spec.n_kv, spec.head_dim
    rms, rope, swiglu = _rms, _rope, _swiglu
    if pointwise_compile:
        rms, rope, swiglu = torch.compile(_rms), torch.compile(_rope), torch.compile(_swiglu)
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

    def layer(h, cos, sin, mask, norms, base, lora, drop):  # noqa: ANN001, ANN202
        t = h.shape[0]
        lo = lora if lora is not None else (None,) * 7
        x = rms(h, norms[0], spec.eps)
        q = _lin(x, base[0], lo[0], drop).view(1, t, nh, hd).transpose(1, 2)
        k = _lin(x, base[1], lo[1], drop).view(1, t, nkv, hd).transpose(1, 2)
        v = _lin(x, base[2], lo[2], drop).view(1, t, nkv, hd).transpose(1, 2)
        q, k = rope(q, k, cos, sin)
        o = attend(q, k, v, mask).transpose(1, 2).reshape(t, nh * hd)
        h = h + _lin(o, base[3], lo[3], drop)
        x = rms(h, norms[1], spec.eps)
        gate = _lin(x, base[4], lo[4], drop)
        up = _lin(x, base[5], lo[5], drop)
        return h + _lin(swiglu(gate, up), base[6], lo[6], drop)

    return layer


class FastDecoder:
    """Reads the weights (and PEFT LoRA parameters, if any) of a transformers causal LM without copying them."""

    def __init__(self, model: torch.nn.Module, attention: str = "sdpa", compile: bool | str = False,
                 checkpoint: bool = True, logits_chunk: int = 512) -> None:
        causal = model.get_base_model() if hasattr(model, "get_base_model") else model
        cfg = causal.config
        inner = causal.model
        nh = cfg.num_attention_heads
        hd = getattr(cfg, "head_dim", None) or cfg.hidden_size // nh
        self.spec = LayerSpec(nh, cfg.num_key_value_heads, hd, float(cfg.rms_norm_eps), attention)
        self.embed = inner.embed_tokens.weight
        self.norm = inner.norm.weight
        self.lm_head = causal.lm_head.weight
        self.rotary = inner.rotary_emb
        self.checkpoint = checkpoint
        self.logits_chunk = logits_chunk
        self.layers = [self._read_layer(layer) for layer in inner.layers]
        fn = make_layer_fn(self.spec, pointwise_compile=compile == "pointwise")
        self.layer_fn = torch.compile(fn, dynamic=None) if compile in (True, "layer") else fn

    @staticmethod
    def _read_layer(layer: torch.nn.Module) -> dict[str, Any]:
        mods = [getattr(layer.self_attn, n) if n[0] in "qkvo" else getattr(layer.mlp, n) for n in PROJ]
        base, lora, drops = [], [], []
        for m in mods:
            lin = getattr(m, "base_layer", m)
            base.append((lin.weight, lin.bias))
            if hasattr(m, "lora_A") and "default" in m.lora_A:
                a = m.lora_A["default"].weight
                scale = torch.tensor(float(m.scaling["default"]), device=a.device, dtype=torch.float32)
                lora.append((a, m.lora_B["default"].weight, scale))
                d = m.lora_dropout["default"]
                drops.append(float(getattr(d, "p", 0.0)))
            else:
                lora.append(None)
        norms = (layer.input_layernorm.weight, layer.post_attention_layernorm.weight)
        # the reference runs the very same (compiled) graph with a zero LoRA scale, so that at B = 0 policy and
        # reference agree bit for bit, as they do in TRL's eager adapter-disabled forward
        ref = tuple(None if lo is None else (lo[0], lo[1], torch.zeros_like(lo[2])) for lo in lora)
        return {"norms": norms, "base": tuple(base), "lora": tuple(lora), "lora_ref": ref,
                "drop": max(drops, default=0.0)}

    def lora_parameters(self) -> list[torch.nn.Parameter]:
        """Every LoRA A/B parameter, in layer order."""
        return [t for layer in self.layers for lo in layer["lora"] if lo is not None for t in lo[:2]]

    def attention_mask(self, batch: PackedBatch) -> Any:
        """The mask object the attention backend takes."""
        return flex_block_mask(batch) if self.spec.attention.startswith("flex") else dense_mask(batch)

    def reference_logps(self, batch: PackedBatch, mask: Any = None, exact: bool = True) -> torch.Tensor:
        """Adapter-disabled summed log-probs. ``exact`` runs the policy's own graph with a zero LoRA scale (bitwise
        equal to the policy while B = 0); otherwise a separate no-grad graph without the LoRA ops (a little faster,
        rounding differs)."""
        if not exact:
            with torch.no_grad():
                return self.sequence_logps(batch, use_lora=False, mask=mask)
        with torch.enable_grad():
            return self.sequence_logps(batch, use_lora=True, mask=mask, training=False, ref=True).detach()

    def sequence_logps(self, batch: PackedBatch, use_lora: bool, mask: Any = None,
                       training: bool = True, ref: bool = False) -> torch.Tensor:
        """Summed completion log-probs ``[2 * n_pairs]``: chosen answers first, then rejected ones."""
        mask = self.attention_mask(batch) if mask is None else mask
        h = F.embedding(batch.input_ids, self.embed)
        cos, sin = self.rotary(h[None], batch.position_ids[None])
        cos, sin = cos[:, None], sin[:, None]
        grad = torch.is_grad_enabled() and use_lora
        for layer in self.layers:
            lora = (layer["lora_ref"] if ref else layer["lora"]) if use_lora else None
            drop = layer["drop"] if (use_lora and training) else 0.0
            args = (h, cos, sin, mask, layer["norms"], layer["base"], lora, drop)
            if grad and self.checkpoint:
                h = torch.utils.checkpoint.checkpoint(self.layer_fn, *args, use_reentrant=False)
            else:
                h = self.layer_fn(*args)
        hs = _rms(h.index_select(0, batch.src_index), self.norm, self.spec.eps)
        logp = chunked_logprobs(hs, self.lm_head, batch.target_ids, self.logits_chunk)
        out = torch.zeros(2 * batch.n_pairs, dtype=torch.float32, device=logp.device)
        return out.index_add(0, batch.group, logp)


def model_flops_per_token(config: Any) -> float:
    """Matmul FLOPs of one forward per token (2 x linear parameters incl. LM head, no embedding lookup)."""
    h, i = config.hidden_size, config.intermediate_size
    nh = config.num_attention_heads
    hd = getattr(config, "head_dim", None) or h // nh
    kv = config.num_key_value_heads * hd
    per_layer = h * nh * hd * 2 + 2 * h * kv + 3 * h * i
    return 2.0 * (config.num_hidden_layers * per_layer + h * config.vocab_size)


def attention_flops(config: Any, seq_len: int) -> float:
    """Causal attention FLOPs of one forward of one sequence (QK^T and PV, half the square)."""
    nh = config.num_attention_heads
    hd = getattr(config, "head_dim", None) or config.hidden_size // nh
    return 2.0 * 2 * config.num_hidden_layers * nh * hd * seq_len * seq_len / 2


