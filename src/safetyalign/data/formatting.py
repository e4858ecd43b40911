"""Rendering pairs for TRL and filling on-policy answers (rejected for red-team prompts, chosen for benign ones).

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
            raise ValueError("rows still need on-policy answers: call fill_on_policy(rows, responder) first")
        out.append({"prompt": render_prompt(tokenizer, row["prompt"], system_prompt),
                    "chosen": render_response(tokenizer, row["chosen"]),
                    "rejected": render_response(tokenizer, row["rejected"])})
    return out


def fill_on_policy(rows: list[dict[str, Any]], responder: Callable[[list[Any]], list[str]]) -> list[dict[str, Any]]:
    """Fill the response of rows marked ``needs_generation`` with the base model's own answers.

    ``needs_generation`` is ``True``/``"rejected"`` (red-team prompt: the base model's compliant answer becomes
    ``rejected``) or ``"chosen"`` (benign prompt: its helpful answer becomes ``chosen``). ``responder`` gets the
    prompts (strings or message lists) of those rows in one list and returns one answer per prompt (the caller
    batches and renders). Rows whose answer is empty or equal to the other response are dropped (logged), since they
    carry no preference signal. Other rows are returned unchanged, in order.
    """
    from safetyalign.data.validate import generated_field

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
        field = generated_field(row)
        other = "chosen" if field == "rejected" else "rejected"
        answer = (filled[i] or "").strip() if isinstance(filled[i], str) else ""
        if not answer or answer == row[other].strip():
            dropped += 1
            continue
        new = {k: v for k, v in row.items() if k != "needs_generation"}
        new.update({field: answer, f"{field}_source": "on_policy"})
        out.append(new)
    log.info("on-policy answers: %d generated, %d rows dropped (empty or identical to the other response)",
             len(todo), dropped)
    return out


fill_rejected = fill_on_policy  # the earlier name (rejected answers only), kept for callers
