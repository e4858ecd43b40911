"""Prompt normalisation and the deterministic hash split shared by the data stage and the eval suites.

``prompt_hash_fraction(prompt)`` maps a prompt to a number in [0, 1) that depends only on its normalised text
(lower case, collapsed whitespace, NFKC). A source with ``holdout: {part: train, fraction: 0.5}`` keeps the
prompts whose fraction is ``< 0.5``; an evaluation suite built from the same file keeps the others
(``in_holdout_part(prompt, "eval", 0.5)``), so training and evaluation prompts are disjoint by construction,
with no shared state and no seed.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any

_WS = re.compile(r"\s+")


def prompt_text(prompt: Any) -> str:
    """Plain text of a prompt: a string, or the contents of a chat message list joined by newlines."""
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list):
        return "\n".join(str(m.get("content", "")) for m in prompt if isinstance(m, dict))
    return "" if prompt is None else str(prompt)


def normalize_prompt(prompt: Any) -> str:
    """Comparison key of a prompt: NFKC, lower case, whitespace collapsed, surrounding punctuation kept."""
    text = unicodedata.normalize("NFKC", prompt_text(prompt))
    return _WS.sub(" ", text).strip().lower()


def prompt_hash_fraction(prompt: Any) -> float:
    """A stable number in [0, 1) from the normalised prompt (first 8 bytes of its SHA-256)."""
    digest = hashlib.sha256(normalize_prompt(prompt).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def in_holdout_part(prompt: Any, part: str, fraction: float) -> bool:
    """True when ``prompt`` belongs to ``part`` ('train' = hash fraction below ``fraction``, 'eval' = the rest)."""
    below = prompt_hash_fraction(prompt) < fraction
    return below if part == "train" else not below
