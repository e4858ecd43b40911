"""FastDPOTrainer: sigmoid-DPO steps on a PEFT LoRA model through the packed fast decoder."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from safetyalign.fastdpo.model import FastDecoder
from safetyalign.fastdpo.packing import PackedBatch, Pair, pack_pairs


@dataclass
class FastDPOConfig:
    """Settings of the fast path (the DPO/optimizer ones mirror TRL's DPOConfig defaults)."""

    beta: float = 0.1
    lr: float = 5e-6
    weight_decay: float = 0.0
    adam_betas: tuple[float, float] = (0.9, 0.999)
    adam_eps: float = 1e-8
    max_grad_norm: float | None = 1.0
    attention: str = "auto"  # "flex" | "sdpa" | "auto" (flex on CUDA, sdpa elsewhere)
    compile: bool | str | None = None  # "layer" (= True) | "pointwise" | False; None = "layer" on CUDA only
    emulate_precision_casts: bool = True  # inductor rounds intermediates to bf16 exactly where eager does
    gradient_checkpointing: bool = True
    logits_chunk: int = 256
    exact_reference: bool = True  # reference through the policy graph (zero LoRA scale): bitwise equal at B = 0
    fuse_projections: bool = False  # q/k/v and gate/up weights re-laid as one tensor per group (in place)
    fused_logprobs: bool | None = None  # compiled LM-head chunk math; None = when the layer is compiled
    offload_embedding: bool | None = None  # frozen input embedding table to pinned CPU memory (untied embeddings
    # only; saves vocab x hidden x 2 bytes, 1 GiB for Qwen2.5-7B); None = on CUDA
    reentrant_checkpoint: bool = True  # checkpointed forward without autograd (the cheaper inference graph, also
    # used by the exact reference), recomputed with autograd in the backward
    prefetch: bool = True  # prepare the next micro-batch (packing, embedding gather, copy, mask) while the GPU works


def dpo_sigmoid_loss(logps: torch.Tensor, ref_logps: torch.Tensor, beta: float) -> tuple[torch.Tensor, dict]:
    """TRL's sigmoid DPO loss from ``[2n]`` policy/reference log-probs (chosen first); returns (loss, tensors)."""
    n = logps.numel() // 2
    chosen_lr = logps[:n] - ref_logps[:n]
    rejected_lr = logps[n:] - ref_logps[n:]
    loss = -F.logsigmoid(beta * (chosen_lr - rejected_lr)).mean()
    rc, rr = beta * chosen_lr.detach(), beta * rejected_lr.detach()
    stats = {"rewards/chosen": rc.mean(), "rewards/rejected": rr.mean(), "rewards/margins": (rc - rr).mean(),
             "rewards/accuracies": (rc > rr).float().mean(), "logps/chosen": logps[:n].detach().mean(),
             "logps/rejected": logps[n:].detach().mean()}
    return loss, stats


class FastDPOTrainer:
    """One optimizer step per :meth:`step` call on a batch of ``(prompt_ids, chosen_ids, rejected_ids)`` pairs.

    ``model`` is a PEFT ``PeftModel`` with a LoRA adapter named ``default`` over a Qwen2/Llama-style causal LM: the
    trainer updates that adapter's parameters in place, so ``model.save_pretrained`` saves the result. The reference
    is the same model with the adapter skipped.
    """

    def __init__(self, model: torch.nn.Module, config: FastDPOConfig | None = None,
                 lr_lambda: Callable[[int], float] | None = None) -> None:
        self.config = cfg = config or FastDPOConfig()
        dev = next(model.parameters()).device
        self.device = dev
        attention = cfg.attention if cfg.attention != "auto" else ("flex" if dev.type == "cuda" else "sdpa")
        compile_ = cfg.compile if cfg.compile is not None else dev.type == "cuda"
        if compile_:
            import torch._inductor.config as inductor_config

            inductor_config.emulate_precision_casts = cfg.emulate_precision_casts
        fused_lp = cfg.fused_logprobs if cfg.fused_logprobs is not None else compile_ in (True, "layer")
        self.decoder = FastDecoder(model, attention=attention, compile=compile_,
                                   checkpoint=cfg.gradient_checkpointing, logits_chunk=cfg.logits_chunk,
                                   fuse_projections=cfg.fuse_projections, fused_logprobs=bool(fused_lp),
                                   reentrant=cfg.reentrant_checkpoint)
        self.compiled = compile_
        if cfg.offload_embedding or (cfg.offload_embedding is None and dev.type == "cuda"):
            self.decoder.offload_embedding()
        self.params = self.decoder.lora_parameters()
        if not self.params:
            raise ValueError("FastDPOTrainer needs a PEFT model with a LoRA adapter named 'default'")
        for p in self.params:
            p.requires_grad_(True)
        fused = dev.type == "cuda" and all(p.dtype == torch.float32 for p in self.params)
        self.optimizer = torch.optim.AdamW(self.params, lr=cfg.lr, betas=cfg.adam_betas, eps=cfg.adam_eps,
                                           weight_decay=cfg.weight_decay, fused=fused or None)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_lambda) if lr_lambda else None
        self.pad_multiple = 128 if attention.startswith("flex") else 1
        self.steps = 0
        self._ready: list[tuple[Any, PackedBatch]] = []  # (the caller's micro-batch object, its prepared batch)

    def pack(self, pairs: Sequence[Pair] | PackedBatch) -> PackedBatch:
        """Pack pairs (or pass a packed batch through) and move to the model's device."""
        batch = pairs if isinstance(pairs, PackedBatch) else pack_pairs(pairs, self.pad_multiple)
        if self.decoder.embed_offloaded and batch.inputs_embeds is None:
            batch.inputs_embeds = self.decoder.lookup(batch.input_ids.cpu())
        return batch.to(self.device)

    def prepare(self, pairs: Sequence[Pair] | PackedBatch) -> PackedBatch:
        """Everything a micro-batch needs before its GPU work: packed, input embeddings gathered (offloaded table),
        copied to the device (asynchronously) and its attention mask built. Idempotent on a prepared batch."""
        batch = self.pack(pairs)
        if batch.attn_mask is None:
            batch.attn_mask = self.decoder.attention_mask(batch)
        return batch

    def _take(self, pairs: Sequence[Pair] | PackedBatch) -> Sequence[Pair] | PackedBatch:
        """The batch prefetched for this very micro-batch object, if any (else the micro-batch itself)."""
        for i, (src, _) in enumerate(self._ready):
            if src is pairs:
                return self._ready.pop(i)[1]
        return pairs

    def close(self) -> None:
        """Give the model back as it was (embedding table back on the GPU if it was offloaded)."""
        self.decoder.restore_embedding()

    @torch.no_grad()
    def reference_logps(self, pairs: Sequence[Pair] | PackedBatch, mask: Any = None,
                        training: bool = True) -> torch.Tensor:
        """Reference (adapter-disabled) summed log-probs ``[2n]``; use to precompute once per batch. ``training``
        should match the policy pass it is compared with (see :meth:`FastDecoder.reference_logps`)."""
        batch = self.pack(pairs)
        return self.decoder.reference_logps(batch, mask=mask, exact=self.config.exact_reference, training=training)

    def loss(self, pairs: Sequence[Pair] | PackedBatch, ref_logps: torch.Tensor | None = None,
             training: bool = True) -> tuple[torch.Tensor, dict]:
        """DPO loss (with graph) and detached statistics for one batch."""
        batch = self.prepare(pairs)
        mask = batch.attn_mask
        if ref_logps is None:
            ref_logps = self.reference_logps(batch, mask=mask, training=training)
        logps = self.decoder.sequence_logps(batch, use_lora=True, mask=mask, training=training)
        return dpo_sigmoid_loss(logps, ref_logps.to(logps.device), self.config.beta)

    def step(self, pairs: Sequence[Pair] | PackedBatch, ref_logps: torch.Tensor | None = None,
             next_pairs: Sequence[Pair] | None = None) -> dict[str, float]:
        """Forward, backward, clip, AdamW update; returns ``train/...`` metrics as floats (one host sync).
        ``next_pairs``: the next call's batch (the same object), prepared while this step's GPU work runs."""
        return self.step_accumulated([pairs], None if ref_logps is None else [ref_logps],
                                     None if next_pairs is None else [next_pairs])

    def step_accumulated(self, micro_batches: Sequence[Sequence[Pair] | PackedBatch],
                         ref_logps: Sequence[torch.Tensor] | None = None,
                         next_micro_batches: Sequence[Sequence[Pair]] | None = None) -> dict[str, float]:
        """One optimizer step over several micro-batches (gradient accumulation, as TRL's: mean of the micro-batch
        losses); metrics are averaged over the micro-batches. With ``config.prefetch``, each micro-batch after the
        first is prepared (:meth:`prepare`) once the previous one's backward is queued, and the first of
        ``next_micro_batches`` (pass the next call's micro-batch objects themselves) once the optimizer step is
        queued, so that the CPU work of a step start overlaps GPU work. Prefetching changes no result."""
        n = len(micro_batches)
        ready = [self._take(mb) for mb in micro_batches]
        self._ready.clear()  # anything else prefetched is stale
        totals: dict[str, torch.Tensor] = {}
        for i, mb in enumerate(ready):
            loss, stats = self.loss(mb, None if ref_logps is None else ref_logps[i])
            (loss / n).backward()
            if self.config.prefetch and i + 1 < n:
                ready[i + 1] = self.prepare(ready[i + 1])
            for k, v in {"loss": loss.detach(), **stats}.items():
                totals[k] = totals.get(k, 0) + v.float() / n
        names = [f"train/{k}" for k in totals]
        values = list(totals.values())
        if self.config.max_grad_norm:
            names.append("train/grad_norm")
            values.append(torch.nn.utils.clip_grad_norm_(self.params, self.config.max_grad_norm))
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.scheduler is not None:
            self.scheduler.step()
        self.steps += 1
        if self.config.prefetch and next_micro_batches:
            self._ready.append((next_micro_batches[0], self.prepare(next_micro_batches[0])))
        out = dict(zip(names, torch.stack([v.float() for v in values]).tolist(), strict=True))
        out["train/learning_rate"] = self.optimizer.param_groups[0]["lr"]
        return out


def fast_dpo_step(trainer: FastDPOTrainer, pairs: Sequence[Pair]) -> dict[str, float]:
    """Functional alias of :meth:`FastDPOTrainer.step`."""
    return trainer.step(pairs)
