"""Accuracy of the refusal judges on hand-labelled sets they were not trained on.

    .venv/bin/python benchmarks/judge_accuracy.py [--retrain]

Two labelled sets, each row labelled refused/complied by a person reading the response (``label_source``):

* ``benchmarks/judge_labelset.jsonl``: real SmolLM2-135M-Instruct responses (greedy, 48 new tokens, made by
  benchmarks/generate_judge_labelset.py) to the built-in suites and to eval-half prompts of JailbreakBench and
  MaliciousInstruct (those prompts are resolved from the shared data by suite and id, not copied here), with and
  without a safety system prompt. SmolLM2-135M rarely refuses, so refusals are few.
* ``benchmarks/judge_labelset_hh.jsonl``: the last assistant turn of 50 hh-rlhf-harmless *test* conversations
  (row numbers into the shared file; clarifying questions and unclear turns were left out), many of them refusals.

No prompt or response of either set is in the learned or the cross judge's training data (hh-rlhf and SmolLM2
answers are not used for training).
Positive class = refused; a ``partial`` verdict counts as refused; rows labelled ``degenerate`` are left out.
Writes benchmarks/results/judge_accuracy.json and the accuracy summary that evaluation_results.json reports
(src/safetyalign/eval/judge_assets/judge_accuracy.json). ``--retrain`` first runs
``python -m safetyalign.eval.train_judge``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from safetyalign.eval.judges import make_judge
from safetyalign.eval.judges.learned import ASSETS, META
from safetyalign.eval.judges.pattern import gcg_refused
from safetyalign.eval.metrics import binary_scores
from safetyalign.io import iter_jsonl, write_json

ROOT = Path(__file__).resolve().parent


def score(pred: list[bool], rows: list[dict]) -> dict:
    """Overall and per-language scores of ``pred`` against the rows' labels."""
    gold = [r["label"] == "refused" for r in rows]
    out = binary_scores(pred, gold)
    out["by_lang"] = {}
    for lang in sorted({r["lang"] for r in rows}):
        idx = [i for i, r in enumerate(rows) if r["lang"] == lang]
        out["by_lang"][lang] = binary_scores([pred[i] for i in idx], [gold[i] for i in idx])
    return out


def load_sets() -> dict[str, list[dict]]:
    """The labelled rows of both sets, with prompts and responses resolved from the shared data where needed."""
    import gzip

    from safetyalign.eval.suites import load_suite
    from safetyalign.paths import resolve_data_path

    smol = [r for _, r in iter_jsonl(ROOT / "judge_labelset.jsonl") if r.get("label") in ("refused", "complied")]
    suites: dict[str, dict[str, str]] = {}
    for r in smol:
        if r.get("prompt") is None:
            if r["suite"] not in suites:
                suites[r["suite"]] = {p.id: p.prompt for p in load_suite(r["suite"])}
            r["prompt"] = suites[r["suite"]][r["id"].split("-", 1)[1]]
    hh_rows = [r for _, r in iter_jsonl(ROOT / "judge_labelset_hh.jsonl")]
    with gzip.open(resolve_data_path("shared:hh-rlhf-harmless/test.jsonl.gz"), "rt", encoding="utf-8") as fh:
        raw = [json.loads(line) for line in fh]
    for r in hh_rows:
        parts = raw[r["row"]]["chosen"].split("\n\nAssistant:")
        r["response"] = parts[-1].strip()
        r["prompt"] = parts[-2].split("\n\nHuman:")[-1].strip()
    return {"smollm2": smol, "hh_rlhf": hh_rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "results" / "judge_accuracy.json"))
    ap.add_argument("--retrain", action="store_true")
    args = ap.parse_args()
    if args.retrain:
        from safetyalign.eval.train_judge import main as train_main

        train_main([])
    sets = load_sets()
    rows = [r for rs in sets.values() for r in rs]
    prompts, responses = [r["prompt"] for r in rows], [r["response"] for r in rows]
    results: dict = {"labels_files": ["benchmarks/judge_labelset.jsonl", "benchmarks/judge_labelset_hh.jsonl"],
                     "n": len(rows), "sets": {k: {"n": len(v), "refused": sum(r["label"] == "refused" for r in v)}
                                              for k, v in sets.items()},
                     "label_counts": {k: sum(r["label"] == k for r in rows) for k in ("refused", "complied")},
                     "command": "python benchmarks/judge_accuracy.py", "machine": platform.machine(),
                     "judges": {}}
    preds = {"gcg_prefixes": ([gcg_refused(t) for t in responses], None)}
    for name in ("pattern", "learned", "cross"):
        start = time.perf_counter()
        verdicts = make_judge(name).judge(prompts, responses)
        preds[name] = ([v.refused or v.verdict == "partial" for v in verdicts], verdicts)
        results.setdefault("seconds_cpu", {})[name] = round(time.perf_counter() - start, 2)
    for name, (pred, verdicts) in preds.items():
        res = score(pred, rows)
        start = 0
        res["by_set"] = {}
        for set_name, set_rows in sets.items():
            res["by_set"][set_name] = binary_scores(pred[start:start + len(set_rows)],
                                                    [r["label"] == "refused" for r in set_rows])
            start += len(set_rows)
        res["errors"] = [{"id": r["id"], "label": r["label"], "pred_refused": p,
                          "verdict": v.verdict if v else None, "raw": v.raw if v else None}
                         for i, (r, p) in enumerate(zip(rows, pred))
                         for v in [verdicts[i] if verdicts else None] if p != (r["label"] == "refused")]
        results["judges"][name] = res
    meta = json.loads((ASSETS / META).read_text(encoding="utf-8"))
    results["learned_heldout_split"] = {h: v["heldout"] for h, v in meta["heads"].items()}
    write_json(args.out, results)
    summary = {"labels": results["labels_files"], "n": len(rows),
               "judges": {k: {"accuracy": v["accuracy"], "precision": v["precision"], "recall": v["recall"],
                              "f1": v["f1"]} for k, v in results["judges"].items()}}
    old = json.loads((ASSETS / "judge_accuracy.json").read_text(encoding="utf-8"))
    summary.update({k: v for k, v in old.items() if k == "cross_source"})  # written by judge_cross_source.py
    write_json(ASSETS / "judge_accuracy.json", summary)
    for k, v in results["judges"].items():
        print(f"{k:14s} acc {v['accuracy']:.3f}  P {v['precision']:.3f}  R {v['recall']:.3f}  F1 {v['f1']:.3f}  "
              f"zh acc {v['by_lang'].get('zh', {}).get('accuracy', float('nan')):.3f}  "
              f"en acc {v['by_lang'].get('en', {}).get('accuracy', float('nan')):.3f}  (n={v['n']})  "
              + "  ".join(f"{k}: acc {b['accuracy']:.3f} R {b['recall']:.3f}" for k, b in v["by_set"].items()))


if __name__ == "__main__":
    main()
