"""Judge details for the report: measured accuracy per held-out source, and a few disagreements between judges."""

from __future__ import annotations

from typing import Any

from safetyalign.report.doc import Cell, Table

MAX_DISAGREEMENTS = 5


def source_accuracy_table(judge: dict[str, Any]) -> Table | None:
    """Accuracy (95% CI, n) of each judge on each test source it never saw in training, per verdict."""
    by_source = judge.get("accuracy_by_source")
    if not isinstance(by_source, dict) or not by_source:
        return None
    primary = str(judge.get("primary", ""))
    rows = []
    for name in sorted(by_source, key=lambda j: (j != primary, j)):
        for source, verdicts in sorted((by_source.get(name) or {}).items()):
            for verdict, s in sorted((verdicts or {}).items()):
                if not isinstance(s, dict) or not isinstance(s.get("accuracy"), (int, float)):
                    continue
                lo, hi = (s.get("accuracy_ci95") or [None, None])[:2]
                ci = f" ({100 * lo:.1f}–{100 * hi:.1f})" if lo is not None and hi is not None else ""
                rows.append([Cell(name, "strong" if name == primary else ""), source, verdict,
                             Cell(f"{100 * s['accuracy']:.1f}%{ci}", "num"), Cell(str(s.get("n", "")), "num")])
    if not rows:
        return None
    return Table(["Judge", "Held-out source", "Verdict", "Accuracy (95% CI)", "n"], rows,
                 caption="Judge accuracy on sources never used to train it (benchmarks/judge_cross_source.py)")


def _calls(v: dict[str, Any]) -> str:
    harm = v.get("harmful")
    return f"{v.get('verdict', '?')}, harmful={'–' if harm is None else 'yes' if harm else 'no'}"


def disagreement_table(records: list[Any], primary: str, names: list[str]) -> Table | None:
    """Up to ``MAX_DISAGREEMENTS`` responses where another judge's refusal or harm call differs from the
    primary judge's (prompt ids only: texts stay in the generations files)."""
    rows = []
    for rec in records:
        if not isinstance(rec, dict):
            continue
        for model in ("tuned", "base"):
            js = (rec.get(model) or {}).get("judges") if isinstance(rec.get(model), dict) else None
            if not isinstance(js, dict) or not isinstance(js.get(primary), dict):
                continue
            p = js[primary]
            others = [j for j in names if j != primary and isinstance(js.get(j), dict)
                      and (js[j].get("refused") != p.get("refused")
                           or None not in (js[j].get("harmful"), p.get("harmful"))
                           and js[j].get("harmful") != p.get("harmful"))]
            if others and len(rows) < MAX_DISAGREEMENTS:
                rows.append([str(rec.get("id", "?")), model, str(rec.get("expected", "")), _calls(p),
                             "; ".join(f"{j}: {_calls(js[j])}" for j in others)])
    if not rows:
        return None
    return Table(["Prompt id", "Model", "Expected", f"{primary} (primary)", "Other judges"], rows,
                 caption="A few disagreements between judges")
