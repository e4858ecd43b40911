"""Baselines for benchmarks/bench_train_step.py: TRL+PEFT (optionally Liger / Unsloth) steps and HF generation."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any


def word_tokenizer(vocab_size: int, eos_id: int, pad_id: int | None = None) -> Any:
    """A tokenizer where the text ``"t17 t5"`` is ids ``[17, 5]``, with ``<|endoftext|>`` = ``eos_id`` (special) and
    the pad token ``<|pad|>`` = ``pad_id`` (default: the EOS; Unsloth wants a distinct one)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {f"t{i}": i for i in range(vocab_size) if i not in (eos_id, pad_id)}
    vocab["<|endoftext|>"] = eos_id
    if pad_id is not None:
        vocab["<|pad|>"] = pad_id
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="t0"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>",
                                   pad_token="<|endoftext|>" if pad_id is None else "<|pad|>")


def pairs_to_text(pairs: Sequence[tuple[list[int], list[int], list[int]]]) -> list[dict[str, str]]:
    """Text rows whose tokenization gives back the ids (answers without their final EOS, which TRL appends)."""
    def words(ids: list[int]) -> str:
        return " ".join(f"t{i}" for i in ids)

    return [{"prompt": words(p), "chosen": " " + words(c[:-1]), "rejected": " " + words(r[:-1])} for p, c, r in pairs]


def run_trl(model: Any, pairs: list, eos_id: int, vocab: int, steps: int, lr: float, beta: float, seed: int,
            cuda: bool, liger: bool = False, sync: Callable[[], None] = lambda: None,
            bf16: bool | None = None, gradient_checkpointing: bool = True, tokenizer: Any = None) -> dict:
    """Train ``steps`` steps with TRL's DPOTrainer on the same two pairs every step; per-step times and losses."""
    import tempfile

    import torch
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import DPOConfig, DPOTrainer

    times: list[float] = []

    class Timer(TrainerCallback):
        def on_step_begin(self, *a: Any, **k: Any) -> None:
            sync()
            self.t0 = time.perf_counter()

        def on_step_end(self, *a: Any, **k: Any) -> None:
            sync()
            times.append(time.perf_counter() - self.t0)

    losses: list[Any] = []

    class Recording(DPOTrainer):
        def compute_loss(self, *a: Any, **k: Any) -> Any:
            out = super().compute_loss(*a, **k)
            losses.append((out[0] if isinstance(out, tuple) else out).detach().float())
            return out

    with tempfile.TemporaryDirectory() as tmp:
        args = DPOConfig(output_dir=tmp, per_device_train_batch_size=len(pairs), max_steps=steps, learning_rate=lr,
                         lr_scheduler_type="constant", warmup_steps=0, logging_steps=1, save_strategy="no",
                         report_to="none", bf16=cuda if bf16 is None else bf16, use_cpu=not cuda,
                         gradient_checkpointing=gradient_checkpointing, beta=beta,
                         loss_type=["sigmoid"], max_length=None, seed=seed, dataloader_num_workers=0,
                         disable_tqdm=True, use_liger_kernel=liger, max_grad_norm=1.0, weight_decay=0.0)
        trainer = Recording(model=model, args=args, train_dataset=Dataset.from_list(pairs_to_text(pairs)),
                            processing_class=tokenizer or word_tokenizer(vocab, eos_id), callbacks=[Timer()])
        row = trainer.train_dataset[0]
        match = any(row["prompt_ids"] == p and row["chosen_ids"] == c and row["rejected_ids"] == r
                    for p, c, r in pairs)
        if not match:
            raise RuntimeError("TRL tokenized the pairs differently from the fast path's ids")
        trainer.train()
    return {"times": times, "losses": torch.stack(losses).tolist()}


def hf_generate_tokens_per_s(model: Any, prompts: list[list[int]], batch_size: int, max_new_tokens: int,
                             pad_id: int, sync: Callable[[], None]) -> dict:
    """Greedy HF ``generate`` with left padding (as the eval generator does), ``batch_size`` prompts per call,
    prompts sorted by length; every answer forced to ``max_new_tokens`` tokens. Returns tokens/s."""
    import torch

    order = sorted(prompts, key=len)
    new_tokens, t0 = 0, time.perf_counter()
    for s in range(0, len(order), batch_size):
        chunk = order[s:s + batch_size]
        width = max(map(len, chunk))
        ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
        att = torch.zeros_like(ids)
        for i, p in enumerate(chunk):
            ids[i, width - len(p):] = torch.tensor(p)
            att[i, width - len(p):] = 1
        dev = next(model.parameters()).device
        out = model.generate(input_ids=ids.to(dev), attention_mask=att.to(dev), do_sample=False,
                             max_new_tokens=max_new_tokens, min_new_tokens=max_new_tokens, pad_token_id=pad_id)
        new_tokens += (out.shape[1] - width) * len(chunk)
    sync()
    dt = time.perf_counter() - t0
    return {"batch_size": batch_size, "prompts": len(prompts), "new_tokens": new_tokens, "seconds": dt,
            "tokens_per_s": new_tokens / dt}
