"""Functional decoder over a transformers causal LM's own weights (Qwen2/Qwen3/Llama/Mistral), LoRA, packed tokens."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from safetyalign.fastdpo.layers import LayerSpec, make_layer_fn, rms
from safetyalign.fastdpo.logprobs import chunked_logprobs
from safetyalign.fastdpo.packing import PackedBatch, dense_mask, flex_block_mask

PROJ = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
GROUPS = ((0, 1, 2), (4, 5), (3,), (6,))  # fused layout: qkv, gate_up, o, down
SUPPORTED = ("llama", "qwen2", "qwen3", "mistral")

__all__ = ["FastDecoder", "LayerSpec", "PROJ", "SUPPORTED", "attention_flops", "model_flops_per_token"]


def _lora_of(m: torch.nn.Module) -> tuple[tuple | None, float]:
    """``((A, B, scale), dropout_p)`` of a PEFT LoRA module's ``default`` adapter, or ``(None, 0)``."""
    if not (hasattr(m, "lora_A") and "default" in m.lora_A):
        return None, 0.0
    a = m.lora_A["default"].weight
    scale = torch.tensor(float(m.scaling["default"]), device=a.device, dtype=torch.float32)
    return (a, m.lora_B["default"].weight, scale), float(getattr(m.lora_dropout["default"], "p", 0.0))


def _fuse_in_place(lins: list[torch.nn.Module]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Concatenate the weights (and biases) of ``lins`` into one tensor and re-point each module's parameter at its
    slice (a view), so the fused copy replaces the originals in memory instead of adding to them."""
    def fuse(name: str) -> torch.Tensor:
        parts = [getattr(m, name) for m in lins]
        cat = torch.cat([p.detach() for p in parts], 0)
        ofs = 0
        for p in parts:
            p.data = cat[ofs:ofs + p.shape[0]]
            ofs += p.shape[0]
        return cat

    return fuse("weight"), (fuse("bias") if lins[0].bias is not None else None)


def _fusable(mods: list[torch.nn.Module]) -> bool:
    """A group can be fused when all or none of its projections have LoRA (one scale) and all or none a bias."""
    loras = [_lora_of(m)[0] for m in mods]
    lins = [getattr(m, "base_layer", m) for m in mods]
    same_lora = all(lo is None for lo in loras) or (
        all(lo is not None for lo in loras) and len({float(lo[2]) for lo in loras}) == 1)
    return same_lora and len({lin.bias is None for lin in lins}) == 1


def _zero_scale(lora: tuple | None) -> tuple | None:
    """The same LoRA tuple with a zero scale (the reference: same graph, adapter contribution zero)."""
    return None if lora is None else (*lora[:-1], torch.zeros_like(lora[-1]))


class FastDecoder:
    """Reads the weights (and PEFT LoRA parameters, if any) of a transformers causal LM without copying them.

    ``fuse_projections`` re-lays the q/k/v and gate/up weights of the model as slices of one tensor per group (in
    place: the model keeps working, its parameters become views), for fewer and larger matmuls.
    """

    def __init__(self, model: torch.nn.Module, attention: str = "sdpa", compile: bool | str = False,
                 checkpoint: bool = True, logits_chunk: int = 512, fuse_projections: bool = False,
                 fused_logprobs: bool = False, reentrant: bool = False) -> None:
        causal = model.get_base_model() if hasattr(model, "get_base_model") else model
        cfg = causal.config
        inner = causal.model
        nh = cfg.num_attention_heads
        hd = getattr(cfg, "head_dim", None) or cfg.hidden_size // nh
        qk_norm = hasattr(inner.layers[0].self_attn, "q_norm")
        fuse = fuse_projections and all(_fusable([self._mods(layer)[i] for i in g])
                                        for layer in inner.layers for g in GROUPS[:2])
        self.spec = LayerSpec(nh, cfg.num_key_value_heads, hd, float(cfg.rms_norm_eps), attention, fuse, qk_norm)
        self.embed = inner.embed_tokens.weight
        self.norm = inner.norm.weight
        self.lm_head = causal.lm_head.weight
        self.rotary = inner.rotary_emb
        self.checkpoint = checkpoint
        self.reentrant = reentrant
        self.logits_chunk = logits_chunk
        self.fused_logprobs = fused_logprobs
        self._embed_home: torch.device | None = None
        self.layers = [self._read_layer(layer) for layer in inner.layers]
        fn = make_layer_fn(self.spec, pointwise_compile=compile == "pointwise")
        self.layer_fn = torch.compile(fn, dynamic=None) if compile in (True, "layer") else fn

    @staticmethod
    def _mods(layer: torch.nn.Module) -> list[torch.nn.Module]:
        return [getattr(layer.self_attn, n) if n[0] in "qkvo" else getattr(layer.mlp, n) for n in PROJ]

    def _read_layer(self, layer: torch.nn.Module) -> dict[str, Any]:
        mods = self._mods(layer)
        read = [_lora_of(m) for m in mods]
        lins = [getattr(m, "base_layer", m) for m in mods]
        norms = (layer.input_layernorm.weight, layer.post_attention_layernorm.weight)
        if self.spec.qk_norm:
            norms += (layer.self_attn.q_norm.weight, layer.self_attn.k_norm.weight)
        if self.spec.fused:
            base = tuple(_fuse_in_place([lins[i] for i in g]) if len(g) > 1 else (lins[g[0]].weight, lins[g[0]].bias)
                         for g in GROUPS)
            lora = tuple(self._group_lora([read[i][0] for i in g]) for g in GROUPS)
        else:
            base = tuple((lin.weight, lin.bias) for lin in lins)
            lora = tuple(r[0] for r in read)
        # the reference runs the very same (compiled) graph with a zero LoRA scale, so that at B = 0 policy and
        # reference agree bit for bit, as they do in TRL's eager adapter-disabled forward
        return {"norms": norms, "base": base, "lora": lora, "lora_ref": tuple(_zero_scale(lo) for lo in lora),
                "drop": max((r[1] for r in read), default=0.0)}

    @staticmethod
    def _group_lora(loras: list[tuple | None]) -> tuple | None:
        """``(A_1..A_n, B_1..B_n, scale)`` of a fused group, or the single projection's tuple, or None."""
        if loras[0] is None:
            return None
        if len(loras) == 1:
            return loras[0]
        return (*[lo[0] for lo in loras], *[lo[1] for lo in loras], loras[0][2])

    def lora_parameters(self) -> list[torch.nn.Parameter]:
        """Every LoRA A/B parameter, in layer order."""
        return [t for layer in self.layers for lo in layer["lora"] if lo is not None for t in lo[:-1]]

    def attention_mask(self, batch: PackedBatch) -> Any:
        """The mask object the attention backend takes."""
        return flex_block_mask(batch) if self.spec.attention.startswith("flex") else dense_mask(batch)

    def offload_embedding(self) -> bool:
        """Move the frozen input embedding table to pinned CPU memory (freeing its GPU copy; lookups then happen on
        the CPU in :meth:`lookup`). Not done for tied embeddings (the LM head needs the table). Returns whether it
        moved; :meth:`restore_embedding` moves it back."""
        emb = self.embed
        if emb.device.type != "cuda" or emb.data_ptr() == self.lm_head.data_ptr() or self._embed_home is not None:
            return False
        cpu = torch.empty(emb.shape, dtype=emb.dtype, pin_memory=True)
        cpu.copy_(emb.detach())
        self._embed_home = emb.device
        emb.data = cpu
        return True

    def restore_embedding(self) -> None:
        """Undo :meth:`offload_embedding`."""
        if self._embed_home is not None:
            self.embed.data = self.embed.data.to(self._embed_home)
            self._embed_home = None

    @property
    def embed_offloaded(self) -> bool:
        """Whether the embedding table lives on the CPU (see :meth:`offload_embedding`)."""
        return self._embed_home is not None

    def lookup(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Input embeddings of CPU ``input_ids`` from the offloaded table, in pinned memory (for an async copy)."""
        table = self.embed.detach()
        raw = {2: torch.int16, 4: torch.int32}.get(table.element_size())
        if raw is None:
            return F.embedding(input_ids, table).pin_memory()
        out = torch.empty((input_ids.numel(), table.shape[1]), dtype=raw, pin_memory=True)
        torch.index_select(table.view(raw), 0, input_ids, out=out)  # plain row copies, straight into pinned memory
        return out.view(table.dtype)

    def reference_logps(self, batch: PackedBatch, mask: Any = None, exact: bool = True,
                        training: bool = True) -> torch.Tensor:
        """Adapter-disabled summed log-probs. ``exact`` runs the policy's own forward graph with a zero LoRA scale
        (bitwise equal to the policy while B = 0; ``training`` must then match the policy's, so that dropout, which
        the zero scale cancels, leaves the graph the same); otherwise a separate graph without the LoRA ops (a
        little faster, rounding differs). With reentrant checkpointing the policy's forward runs without autograd,
        so the exact reference does too."""
        if not exact:
            with torch.no_grad():
                return self.sequence_logps(batch, use_lora=False, mask=mask)
        grad = not (self.checkpoint and self.reentrant)
        with torch.set_grad_enabled(grad):
            return self.sequence_logps(batch, use_lora=True, mask=mask, training=training, ref=True).detach()

    def sequence_logps(self, batch: PackedBatch, use_lora: bool, mask: Any = None,
                       training: bool = True, ref: bool = False) -> torch.Tensor:
        """Summed completion log-probs ``[2 * n_pairs]``: chosen answers first, then rejected ones."""
        mask = self.attention_mask(batch) if mask is None else mask
        h = batch.inputs_embeds if batch.inputs_embeds is not None else F.embedding(batch.input_ids, self.embed)
        cos, sin = self.rotary(h[None], batch.position_ids[None])
        cos, sin = cos[:, None], sin[:, None]
        h = self.run_layers(h, cos, sin, mask, use_lora, training, ref)
        hs = rms(h.index_select(0, batch.src_index), self.norm, self.spec.eps)
        logp = chunked_logprobs(hs, self.lm_head, batch.target_ids, self.logits_chunk, self.fused_logprobs)
        # float64 sums: GPU index_add adds atomically in no fixed order; in float64 that order cannot show
        out = torch.zeros(2 * batch.n_pairs, dtype=torch.float64, device=logp.device)
        return out.index_add(0, batch.group, logp.double()).float()

    def run_layers(self, h: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, mask: Any, use_lora: bool,
                   training: bool, ref: bool) -> torch.Tensor:
        """The decoder stack, each layer checkpointed when gradients are needed. Reentrant checkpointing runs the
        forward without autograd (the cheap inference graph) and recomputes with autograd in the backward."""
        grad = torch.is_grad_enabled() and use_lora
        if grad and self.checkpoint and self.reentrant:
            h = h.detach().requires_grad_(True)  # reentrant checkpoints only pass gradients to inputs that want them
        for layer in self.layers:
            lora = (layer["lora_ref"] if ref else layer["lora"]) if use_lora else None
            drop = layer["drop"] if (use_lora and training) else 0.0
            args = (h, cos, sin, mask, layer["norms"], layer["base"], lora, drop)
            if grad and self.checkpoint:
                h = torch.utils.checkpoint.checkpoint(self.layer_fn, *args, use_reentrant=self.reentrant)
            else:
                h = self.layer_fn(*args)
        return h


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
