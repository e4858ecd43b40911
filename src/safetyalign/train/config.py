"""LoRA and training sections of an experiment config."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

from safetyalign.configlib import check_range, opt

LOSS_TYPES = ("sigmoid", "hinge", "ipo", "exo_pair", "nca_pair", "robust", "bco_pair", "sppo_hard", "aot",
              "aot_unpaired", "apo_zero", "apo_down", "discopop", "sft", "sigmoid_norm")
ALL_PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class LoraConfig:
    """LoRA adapter shape; field names are PEFT's ``LoraConfig`` (``top_layers`` is this project's extension)."""

    RENAMED: ClassVar[dict[str, str]] = {"alpha": "lora_alpha", "dropout": "lora_dropout"}

    r: int = opt(16, help="LoRA rank (PEFT LoraConfig.r).")
    lora_alpha: int = opt(32, help="LoRA alpha; scale = lora_alpha / r (PEFT LoraConfig.lora_alpha).")
    lora_dropout: float = opt(0.05, help="LoRA dropout (PEFT LoraConfig.lora_dropout).")
    target_modules: list[str] = opt(factory=lambda: list(ALL_PROJECTIONS), help="Modules that get an adapter.")
    top_layers: int | None = opt(None, help="Project extension: LoRA only on the last N decoder layers (None = all "
                                 "layers); PEFT's layers_to_transform=range(L-N, L) for a model of L layers. Required "
                                 "by the prefix_cache backend, which caches the frozen layers below.")

    def validate(self) -> None:
        """Rank and lora_alpha >= 1, lora_dropout in [0, 1), top_layers >= 1."""
        for name in ("r", "lora_alpha", "top_layers"):
            check_range(self, "lora", name, lo=1)
        check_range(self, "lora", "lora_dropout", lo=0.0, hi=1.0, hi_open=True)


@dataclass
class TrainConfig:
    """DPO training hyper-parameters and run control; field names are TRL's ``DPOConfig`` where TRL has the
    field (``backend``, ``use_reference_model``, ``reference_free``, ``num_threads`` and ``rpo_alpha`` are this
    project's)."""

    RENAMED: ClassVar[dict[str, str]] = {
        "lr": "learning_rate", "lr_scheduler": "lr_scheduler_type",
        "per_device_batch_size": "per_device_train_batch_size", "eval_batch_size": "per_device_eval_batch_size",
        "progress_bar": "disable_tqdm (inverted)",
        "warmup_ratio": "warmup_steps (a float < 1 is a share of max_steps)"}

    backend: Literal["auto", "trl", "fast", "unsloth", "prefix_cache"] = opt("auto", help=(
        "Project extension. auto = fast on a CUDA GPU for llama/qwen2/qwen3/mistral models with the sigmoid loss, "
        "else trl (unsloth only when asked). fast: the packed, compiled GPU path of safetyalign.fastdpo (same "
        "outputs as trl). prefix_cache: LoRA on the top lora.top_layers layers, frozen layers below computed once "
        "and cached (several times faster on CPU; llama/qwen2/mistral architectures)."))
    output_dir: str = opt("output/dpo_lora", help="Where the final adapter is also copied (legacy path).")
    max_steps: int = opt(60, help="Optimizer steps.")
    per_device_train_batch_size: int = opt(2, help="Preference pairs per device per micro-batch.")
    gradient_accumulation_steps: int = opt(4, help="Micro-batches per optimizer step.")
    learning_rate: float = opt(5e-6, help="Peak learning rate.")
    lr_scheduler_type: str = opt("cosine", help="transformers scheduler name.")
    warmup_steps: float = opt(0.1, help="Linear warm-up: a float in [0, 1) is a share of max_steps, a number >= 1 "
                              "exact steps (TRL / transformers 5 warmup_steps).")
    weight_decay: float = opt(0.0, help="AdamW weight decay.")
    max_grad_norm: float = opt(1.0, help="Gradient clipping.")
    beta: float = opt(0.1, help="DPO beta (strength of the KL anchor to the reference).")
    loss_type: list[str] = opt(factory=lambda: ["sigmoid"], help="TRL loss types, e.g. [sigmoid, sft].")
    loss_weights: list[float] | None = opt(None, help="Weights for loss_type entries (same length).")
    use_reference_model: bool = opt(False, help="Project extension: load an explicit frozen reference copy "
                                    "instead of the adapter-disabled base.")
    precompute_ref_log_probs: bool = opt(False, help="Compute reference log-probs once before training.")
    reference_free: bool = opt(False, help="Project extension: DPO against a uniform reference (no reference "
                               "log-probs: the margin is beta * (logp_chosen - logp_rejected)). Backend prefix_cache "
                               "only; with LoRA on every layer its caching pass then runs no decoder layer.")
    gradient_checkpointing: bool = opt(False, help="Trade compute for memory.")
    seed: int = opt(42, help="Seed for reproducibility.")
    logging_steps: int = opt(1, help="Log metrics every N steps.")
    save_steps: int = opt(20, help="Checkpoint every N steps (resume continues from the last one).")
    save_total_limit: int = opt(2, help="Checkpoints kept.")
    eval_steps: int | None = opt(None, help="Eval loss every N steps (None = only at the end).")
    num_threads: int | None = opt(None, help="Project extension: torch CPU threads (None = all cores).")
    rpo_alpha: float | None = opt(None, help="Project extension: RPO shorthand (TRL < 1.0 rpo_alpha): adds an "
                                  "'sft' term on the chosen answers with this weight when loss_type has no 'sft' "
                                  "entry.")
    label_smoothing: float = opt(0.0, help="Label smoothing for the robust / exo_pair / aot losses.")
    ld_alpha: float | None = opt(None, help="LD-DPO alpha in [0, 1] (down-weights the verbose tail); None = off.")
    use_weighting: bool = opt(False, help="WPO-style weighting of pairs by policy probability.")
    per_device_eval_batch_size: int | None = opt(None, help="Pairs per eval batch (None = "
                                                 "per_device_train_batch_size).")
    optim: str = opt("adamw_torch", help="transformers optimizer name (adamw_torch, adamw_8bit with bitsandbytes...).")
    report_to: list[str] = opt(factory=lambda: ["tensorboard"], help="Trainer loggers (tensorboard writes into "
                               "<run>/tensorboard; [] = none).")
    disable_tqdm: bool = opt(False, help="Hide the progress bar.")

    def warmup_step_count(self) -> int:
        """``warmup_steps`` in steps: a share of ``max_steps`` when below 1 (rounded), else the number itself."""
        w = self.warmup_steps
        return int(round(w * self.max_steps)) if w < 1 else int(w)

    def validate(self) -> None:
        """Loss types known to TRL, weights matching them, positive step counts."""
        unknown = [t for t in self.loss_type if t not in LOSS_TYPES]
        if unknown:
            raise ValueError(f"train.loss_type: unknown {unknown} (TRL knows: {', '.join(LOSS_TYPES)})")
        if not self.loss_type:
            raise ValueError("train.loss_type is empty: use e.g. [sigmoid]")
        if self.loss_weights is not None and len(self.loss_weights) != len(self.loss_type):
            raise ValueError(f"train.loss_weights has {len(self.loss_weights)} entries for "
                             f"{len(self.loss_type)} loss types")
        for name in ("max_steps", "per_device_train_batch_size", "gradient_accumulation_steps", "save_steps",
                     "logging_steps", "save_total_limit", "eval_steps", "num_threads", "per_device_eval_batch_size"):
            check_range(self, "train", name, lo=1)
        self._check_numbers()

    def _check_numbers(self) -> None:
        """Finite values in the ranges the losses and the optimizer are defined on."""
        check_range(self, "train", "learning_rate", lo=0.0, lo_open=True)
        check_range(self, "train", "beta", lo=0.0, lo_open=True)
        check_range(self, "train", "warmup_steps", lo=0.0, hi=float(self.max_steps))
        if self.warmup_steps >= 1 and self.warmup_steps != int(self.warmup_steps):
            raise ValueError(f"train.warmup_steps >= 1 counts whole steps, got {self.warmup_steps} (a share of "
                             f"max_steps is a float below 1)")
        check_range(self, "train", "label_smoothing", lo=0.0, hi=0.5)
        check_range(self, "train", "ld_alpha", lo=0.0, hi=1.0)
        for name in ("weight_decay", "max_grad_norm", "rpo_alpha"):
            check_range(self, "train", name, lo=0.0)
        for i, w in enumerate(self.loss_weights or []):
            if not math.isfinite(w):
                raise ValueError(f"train.loss_weights[{i}] must be finite, got {w!r}")
