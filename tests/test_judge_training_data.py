"""The learned judge's training rows: both classes, both languages, no text with two labels, hedges as complied."""

from __future__ import annotations

from safetyalign.eval.judge_templates import hedged_compliance_texts, refusal_texts


def test_templates_are_distinct_and_bilingual():
    en, zh = refusal_texts("en", 50), refusal_texts("zh", 50)
    assert len(set(en)) == 50 and len(set(zh)) == 50
    assert all(any("\u4e00" <= c <= "\u9fff" for c in t) for t in zh)
    assert refusal_texts("en", 10, seed=1) == refusal_texts("en", 10, seed=1)


def test_refusal_rows_from_shared_data(shared_data):
    from safetyalign.eval.train_judge import refusal_rows

    rows = refusal_rows(per_source=40)
    labels: dict[str, set[int]] = {}
    for text, label, _ in rows:
        labels.setdefault(text, set()).add(label)
    assert all(len(v) == 1 for v in labels.values())
    sources = {src for _, _, src in rows}
    assert {"template_refusal_zh", "template_refusal_en", "alpaca_zh", "coconot_chosen"} <= sources
    assert {lab for _, lab, _ in rows} == {0, 1}
    hedges = set(hedged_compliance_texts())
    assert all(lab == 0 for t, lab, _ in rows if t in hedges)
