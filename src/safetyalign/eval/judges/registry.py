"""The judges' registry: a judge by name. It sits above the judges (they import only :mod:`.base`), so the
judge modules form no import cycle."""

from __future__ import annotations

from typing import Any

from safetyalign.errors import ConfigError
from safetyalign.eval.judges.base import Judge


def make_judge(name: str, **kwargs: Any) -> Judge:
    """``cross``, ``pattern``, ``learned`` or ``llm:<model name or path>`` (kwargs go to the LLM judge: ``fmt``,
    ``strongreject``)."""
    if name == "cross" or name.startswith("cross:"):
        from safetyalign.eval.judges.cross import CrossJudge

        return CrossJudge(name.split(":", 1)[1] if ":" in name else None)
    if name == "pattern":
        from safetyalign.eval.judges.pattern import PatternJudge

        return PatternJudge()
    if name == "learned" or name.startswith("learned:"):
        from safetyalign.eval.judges.learned import LearnedJudge

        path = name.split(":", 1)[1] if ":" in name else None
        return LearnedJudge(path)
    if name.startswith("llm:"):
        from safetyalign.eval.judges.llm import LLMJudge

        return LLMJudge(name.split(":", 1)[1], **kwargs)
    raise ConfigError(f"unknown judge '{name}': use cross, pattern, learned or llm:<model>")
