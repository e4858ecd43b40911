"""Accuracy of the refusal judges on a hand-labelled set they were not trained on.

    .venv/bin/python benchmarks/judge_accuracy.py [--retrain] [--labels benchmarks/judge_labelset.jsonl]

The labelled set holds real SmolLM2-135M-Instruct responses (greedy, 64 new tokens, made by
benchmarks/generate_judge_labelset.py) to the built-in suites and to JailbreakBench eval-half prompts, each
labelled refused/complied by a person reading the response (``label_source``). No prompt or response of it is
in the learned judge's training data. Positive class = refused; a ``partial`` verdict counts as refused.
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", default=str(ROOT / "judge_labelset.jsonl"))
    ap.add_argument("--out", default=str(ROOT / "results" / "judge_accuracy.json"))
    ap.add_argument("--retrain", action="store_true")
    args = ap.parse_args()
    if args.retrain:
        from safetyalign.eval.train_judge import main as train_main

        train_main([])
    rows = [r for _, r in iter_jsonl(args.labels) if r.get("label") in ("refused", "complied")]
    prompts, responses = [r["prompt"] for r in rows], [r["response"] for r in rows]
    results: dict = {"labels_file": str(Path(args.labels).relative_to(ROOT.parent)), "n": len(rows),
                     "label_counts": {k: sum(r["label"] == k for r in rows) for k in ("refused", "complied")},
                     "command": "python benchmarks/judge_accuracy.py", "machine": platform.machine(),
                     "judges": {}}
    results["judges"]["gcg_prefixes"] = score([gcg_refused(t) for t in responses], rows)
    for name in ("pattern", "learned"):
        start = time.perf_counter()
        verdicts = make_judge(name).judge(prompts, responses)
        secs = time.perf_counter() - start
        results["judges"][name] = score([v.refused or v.verdict == "partial" for v in verdicts], rows)
        results["judges"][name]["seconds_cpu"] = round(secs, 2)
        results["judges"][name]["errors"] = [
            {"id": r["id"], "label": r["label"], "verdict": v.verdict, "raw": v.raw}
            for r, v in zip(rows, verdicts) if (v.refused or v.verdict == "partial") != (r["label"] == "refused")]
    meta = json.loads((ASSETS / META).read_text(encoding="utf-8"))
    results["learned_heldout_split"] = {h: v["heldout"] for h, v in meta["heads"].items()}
    write_json(args.out, results)
    summary = {"labels": results["labels_file"], "n": len(rows),
               "judges": {k: {"accuracy": v["accuracy"], "precision": v["precision"], "recall": v["recall"],
                              "f1": v["f1"]} for k, v in results["judges"].items()}}
    write_json(ASSETS / "judge_accuracy.json", summary)
    for k, v in results["judges"].items():
        print(f"{k:14s} acc {v['accuracy']:.3f}  P {v['precision']:.3f}  R {v['recall']:.3f}  F1 {v['f1']:.3f}  "
              f"zh acc {v['by_lang'].get('zh', {}).get('accuracy', float('nan')):.3f}  "
              f"en acc {v['by_lang'].get('en', {}).get('accuracy', float('nan')):.3f}  (n={v['n']})")


if __name__ == "__main__":
    main()
