"""Row validation with skip reasons: bad rows are counted (and the first few located), never fatal.

Skip reasons: ``invalid_json``, ``missing_field``, ``empty_field``, ``non_text``, ``invalid_id``,
``identical_pair``, ``too_long``, ``unparseable``, ``not_one_safe``, ``filtered``, ``holdout``, ``in_eval_set``,
``duplicate``.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from safetyalign.logs import get_logger

log = get_logger(__name__)

MAX_EXAMPLES = 5
# skips caused by configuration rather than bad data (logged at INFO, not WARNING)
EXPECTED_REASONS = {"duplicate", "filtered", "holdout", "in_eval_set", "not_one_safe"}


class Skip(Exception):
    """Raised by converters for a row that cannot be used: ``reason`` and the offending ``field``."""

    def __init__(self, reason: str, field: str = "", detail: str = ""):
        super().__init__(f"{reason}: {field} {detail}".strip())
        self.reason, self.field, self.detail = reason, field, detail


@dataclass
class SkipLog:
    """Skip counts by reason plus ``file:row:field (reason)`` for the first few skipped rows."""

    source: str
    counts: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def add(self, where: str, skip: Skip) -> None:
        """Count one skipped row; log and keep its location while fewer than MAX_EXAMPLES are kept."""
        self.counts[skip.reason] += 1
        if len(self.examples) < MAX_EXAMPLES:
            text = f"{where}:{skip.field} ({skip.reason}{': ' + skip.detail if skip.detail else ''})"
            self.examples.append(text)
            level = logging.INFO if skip.reason in EXPECTED_REASONS else logging.WARNING
            log.log(level, "%s: skipped %s", self.source, text)

    @property
    def total(self) -> int:
        """Rows skipped for any reason."""
        return sum(self.counts.values())


def text_field(row: dict[str, Any], column: str, ours: str | None = None, allow_empty: bool = False) -> str:
    """``row[column]`` as a stripped string, or :class:`Skip` (missing, non-text, empty)."""
    name = ours or column
    if column not in row or row[column] is None:
        raise Skip("missing_field", name, f"column '{column}' not found" if column != name else "")
    value = row[column]
    if not isinstance(value, str):
        raise Skip("non_text", name, f"got {type(value).__name__}")
    value = value.strip()
    if not value and not allow_empty:
        raise Skip("empty_field", name)
    return value


def generated_field(pair: dict[str, Any]) -> str | None:
    """The response field the base model still has to write: ``needs_generation`` is ``True``/``"rejected"`` for an
    on-policy rejected answer, ``"chosen"`` for an on-policy chosen answer; ``None`` when nothing is pending."""
    flag = pair.get("needs_generation")
    if not flag:
        return None
    return "chosen" if flag == "chosen" else "rejected"


def check_pair(pair: dict[str, Any], max_chars: int) -> None:
    """Final checks on a converted pair: non-empty texts, chosen != rejected, lengths within ``max_chars``."""
    from safetyalign.data.split import prompt_text

    needs_generation = bool(pair.get("needs_generation"))
    generated = generated_field(pair)
    for name in ("prompt", "chosen", "rejected"):
        value = pair.get(name)
        text = prompt_text(value) if name == "prompt" else value
        if not isinstance(text, str):
            raise Skip("non_text", name)
        if not text.strip() and name != generated:
            raise Skip("empty_field", name)
        if len(text) > max_chars:
            raise Skip("too_long", name, f"{len(text)} > max_chars {max_chars}")
    if not needs_generation and pair["chosen"].strip() == pair["rejected"].strip():
        raise Skip("identical_pair", "chosen/rejected")
