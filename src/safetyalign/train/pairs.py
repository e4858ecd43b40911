"""Preference rows -> token ids for DPO, rendered exactly as evaluation renders prompts.

TRL 1.16's ``DPOTrainer._prepare_dataset`` appends ``tokenizer.eos_token`` to every non-conversational completion
that does not already end with it, and tokenizes with ``add_special_tokens=True`` (a tokenizer that adds BOS would
put a second BOS in front of a chat template that already starts with one). To keep training identical to
evaluation we tokenize here instead: the prompt is :func:`safetyalign.chat.render_prompt` tokenized without special
tokens (the template carries its own), the completion is :func:`safetyalign.chat.render_response` (answer + the
template's end-of-turn marker, which is the EOS for chat models) tokenized separately, also without special tokens.
The trainer subclass in :mod:`safetyalign.train.trainer` passes these pre-tokenized rows through untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class PairStats:
    """What tokenization did to the rows (logged and stored in training_summary.json)."""

    rows: int = 0
    kept: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    prompt_truncated: int = 0
    completion_truncated: int = 0
    tokens: int = 0

    def skip(self, reason: str) -> None:
        """Count one skipped row."""
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def render_rows(rows: list[dict[str, Any]], tokenizer: Any, system_prompt: str | None = None) -> list[dict[str, str]]:
    """Rows ``{prompt, chosen, rejected, ...}`` -> TRL standard text rows (prompt rendered with the chat template)."""
    from safetyalign.chat import render_prompt, render_response
    from safetyalign.data.validate import generated_field
    from safetyalign.errors import DataError

    out = []
    for i, row in enumerate(rows):
        if row.get("needs_generation"):
            raise DataError(f"training row {i}: '{generated_field(row)}' still needs on-policy generation "
                            f"(call safetyalign.data.fill_on_policy first)")
        for key in ("prompt", "chosen", "rejected"):
            if not row.get(key):
                raise DataError(f"training row {i}: field '{key}' is missing or empty")
        out.append({"prompt": render_prompt(tokenizer, row["prompt"], system_prompt),
                    "chosen": render_response(tokenizer, row["chosen"]),
                    "rejected": render_response(tokenizer, row["rejected"])})
    return out


def _ids(tokenizer: Any, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def tokenize_pairs(text_rows: list[dict[str, str]], tokenizer: Any, max_length: int,
                   max_prompt_length: int) -> tuple[list[dict[str, list[int]]], PairStats]:
    """Rendered text rows -> ``{prompt_ids, chosen_ids, rejected_ids}`` with length limits applied.

    Prompts longer than ``max_prompt_length`` keep their last tokens (the end holds the question and the
    generation prompt); completions are cut so prompt + completion fits ``max_length``. Rows whose completions
    would be empty, or whose chosen and rejected are identical after truncation, are skipped and counted.
    """
    stats = PairStats(rows=len(text_rows))
    out = []
    for row in text_rows:
        prompt = _ids(tokenizer, row["prompt"])
        chosen, rejected = _ids(tokenizer, row["chosen"]), _ids(tokenizer, row["rejected"])
        if len(prompt) > max_prompt_length:
            prompt = prompt[-max_prompt_length:]
            stats.prompt_truncated += 1
        room = max_length - len(prompt)
        if room < 1:
            stats.skip("prompt_too_long")
            continue
        if len(chosen) > room or len(rejected) > room:
            stats.completion_truncated += 1
            chosen, rejected = chosen[:room], rejected[:room]
        if chosen == rejected:
            stats.skip("identical_after_truncation")
            continue
        out.append({"prompt_ids": prompt, "chosen_ids": chosen, "rejected_ids": rejected})
        stats.tokens += 2 * len(prompt) + len(chosen) + len(rejected)
    stats.kept = len(out)
    return out, stats


def tokenized_rows(cfg: Any, tokenizer: Any, rows: list[dict[str, Any]] | None,
                   name: str) -> tuple[list[dict[str, list[int]]], dict[str, Any] | None]:
    """Rows -> ``[{prompt_ids, chosen_ids, rejected_ids}]`` (rendered and truncated as above) and the stats of
    that, logged; the one tokenization path of the ``trl``, ``unsloth`` and ``fast`` engines."""
    from safetyalign.logs import get_logger

    if not rows:
        return [], None
    text = render_rows(rows, tokenizer, cfg.model.system_prompt)
    examples, stats = tokenize_pairs(text, tokenizer, cfg.model.max_length, cfg.model.max_prompt_length)
    get_logger(__name__).info("%s pairs: %d kept of %d (skipped %s; prompts truncated %d, completions truncated %d)",
                              name, stats.kept, stats.rows, stats.skipped or "none", stats.prompt_truncated,
                              stats.completion_truncated)
    return examples, vars(stats)
