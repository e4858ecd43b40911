"""Capability retention: how likely the model finds reference answers to held-out ordinary instructions.

For each (instruction, reference answer) pair the prompt is rendered exactly as for generation, the answer is cut to
``max_answer_tokens`` tokens, and the score is the mean log-probability per answer token. ``capability/mean_loglik``
averages the pairs (with a 95% normal interval), for the base model (adapter disabled) and the tuned one, from the
same pairs; ``capability/delta_loglik`` is tuned minus base with a paired 95% interval, so "no drop beyond noise"
means its interval reaches zero or above. Rows whose prompt is in the run's training data are left out.
"""

from __future__ import annotations

import math
import random
import statistics
from typing import Any

from safetyalign.logs import get_logger

log = get_logger(__name__)
Z95 = 1.959963984540054


def load_pairs(cfg: Any, exclude: set[str]) -> list[dict[str, str]]:
    """``[{prompt, answer, source}]`` from ``cfg.eval.capability.sources`` minus training prompts."""
    from safetyalign.data.split import normalize_prompt
    from safetyalign.io import iter_jsonl
    from safetyalign.paths import resolve_data_path

    cap = cfg.eval.capability
    out: list[dict[str, str]] = []
    for spec in cap.sources:
        rows = []
        for _, row in iter_jsonl(resolve_data_path(spec)):
            prompt, answer = row.get("instruction"), row.get("output")
            if not (isinstance(prompt, str) and isinstance(answer, str) and prompt.strip() and answer.strip()):
                continue
            if isinstance(row.get("input"), str) and row["input"].strip():
                prompt = f"{prompt}\n\n{row['input'].strip()}"
            if normalize_prompt(prompt) not in exclude:
                rows.append({"prompt": prompt.strip(), "answer": answer.strip(), "source": spec})
        rng = random.Random(f"{cfg.eval.seed}:{spec}")
        out += rng.sample(rows, min(cap.max_per_source, len(rows)))
    return out


def answer_logliks(model: Any, tokenizer: Any, pairs: list[dict[str, str]], cfg: Any) -> list[float]:
    """Mean per-token log-probability of each pair's (truncated) answer given its rendered prompt."""
    import torch

    from safetyalign.chat import render_prompt

    cap, device = cfg.eval.capability, next(model.parameters()).device
    seqs = []
    for p in pairs:
        prompt = tokenizer(render_prompt(tokenizer, p["prompt"], cfg.model.system_prompt),
                           add_special_tokens=False)["input_ids"][-cfg.model.max_prompt_length:]
        answer = tokenizer(p["answer"], add_special_tokens=False)["input_ids"][:cap.max_answer_tokens]
        seqs.append((prompt, answer))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    out: list[float] = []
    for b in range(0, len(seqs), cap.batch_size):
        batch = seqs[b:b + cap.batch_size]
        width = max(len(p) + len(a) for p, a in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, (p, a) in enumerate(batch):
            ids[i, :len(p) + len(a)] = torch.tensor(p + a)
            mask[i, :len(p) + len(a)] = 1
        with torch.inference_mode():
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float()
        logp = torch.log_softmax(logits[:, :-1], dim=-1)
        for i, (p, a) in enumerate(batch):
            pos = torch.arange(len(p) - 1, len(p) + len(a) - 1, device=device)
            tok = torch.tensor(a, device=device)
            out.append(float(logp[i, pos, tok].mean()))
    return out


def _mean_ci(values: list[float]) -> dict[str, Any]:
    m = statistics.fmean(values)
    half = Z95 * statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else float("inf")
    return {"value": round(m, 5), "ci95": [round(m - half, 5), round(m + half, 5)], "n": len(values)}


def capability(model: Any, tokenizer: Any, cfg: Any, exclude: set[str], has_adapter: bool) -> dict[str, Any]:
    """``{"pairs": n, "base": {...}, "tuned": {...}, "delta": {...}, "per_pair": [...]}`` (empty when off)."""
    from safetyalign.eval.generate import adapter_disabled, adapter_merged

    pairs = load_pairs(cfg, exclude)
    if not pairs:
        return {}
    was_training = model.training
    model.eval()
    scores: dict[str, list[float]] = {}
    with adapter_disabled(model):
        scores["base"] = answer_logliks(model, tokenizer, pairs, cfg)
    if has_adapter:
        with adapter_merged(model):
            scores["tuned"] = answer_logliks(model, tokenizer, pairs, cfg)
    model.train(was_training)
    out: dict[str, Any] = {"pairs": len(pairs), "sources": list(cfg.eval.capability.sources),
                           "max_answer_tokens": cfg.eval.capability.max_answer_tokens}
    out.update({k: _mean_ci(v) for k, v in scores.items()})
    if "tuned" in scores:
        out["delta"] = _mean_ci([t - b for t, b in zip(scores["tuned"], scores["base"])])
    out["per_pair"] = [{"prompt": p["prompt"][:200], "source": p["source"], **{k: round(v[i], 5)
                                                                               for k, v in scores.items()}}
                       for i, p in enumerate(pairs)]
    log.info("capability: mean answer log-likelihood %s over %d pairs",
             ", ".join(f"{k} {out[k]['value']:.4f}" for k in scores), len(pairs))
    return out
