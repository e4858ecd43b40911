"""Report section for the leave-source-out evaluation (issue #20): unseen vs in-distribution, per harm category,
capability retention, and which source each suite comes from."""

from __future__ import annotations

from typing import Any

from safetyalign.report.doc import Cell, Para, Section, Table
from safetyalign.report.loaders import RunData
from safetyalign.report.sections_eval import _headers, _rate_rows

SPLIT_LABELS = {"unseen": "unseen sources", "in_distribution": "in-distribution (a source that trained the model)"}


def _split_keys(split: str) -> list[tuple[str, str]]:
    out = []
    metrics = (("harmful/refusal_rate", "Harmful refused"), ("benign/over_refusal_rate", "Benign over-refused"))
    for key, label in metrics:
        for lang in ("en", "zh"):
            out.append((f"{split}/{key}/lang={lang}", f"{label} · {lang} · {SPLIT_LABELS[split]}"))
    return out


def _capability_rows(cap: dict[str, Any]) -> list[list[Cell | str]]:
    def cell(m: dict[str, Any] | None) -> Cell:
        if not m:
            return Cell("—", "muted")
        return Cell(f"{m['value']:.4f} [{m['ci95'][0]:.4f}, {m['ci95'][1]:.4f}] n={m['n']}", "num")

    row: list[Cell | str] = ["Mean answer log-likelihood per token (held-out Alpaca)", cell(cap.get("base"))]
    if "tuned" in cap:
        row += [cell(cap.get("tuned")), cell(cap.get("delta"))]
    return [row]


def leave_source_out_section(run: RunData) -> Section:
    """Unseen-source table first, then per-category refusal, capability and the suite → source map."""
    sec = Section("leave-source-out", "Leave-source-out: sources the model never trained on")
    results = run.results or {}
    lso, summary = results.get("leave_source_out"), run.summary()
    if not isinstance(lso, dict) or not summary:
        sec.blocks.append(Para("This evaluation has no leave-source-out labels (made before they existed)."))
        return sec
    trained = ", ".join(f"{k} ({v})" for k, v in (lso.get("training_sources") or {}).items()) or "none recorded"
    sec.blocks.append(Para(f"Training sources (rows): {trained}. A suite is unseen when no training source "
                           "shares its origin; its numbers are the headline. In-distribution numbers are shown for "
                           "contrast."))
    rows = _rate_rows(summary, _split_keys("unseen") + _split_keys("in_distribution"))
    sec.blocks.append(Table(_headers("Metric", summary), rows, caption="Leave-source-out headline"))
    cats = sorted({k.split("/harm=")[1].split("/")[0] for m in summary.values() for k in m
                   if k.startswith("unseen/harmful/refusal_rate/harm=")})
    keys = [(f"unseen/harmful/refusal_rate/harm={c}/lang={lang}", f"{c} · {lang}")
            for c in cats for lang in ("en", "zh")]
    crows = _rate_rows(summary, keys)
    if crows:
        sec.blocks.append(Table(_headers("Harm category · language (unseen sources)", summary), crows,
                                caption="Harmful refused, by harm category"))
    styles = sorted({k.split("/style=")[1] for m in summary.values() for k in m
                     if k.startswith("unseen/harmful/refusal_rate/style=")})
    srows_ = _rate_rows(summary, [(f"unseen/harmful/refusal_rate/style={st}", st) for st in styles])
    if srows_:
        sec.blocks.append(Table(_headers("Request style (unseen sources)", summary), srows_,
                                caption="Harmful refused, by request style"))
    cap = results.get("capability") or {}
    if cap:
        heads = ["Capability", "base"] + (["tuned", "Δ tuned − base (paired)"] if "tuned" in cap else [])
        sec.blocks.append(Table(heads, _capability_rows(cap), caption=f"Capability retention ({cap.get('pairs')} "
                                                                         "held-out instruction–answer pairs)"))
    suites = lso.get("suites") or {}
    srows: list[list[Cell | str]] = [[s, str(v.get("source")), Cell(str(v.get("split")), "num")]
                                     for s, v in suites.items() if isinstance(v, dict)]
    if srows:
        sec.blocks.append(Table(["Suite", "Source", "Split"], srows, caption="Suites and their sources"))
    return sec
