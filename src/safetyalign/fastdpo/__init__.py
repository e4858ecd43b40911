"""Fast LoRA-DPO training path (GPU), numerically equivalent to TRL's sigmoid DPO with a PEFT adapter.

What makes it fast (see benchmarks/README.md for measured numbers):

- shared-prompt packing: each preference pair becomes ONE sequence ``prompt + chosen + rejected``; the rejected
  tokens attend to the prompt and to themselves only (block mask), with positions restarting after the prompt, so
  the prompt is computed once instead of twice; all pairs are packed padding-free into one row;
- variable-length attention through FlexAttention (block-sparse) or SDPA with a dense boolean mask;
- log-probabilities taken from the LM head in chunks, only at completion positions; each chunk's gradient direction
  is computed in the forward while its logits exist, so the backward only scales it (no full-vocabulary logits
  kept, none recomputed);
- one compiled graph (``torch.compile``) for every decoder layer (weights are graph inputs), which fuses RMSNorm,
  RoPE, SwiGLU and the LoRA additions; per-layer reentrant activation checkpointing, so the forward (and the
  reference) run through the cheaper no-grad graph and only the recompute in the backward builds autograd state;
- reference log-probs from the same graph with the LoRA scale at zero (bitwise equal to the policy while B = 0), or
  precomputed once;
- on CUDA the frozen input embedding table lives in pinned CPU memory (1 GiB less for Qwen2.5-7B);
- the next micro-batch is prepared (packed, its embedding rows gathered and copied asynchronously, its attention
  mask built) while the GPU still works on the current one, so that the GPU does not wait for the CPU at step start.

Public API: :class:`FastDPOConfig`, :class:`FastDPOTrainer` (``step(pairs, next_pairs=None) -> metrics``,
``step_accumulated(micro_batches, ref_logps=None, next_micro_batches=None) -> metrics``, ``prepare(pairs)``,
``reference_logps(pairs)``), :func:`fast_dpo_step`, :func:`pack_pairs`. Heavy imports (torch) happen inside the
submodules; importing this package is cheap.

``safetyalign train`` uses it through :mod:`safetyalign.fastdpo.backend` (``train.backend: fast``, or ``auto`` on a
CUDA GPU). Use from your own training loop::

    model = peft.get_peft_model(base_model, lora_config)            # as for TRL; adapter name "default"
    trainer = FastDPOTrainer(model, FastDPOConfig(beta=..., lr=..., max_grad_norm=...),
                             lr_lambda=schedule)                    # e.g. transformers' cosine-with-warmup lambda
    for k, micro_batches in enumerate(batches):                     # each: [(prompt_ids, chosen_ids, rejected_ids)]
        nxt = batches[k + 1] if k + 1 < len(batches) else None      # optional: prepared during this step
        metrics = trainer.step_accumulated(micro_batches, None, nxt)  # {"train/loss", "train/rewards/margins", ...}
    model.save_pretrained(adapter_dir)                              # the adapter was trained in place

Token ids as TRL builds them: ``prompt_ids`` from the rendered prompt, answers tokenized after it with EOS appended.
Supported: sigmoid DPO, LoRA on Llama / Qwen2 / Qwen3 / Mistral models (RMSNorm, RoPE, SwiGLU, GQA, Qwen3's q/k
norms), no ``ld_alpha``/extra loss terms. On CUDA it compiles the decoder layer (first step ~20-30 s cold; with
varying batch lengths a second compile for dynamic shapes). ``trainer.close()`` moves an offloaded embedding back.
"""

from __future__ import annotations

from typing import Any

__all__ = ["FastDPOConfig", "FastDPOTrainer", "PackedBatch", "fast_dpo_step", "pack_pairs"]


def __getattr__(name: str) -> Any:
    if name in ("FastDPOConfig", "FastDPOTrainer", "fast_dpo_step"):
        from safetyalign.fastdpo import trainer

        return getattr(trainer, name)
    if name in ("PackedBatch", "pack_pairs"):
        from safetyalign.fastdpo import packing

        return getattr(packing, name)
    raise AttributeError(name)
