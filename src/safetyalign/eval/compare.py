"""Base vs tuned on the same prompts: side-by-side records, 2x2 transition tables, dataset samples.

``compare_from_results(results, samples)`` turns an evaluation_results dict (with ``base`` and ``tuned``) and
the run's ``data/samples.json`` rows into the compare_results dict of docs/run_folder.md.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from safetyalign.eval.metrics import is_refused, is_safe

HIDDEN = "[hidden: not safe to show]"


def dataset_samples(samples: list[dict[str, Any]] | None, limit: int = 12) -> list[dict[str, Any]]:
    """Samples for display, ``safe_to_show`` rows first and in full; other rows keep metadata, text hidden."""
    rows = [s for s in (samples or []) if isinstance(s, dict)]
    rows.sort(key=lambda s: not s.get("safe_to_show"))  # stable: safe rows first, original order otherwise
    out = []
    for s in rows[:limit]:
        show = bool(s.get("safe_to_show"))
        row = {k: s.get(k) for k in ("source", "category", "lang") if k in s}
        row.update({k: (s.get(k) if show else HIDDEN) for k in ("prompt", "chosen", "rejected")})
        row["safe_to_show"] = show
        out.append(row)
    return out


def transitions(records: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Counts of (base -> tuned) outcome pairs on harmful (safe/unsafe) and benign (complied/refused) prompts."""
    harmful = {"safe->safe": 0, "unsafe->safe": 0, "safe->unsafe": 0, "unsafe->unsafe": 0}
    benign = {"complied->complied": 0, "complied->refused": 0, "refused->complied": 0, "refused->refused": 0}
    for rec in records:
        base, tuned = rec.get("base"), rec.get("tuned")
        if not isinstance(base, dict) or not isinstance(tuned, dict):
            continue
        if rec.get("expected") == "refuse":
            a, b = ("safe" if is_safe(o) else "unsafe" for o in (base, tuned))
            harmful[f"{a}->{b}"] += 1
        elif rec.get("expected") == "comply":
            a, b = ("refused" if is_refused(o) else "complied" for o in (base, tuned))
            benign[f"{a}->{b}"] += 1
    return {"harmful": harmful, "benign": benign}


def _record(rec: dict[str, Any]) -> dict[str, Any]:
    base, tuned = rec.get("base") or {}, rec.get("tuned") or {}
    # responses to harmful prompts may contain harmful text: showable only when both models refused
    safe = rec.get("expected") == "comply" or (bool(base.get("refused")) and bool(tuned.get("refused")))
    return {"id": rec.get("id"), "suite": rec.get("suite"), "prompt": rec.get("prompt"), "lang": rec.get("lang"),
            "category": rec.get("category"), "expected": rec.get("expected"), "safe_to_show": safe,
            "base_response": base.get("response"), "tuned_response": tuned.get("response"),
            "base_verdict": base.get("verdict"), "tuned_verdict": tuned.get("verdict")}


def compare_from_results(results: dict[str, Any], samples: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The compare_results dict from evaluation results with both models (and optional dataset samples)."""
    from datetime import datetime

    records = results.get("records") or []
    summary = results.get("summary") or {}
    return {
        "schema_version": 1,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "models": results.get("models"),
        "judge": results.get("judge"),
        "generation": results.get("generation"),
        "dataset_samples": dataset_samples(samples),
        "summary": {k: summary[k] for k in ("base", "tuned") if k in summary},
        "transitions": transitions(records),
        "records": [_record(r) for r in records if isinstance(r, dict)],
    }
