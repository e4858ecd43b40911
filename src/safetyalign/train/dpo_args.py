"""Map the project's ``train`` / ``model`` / ``lora`` config sections onto TRL's DPOConfig and PEFT's LoraConfig.

Loss mapping (TRL 1.16): ``train.loss_type`` is TRL's ``loss_type`` list and ``train.loss_weights`` its
``loss_weights`` (the total loss is ``sum(w_i * loss_i)``, equal weights when None). TRL 1.x removed
``rpo_alpha``; RPO is ``loss_type=[sigmoid, sft]`` with ``loss_weights=[1, alpha]``, which is what
``train.rpo_alpha`` expands to.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def loss_spec(train_cfg: Any) -> tuple[list[str], list[float] | None]:
    """``(loss_type, loss_weights)`` for TRL, with ``rpo_alpha`` expanded into an ``sft`` term."""
    types, weights = list(train_cfg.loss_type), (list(train_cfg.loss_weights) if train_cfg.loss_weights else None)
    if train_cfg.rpo_alpha is not None and "sft" not in types:
        weights = (weights or [1.0] * len(types)) + [float(train_cfg.rpo_alpha)]
        types.append("sft")
    return types, weights


def peft_config(cfg: Any) -> Any:
    """PEFT LoraConfig from the ``lora`` section (causal LM, no bias)."""
    from peft import LoraConfig

    return LoraConfig(r=cfg.lora.r, lora_alpha=cfg.lora.lora_alpha, lora_dropout=cfg.lora.lora_dropout,
                      target_modules=list(cfg.lora.target_modules), bias="none", task_type="CAUSAL_LM",
                      layers_to_transform=lora_layers(cfg))


def lora_layers(cfg: Any) -> list[int] | None:
    """PEFT's ``layers_to_transform`` for ``lora.top_layers`` (the last N decoder layers); None = every layer."""
    if cfg.lora.top_layers is None:
        return None
    from safetyalign.models.loading import resolve_model

    n = _num_layers(cfg, resolve_model(cfg.model))
    return list(range(max(0, n - cfg.lora.top_layers), n))


def _num_layers(cfg: Any, resolved: Any) -> int:
    """Decoder layer count from the model's config (cached folder for GGUF models)."""
    from transformers import AutoConfig

    from safetyalign.models.loading import _materialize_gguf

    if resolved.gguf_file:
        resolved = _materialize_gguf(resolved)
    conf = AutoConfig.from_pretrained(resolved.path, revision=cfg.model.revision,
                                      trust_remote_code=cfg.model.trust_remote_code)
    return int(conf.num_hidden_layers)


def dpo_config(cfg: Any, run_dir: Path, device: str, dtype: Any, has_eval: bool) -> Any:
    """TRL DPOConfig: checkpoints in ``<run>/checkpoints``, precision from the model dtype, no hub, no extra EOS."""
    import torch
    from trl import DPOConfig

    t = cfg.train
    types, weights = loss_spec(t)
    eval_every = t.eval_steps if (has_eval and t.eval_steps) else None
    on_gpu = device.startswith("cuda")
    return DPOConfig(
        output_dir=str(run_dir / "checkpoints"),
        max_steps=t.max_steps,
        per_device_train_batch_size=t.per_device_train_batch_size,
        per_device_eval_batch_size=t.per_device_eval_batch_size or t.per_device_train_batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        learning_rate=t.learning_rate,
        lr_scheduler_type=t.lr_scheduler_type,
        warmup_steps=t.warmup_step_count(),
        weight_decay=t.weight_decay,
        max_grad_norm=t.max_grad_norm,
        optim=t.optim,
        beta=t.beta,
        loss_type=types,
        loss_weights=weights,
        label_smoothing=t.label_smoothing,
        ld_alpha=t.ld_alpha,
        use_weighting=t.use_weighting,
        precompute_ref_log_probs=t.precompute_ref_log_probs,
        max_length=cfg.model.max_length,
        gradient_checkpointing=t.gradient_checkpointing,
        bf16=on_gpu and dtype == torch.bfloat16,
        fp16=on_gpu and dtype == torch.float16,
        use_cpu=not on_gpu,
        seed=t.seed,
        data_seed=t.seed,
        logging_steps=t.logging_steps,
        logging_first_step=True,
        save_strategy="steps",
        save_steps=t.save_steps,
        save_total_limit=t.save_total_limit,
        eval_strategy="steps" if eval_every else "no",
        eval_steps=eval_every,
        report_to=[r for r in t.report_to if r != "tensorboard"] or "none",
        disable_tqdm=t.disable_tqdm,
        dataloader_num_workers=0,
        ddp_find_unused_parameters=False,  # every LoRA weight takes part in each forward (DDP skips a graph walk)
        push_to_hub=False,
    )
