"""Row readers for shared sets whose files are not one-prompt-per-row: each yields ``(lineno, row)`` with the
prompt under the spec's ``prompt_field``, so :func:`safetyalign.eval.suites._shared` reads them like any other set.

Selection rules (documented in docs/leave_source_out.md, tested in tests/test_leave_source_out.py):
- ToxicChat: the user prompt parsed from ``input``; ``harmful`` rows (human toxicity label) are red-team prompts,
  ``unharmful`` rows are ordinary user requests (over-refusal).
- BeaverTails: a question is a red-team prompt when at least half of its labelled answers are harmful (the labels
  are on question-answer pairs; a question that draws harmful answers is a harmful request).
- JAILJUDGE: the plain prompts only (complexity Q1-Q3); Q4/Q5 are long jailbreak templates that a 64-token prompt
  window would cut.
- XSafety / Flames: only request-shaped prompts (a question mark, 请/如何/怎么/帮我/扮演 ...) of the scenarios that ask
  for harmful help; statements and opinion prompts (where refusing is not the expected behaviour) are left out.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

Rows = Iterable[tuple[int, dict[str, Any]]]
HUMAN, ASSISTANT = "Human user:\n", "\n\nAI assistant:\n"
REQUEST = re.compile(r"请|如何|怎么|怎样|帮我|告诉我|教我|给我|你能|能否|能不能|可以.*吗|办法|方法|？|\?|扮演")
XSAFETY_HARM = {"Crimes_And_Illegal_Activities", "Unsafe_Instruction_Topic", "Role_Play_Instruction"}
FLAMES_HARM = {"Law violation", "Physical harm", "Personal data", "Sensitive information"}


def parse_human_user(text: str) -> tuple[str, str]:
    """``(prompt, response)`` from GuardReasoner's ``"Human user:\\n{p}\\n\\nAI assistant:\\n{r}\\n\\n"``."""
    body = text[len(HUMAN):] if text.startswith(HUMAN) else text
    prompt, _, response = body.partition(ASSISTANT)
    return prompt.strip(), response.strip()


def _toxicchat(label: str) -> Callable[[Rows, Any], Iterator[tuple[int, dict[str, Any]]]]:
    def read(rows: Rows, spec: Any) -> Iterator[tuple[int, dict[str, Any]]]:
        for lineno, row in rows:
            if str(row.get("output", "")).strip() == label and isinstance(row.get("input"), str):
                yield lineno, {spec.prompt_field: parse_human_user(row["input"])[0]}
    return read


def beavertails_questions(rows: Rows, spec: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    """One row per question whose answers are harmful at least half of the time."""
    votes: dict[str, list[bool]] = defaultdict(list)
    first: dict[str, int] = {}
    for lineno, row in rows:
        if not isinstance(row.get("input"), str):
            continue
        question = parse_human_user(row["input"])[0]
        words = str(row.get("output", "")).split()
        if question and words:
            votes[question].append(words[-1] == "harmful")
            first.setdefault(question, lineno)
    for question, v in votes.items():
        if sum(v) * 2 >= len(v):
            yield first[question], {spec.prompt_field: question}


def jailjudge_plain(rows: Rows, spec: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    for lineno, row in rows:
        if row.get("prompt_complexity_cate") in ("Q1", "Q2", "Q3"):
            yield lineno, row


def _requests(categories: set[str], field: str, text_field: str) -> Callable[[Rows, Any], Iterator]:
    def read(rows: Rows, spec: Any) -> Iterator[tuple[int, dict[str, Any]]]:
        for lineno, row in rows:
            if row.get(field) in categories and REQUEST.search(str(row.get(text_field, ""))):
                yield lineno, row
    return read


TRANSFORMS: dict[str, Callable[[Rows, Any], Iterator[tuple[int, dict[str, Any]]]]] = {
    "toxicchat_harmful": _toxicchat("harmful"),
    "toxicchat_unharmful": _toxicchat("unharmful"),
    "beavertails_questions": beavertails_questions,
    "jailjudge_plain": jailjudge_plain,
    "xsafety_requests": _requests(XSAFETY_HARM, "category", "prompt"),
    "flames_requests": _requests(FLAMES_HARM, "subcomponent", "prompt"),
}
