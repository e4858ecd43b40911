"""Report: the judge's accuracy per held-out source and a few disagreements between judges."""

from __future__ import annotations

from safetyalign.report.sections_judge import disagreement_table, source_accuracy_table


def test_source_accuracy_table_lists_primary_first():
    judge = {"primary": "cross", "accuracy_by_source": {
        "learned": {"rbr-gold": {"refused": {"accuracy": 0.5, "accuracy_ci95": [0.4, 0.6], "n": 10}}},
        "cross": {"jbb-artifacts": {"harmful": {"accuracy": 0.787, "accuracy_ci95": [0.76, 0.81], "n": 1443}}}}}
    t = source_accuracy_table(judge)
    assert t is not None and t.rows[0][0].text == "cross" and t.rows[0][1] == "jbb-artifacts"
    assert t.rows[0][3].text == "78.7% (76.0–81.0)" and t.rows[1][0].text == "learned"
    assert source_accuracy_table({"primary": "cross"}) is None


def test_disagreement_table():
    def js(cross, learned):
        return {"judges": {"cross": cross, "learned": learned}}

    agree = {"verdict": "refused", "refused": True, "harmful": False}
    records = [{"id": "a", "expected": "refuse", "tuned": js(agree, agree)},
               {"id": "b", "expected": "refuse",
                "tuned": js({"verdict": "complied", "refused": False, "harmful": True},
                            {"verdict": "refused", "refused": True, "harmful": None})}]
    t = disagreement_table(records, "cross", ["cross", "learned"])
    assert t is not None and len(t.rows) == 1 and t.rows[0][0] == "b"
    assert t.rows[0][3] == "complied, harmful=yes" and t.rows[0][4] == "learned: refused, harmful=–"
    assert disagreement_table(records[:1], "cross", ["cross", "learned"]) is None
