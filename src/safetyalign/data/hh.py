"""Anthropic HH-RLHF transcripts ``"\\n\\nHuman: ...\\n\\nAssistant: ..."`` -> prompt / chosen / rejected.

Both transcripts are split into turns; the prompt is every turn before the final Assistant turn and must be the
same in both (the "last shared Assistant turn"); chosen/rejected are the two final Assistant replies. Transcripts
whose earlier turns differ are skipped as ``unparseable``. A one-turn prompt stays a string; a multi-turn prompt
becomes a chat message list (``multi_turn: messages``, rendered by the model's chat template) or one text with
``Human:``/``Assistant:`` labels (``multi_turn: flatten``).
"""

from __future__ import annotations

import re
from typing import Any

from safetyalign.data.config import SourceConfig
from safetyalign.data.templates import detect_lang
from safetyalign.data.validate import Skip, text_field

_TURN = re.compile(r"\n\n(Human|Assistant):[ ]?")


def parse_transcript(text: str) -> list[tuple[str, str]]:
    """``[(role, text), ...]`` with role 'user' or 'assistant'; raises :class:`Skip` when there are no turns."""
    text = "\n\n" + text.lstrip("\n") if not text.startswith("\n\n") else text
    parts = _TURN.split(text)
    if parts[0].strip() or len(parts) < 3:
        raise Skip("unparseable", "transcript", "expected '\\n\\nHuman: ...\\n\\nAssistant: ...' turns")
    return [("user" if role == "Human" else "assistant", body.strip())
            for role, body in zip(parts[1::2], parts[2::2])]


def split_pair(chosen: str, rejected: str) -> tuple[list[tuple[str, str]], str, str]:
    """(shared prompt turns, chosen reply, rejected reply) of two transcripts."""
    c_turns, r_turns = parse_transcript(chosen), parse_transcript(rejected)
    for name, turns in (("chosen", c_turns), ("rejected", r_turns)):
        if turns[-1][0] != "assistant":
            raise Skip("unparseable", name, "transcript does not end with an Assistant turn")
    if c_turns[:-1] != r_turns[:-1]:
        raise Skip("unparseable", "chosen/rejected", "transcripts differ before the last Assistant turn")
    prompt_turns = c_turns[:-1]
    if not prompt_turns or prompt_turns[-1][0] != "user":
        raise Skip("unparseable", "prompt", "no Human turn before the last Assistant turn")
    return prompt_turns, c_turns[-1][1], r_turns[-1][1]


def turns_to_prompt(turns: list[tuple[str, str]], mode: str) -> Any:
    """One user turn -> its text; several -> a message list or a flattened Human/Assistant text."""
    if len(turns) == 1:
        return turns[0][1]
    if mode == "flatten":
        return "\n\n".join(f"{'Human' if r == 'user' else 'Assistant'}: {t}" for r, t in turns)
    return [{"role": r, "content": t} for r, t in turns]


def convert_hh(row: dict[str, Any], src: SourceConfig, seed: int) -> dict[str, Any]:
    """One hh-rlhf row (``chosen``/``rejected`` transcripts, names mappable through ``columns``)."""
    chosen_t = text_field(row, src.columns.get("chosen", "chosen"), "chosen")
    rejected_t = text_field(row, src.columns.get("rejected", "rejected"), "rejected")
    turns, chosen, rejected = split_pair(chosen_t, rejected_t)
    if any(not t for _, t in turns):
        raise Skip("empty_field", "prompt", "a prompt turn is empty")
    if not chosen:
        raise Skip("empty_field", "chosen")
    if not rejected:
        raise Skip("empty_field", "rejected")
    prompt = turns_to_prompt(turns, src.multi_turn)
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected, "lang": src.lang or detect_lang(prompt),
            "turns": (len(turns) + 1) // 2}
