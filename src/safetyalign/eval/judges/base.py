"""The judge interface: ``Judge.judge(prompts, responses) -> list[Verdict]``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

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
