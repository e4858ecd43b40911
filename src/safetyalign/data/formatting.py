"""Rendering pairs for TRL and filling on-policy rejected answers.

Rows stay plain ``{prompt, chosen, rejected, source, lang, category?}``; training renders them with
:func:`safetyalign.chat.render_prompt` / :func:`safetyalign.chat.render_response`, exactly as evaluation renders
prompts, so the system prompt (``model.system_prompt``) appears once and in the same place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from safetyalign.logs import get_logger

log = get_logger(__name__)


def to_trl_rows(rows: list[dict[str, Any]], tokenizer: Any, system_prompt: str | None = None) -> list[dict[str, str]]:
    """TRL standard (non-conversational) preference rows ``{prompt, chosen, rejected}`` of rendered text."""
    from safetyalign.chat import render_prompt, render_response

    out = []
    for row in rows:
        if row.get("needs_generation"):
            raise ValueError("rows still need on-policy rejected answers: call fill_rejected(rows, responder) first")
        out.append({"prompt": render_prompt(tokenizer, row["prompt"], system_prompt),
                    "chosen": render_response(tokenizer, row["chosen"]),
                    "rejected": render_response(tokenizer, row["rejected"])})
    return out


def fill_rejected(rows: list[dict[str, Any]], responder: Callable[[list[Any]], list[str]]) -> list[dict[str, Any]]:
    """Fill ``rejected`` of rows marked ``needs_generation`` with the base model's own answers.

    ``responder`` gets the prompts (strings or message lists) of those rows in one list and returns one answer
    per prompt (the caller batches and renders). Rows whose answer is empty or equal to ``chosen`` are dropped
    (logged), since they carry no preference signal. Other rows are returned unchanged, in order.
    """
    todo = [i for i, r in enumerate(rows) if r.get("needs_generation")]
    if not todo:
        return list(rows)
    answers = responder([rows[i]["prompt"] for i in todo])
    if len(answers) != len(todo):
        raise ValueError(f"responder returned {len(answers)} answers for {len(todo)} prompts")
    filled = dict(zip(todo, answers))
    out, dropped = [], 0
    for i, row in enumerate(rows):
        if i not in filled:
            out.append(row)
            continue
        answer = (filled[i] or "").strip() if isinstance(filled[i], str) else ""
        if not answer or answer == row["chosen"].strip():
            dropped += 1
            continue
        new = {k: v for k, v in row.items() if k != "needs_generation"}
        new.update(rejected=answer, rejected_source="on_policy")
        out.append(new)
    log.info("fill_rejected: %d answers generated, %d rows dropped (empty or identical to chosen)",
             len(todo), dropped)
    return out
