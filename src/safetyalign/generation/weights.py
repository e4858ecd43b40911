"""The decoder weights the generation engine reads from a transformers causal LM (Llama/Qwen2/Qwen3/Mistral).

Weights are read by reference (no copy). A PEFT LoRA adapter is either *merged* into fresh per-projection tensors
(``W + scale * B @ A``, computed in float32; the model's own weights stay untouched and are shared with the base
pass) or kept *unmerged* (two small extra matmuls per projection). Merging costs the memory of the adapted
projections while the tuned pass runs; :func:`read_weights` merges only when that memory is free.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from safetyalign.fastdpo.model import PROJ, SUPPORTED


@dataclass
class DecoderWeights:
    """Everything one decode or prefill step needs; ``layers[i]`` maps names to tensors/tuples."""

    n_heads: int
    n_kv: int
    head_dim: int
    eps: float
    embed: torch.Tensor
    norm: torch.Tensor
    lm_head: torch.Tensor
    rotary: torch.nn.Module
    layers: list[dict[str, Any]]
    qk_norm: bool
    lora_mode: str  # "none" | "merged" | "unmerged"
    dtype: torch.dtype
    device: torch.device
    vocab_size: int
    window: int | None = None  # sliding-window attention span, if the model uses one


def causal_lm(model: torch.nn.Module) -> torch.nn.Module:
    """The transformers causal LM under a PEFT wrapper (or the model itself)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def supported(model: torch.nn.Module) -> bool:
    """Whether the engine can run this architecture."""
    cfg = getattr(causal_lm(model), "config", None)
    return getattr(cfg, "model_type", None) in SUPPORTED and hasattr(causal_lm(model), "model")


def _lora(m: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor, float] | None:
    """``(A, B, scale)`` of the active ``default`` LoRA adapter of a PEFT layer, else None."""
    if not (hasattr(m, "lora_A") and "default" in m.lora_A) or getattr(m, "merged", False):
        return None
    if getattr(m, "disable_adapters", False):
        return None
    return m.lora_A["default"].weight, m.lora_B["default"].weight, float(m.scaling["default"])


def merge_bytes(model: torch.nn.Module) -> int:
    """Bytes of the merged copies :func:`read_weights` would allocate for ``lora='merge'``."""
    total = 0
    for m in model.modules():
        if _lora(m) is not None:
            w = m.get_base_layer().weight
            total += w.numel() * w.element_size()
    return total


def choose_lora_mode(model: torch.nn.Module, requested: str = "auto", headroom: float = 0.5) -> str:
    """``merge`` when asked, or (``auto``) on CUDA when the merged copies fit in ``headroom`` of the free memory."""
    if requested in ("merge", "unmerged"):
        return requested
    need = merge_bytes(model)
    if need == 0:
        return "unmerged"
    dev = next(model.parameters()).device
    if dev.type != "cuda":
        return "unmerged"
    free, _ = torch.cuda.mem_get_info(dev)
    return "merge" if need < headroom * free else "unmerged"


def _proj(m: torch.nn.Module, mode: str) -> tuple[tuple[torch.Tensor, torch.Tensor | None], Any]:
    base = getattr(m, "base_layer", m)
    lora = _lora(m) if mode != "base" else None
    w, b = base.weight, base.bias
    if lora is None:
        return (w, b), None
    a, bb, scale = lora
    if mode == "merge":
        merged = (w.float() + scale * (bb.float() @ a.float())).to(w.dtype)
        return (merged, b), None
    return (w, b), (a, bb, torch.tensor(scale, device=a.device, dtype=torch.float32))


def read_weights(model: torch.nn.Module, lora: str = "auto", use_adapter: bool = True) -> DecoderWeights:
    """Weights of ``model`` for the engine. ``use_adapter=False`` reads the base weights (adapter ignored);
    ``lora`` is ``merge`` | ``unmerged`` | ``auto`` (see :func:`choose_lora_mode`)."""
    causal = causal_lm(model)
    cfg = causal.config
    if cfg.model_type not in SUPPORTED:
        raise ValueError(f"generation engine: model type {cfg.model_type!r} not supported (supported: "
                         f"{', '.join(SUPPORTED)}); use eval.generation.engine: hf")
    inner = causal.model
    nh = cfg.num_attention_heads
    hd = getattr(cfg, "head_dim", None) or cfg.hidden_size // nh
    has_lora = use_adapter and merge_bytes(model) > 0
    mode = ("merge" if choose_lora_mode(model, lora) == "merge" else "unmerged") if has_lora else "base"
    qk_norm = hasattr(inner.layers[0].self_attn, "q_norm")
    layers = []
    with torch.no_grad():
        for layer in inner.layers:
            mods = [getattr(layer.self_attn, n) if n[0] in "qkvo" else getattr(layer.mlp, n) for n in PROJ]
            read = [_proj(m, mode) for m in mods]
            d: dict[str, Any] = {"ln1": layer.input_layernorm.weight, "ln2": layer.post_attention_layernorm.weight,
                                 "base": tuple(r[0] for r in read), "lora": tuple(r[1] for r in read)}
            if qk_norm:
                d["q_norm"], d["k_norm"] = layer.self_attn.q_norm.weight, layer.self_attn.k_norm.weight
            layers.append(d)
    emb = inner.embed_tokens.weight
    window = getattr(cfg, "sliding_window", None) if getattr(cfg, "use_sliding_window", True) else None
    return DecoderWeights(nh, cfg.num_key_value_heads, hd, float(cfg.rms_norm_eps), emb, inner.norm.weight,
                          causal.lm_head.weight, inner.rotary_emb, layers, qk_norm,
                          {"base": "none", "merge": "merged", "unmerged": "unmerged"}[mode], emb.dtype, emb.device,
                          causal.lm_head.weight.shape[0], window)
