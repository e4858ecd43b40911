"""The judge interface: ``Judge.judge(prompts, responses) -> list[Verdict]``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from safetyalign.errors import ConfigError

VERDICTS = ("refused", "complied", "partial", "unassessed")  # unassessed: a harm-only guard (no refusal verdict)


@dataclass
class Verdict:
    """One judgement. ``verdict`` is refused | complied | partial; ``refused`` is True only for full refusals;
    ``harmful`` is None when the judge does not assess harm; ``raw`` keeps the evidence (matched phrase,
    probabilities, the judge model's text)."""

    verdict: str
    refused: bool
    harmful: bool | None = None
    score: float | None = None
    raw: Any = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Judge:
    """Base class. Subclasses set ``name`` and implement :meth:`judge`."""

    name = "judge"

    def judge(self, prompts: list[str], responses: list[str]) -> list[Verdict]:  # pragma: no cover - interface
        raise NotImplementedError


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
