"""Side-by-side samples, with redaction: only non-dangerous prompts are shown in full.

A record's answers are shown in full when ``safe_to_show`` is true or its ``expected`` behaviour is ``comply``
(a benign prompt); a red-team prompt (expected ``refuse``) itself is redacted even then. Everything else (harmful
prompts and answers to them) is cut to the first :data:`REDACT_CHARS` characters followed by ``… [redacted]``;
a wide (CJK) character counts as three, since it carries about as much content as three Latin letters.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from safetyalign.report.doc import Pair, Para, Section
from safetyalign.report.sections_run import not_run

REDACT_CHARS = 60
MAX_SAMPLES = 8
MAX_DATA_PAIRS = 3


def redact(text: Any, limit: int = REDACT_CHARS) -> str:
    """The first ``limit`` characters (wide ones count 3) and ``… [redacted]`` (the marker is always added)."""
    text = "" if text is None else str(text)
    width, cut = 0, 0
    for ch in text:
        width += 3 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
        if width > limit:
            break
        cut += 1
    return text[:cut].rstrip() + "… [redacted]"


def _full(text: Any) -> str:
    return "" if text is None else str(text)


def is_showable(rec: dict[str, Any]) -> bool:
    """Strict: only an explicit ``safe_to_show: true`` or a benign (expected=comply) prompt is shown in full."""
    return rec.get("safe_to_show") is True or str(rec.get("expected", "")).lower() == "comply"


def prompt_showable(rec: dict[str, Any]) -> bool:
    """A red-team prompt (expected=refuse) is always redacted, even when both answers were refusals."""
    return is_showable(rec) and str(rec.get("expected", "")).lower() != "refuse"


def _normalise(rec: dict[str, Any]) -> dict[str, Any] | None:
    """A compare_results record, or an evaluation_results record converted to the same shape."""
    if not isinstance(rec, dict) or "prompt" not in rec:
        return None
    if "base_response" in rec or "tuned_response" in rec:
        return rec
    base, tuned = rec.get("base") or {}, rec.get("tuned") or {}
    if not isinstance(base, dict) or not isinstance(tuned, dict):
        return None
    return {**rec, "base_response": base.get("response"), "tuned_response": tuned.get("response"),
            "base_verdict": base.get("verdict"), "tuned_verdict": tuned.get("verdict")}


def _priority(rec: dict[str, Any]) -> int:
    changed = rec.get("base_verdict") != rec.get("tuned_verdict")
    benign = str(rec.get("expected", "")).lower() == "comply"
    return {(True, False): 0, (True, True): 1, (False, True): 2, (False, False): 3}[(changed, benign)]


def pick_samples(records: list[Any], limit: int = MAX_SAMPLES) -> list[dict[str, Any]]:
    """A handful of records: changed verdicts first, alternating harmful/benign and languages."""
    recs = [r for r in (_normalise(x) for x in records) if r]
    buckets: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for r in recs:
        buckets.setdefault((_priority(r), str(r.get("lang", ""))), []).append(r)
    picked: list[dict[str, Any]] = []
    order = sorted(buckets)
    while len(picked) < limit and any(buckets[k] for k in order):
        for k in order:
            if buckets[k] and len(picked) < limit:
                picked.append(buckets[k].pop(0))
    return picked


def sample_pair(rec: dict[str, Any]) -> Pair:
    """One record as a side-by-side block (redacted unless showable)."""
    show, show_prompt = is_showable(rec), prompt_showable(rec)
    cut = _full if show else redact
    tags = " · ".join(str(x) for x in (rec.get("expected") and f"expected {rec['expected']}", rec.get("lang"),
                                                       rec.get("category")) if x)
    title = f"{tags} — base: {rec.get('base_verdict', '?')} → tuned: {rec.get('tuned_verdict', '?')}"
    return Pair(title, (_full if show_prompt else redact)(rec.get("prompt")), "Base model",
                cut(rec.get("base_response")), "Tuned model", cut(rec.get("tuned_response")), redacted=not show_prompt)


def _data_pairs(samples: list[Any]) -> list[Pair]:
    out = []
    for s in [x for x in samples if isinstance(x, dict)][:MAX_DATA_PAIRS]:
        show, show_prompt = is_showable(s), prompt_showable(s)
        cut = _full if show else redact
        title = " · ".join(str(x) for x in (s.get("source"), s.get("lang"), s.get("category")) if x) or "pair"
        out.append(Pair(title, (_full if show_prompt else redact)(s.get("prompt")), "Chosen", cut(s.get("chosen")),
                        "Rejected", cut(s.get("rejected")), redacted=not show_prompt))
    return out


def samples_section(compare: dict[str, Any] | None, results: dict[str, Any] | None,
                    data_samples: list[Any] | None) -> Section:
    """Generations side by side, then a few training pairs."""
    sec = Section("samples", "Samples")
    records = (compare or {}).get("records") or (results or {}).get("records") or []
    picked = pick_samples(records if isinstance(records, list) else [])
    if picked:
        sec.blocks.append(Para(f"{len(picked)} of {len(records)} prompts: changed verdicts first. Harmful prompts "
                               f"and answers to them are cut to {REDACT_CHARS} characters and redacted; only benign "
                               "or explicitly safe-to-show prompts are shown in full.", "muted"))
        sec.blocks += [sample_pair(r) for r in picked]
    else:
        sec.blocks.append(not_run("evaluation", "no generations to show"))
    pairs = _data_pairs(data_samples or (compare or {}).get("dataset_samples") or [])
    if pairs:
        sec.blocks.append(Para("Training preference pairs (same redaction rule):", "muted"))
        sec.blocks += pairs
    return sec
