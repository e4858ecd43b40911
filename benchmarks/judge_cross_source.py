"""Judges scored on whole sources they never saw in training (both verdicts), with 95% CIs.

    .venv/bin/python benchmarks/judge_cross_source.py [--judges cross learned pattern] [--limit N]

Test rows: ``TEST_SOURCES`` of :mod:`safetyalign.eval.judge_data` (rbr-gold, jbb-artifacts, llm-self-defense, the
ChatGPT answers of zh-latent-jailbreak, the hand-checked set ``judge_assets/handchecked.jsonl``), read from
../shared/data. Each judge runs here, on this machine (the cross judge int8 on CPU). Judges without a harm verdict
(pattern, learned) are also scored with the old reading "harmful = not refused" (``<judge>+not_refused``).
Also scored: the fp32 GPU predictions written by the training run (``benchmarks/results/judge/*.jsonl.gz``, the
``main`` fold = the shipped weights, and the ``swap`` fold that holds out chatgpt-refusals and trains on rbr-gold).
Writes benchmarks/results/judge/cross_source.json and the summary in
src/safetyalign/eval/judge_assets/judge_accuracy.json (read by evaluation reports).
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import time
from pathlib import Path
from typing import Any

from safetyalign.eval.judge_data import TEST_SOURCES, build
from safetyalign.eval.judge_eval import not_refused_as_harm, score_rows, with_predictions
from safetyalign.eval.judges import make_judge
from safetyalign.io import read_json, write_json
from safetyalign.runs import cpu_matmul_gflops

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results" / "judge"
ASSET = ROOT.parent / "src" / "safetyalign" / "eval" / "judge_assets" / "judge_accuracy.json"


def gpu_fold(name: str) -> dict[str, Any]:
    path = RESULTS / f"cross_{name}_test_predictions.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    for r in rows:
        r["pred_refused"], r["pred_harmful"] = r["p"][0] >= 0.5, r["p"][2] >= 0.5
    return score_rows(rows)


def disagreements(rows: list[dict[str, Any]], preds: dict[str, list[dict[str, Any]]], k: int = 6) -> list[dict]:
    """A few rows where the cross judge and the learned judge disagree on refusal (source row, not its text)."""
    if "cross" not in preds or "learned" not in preds:
        return []
    out = []
    for r, a, b in zip(rows, preds["cross"], preds["learned"]):
        if a["pred_refused"] != b["pred_refused"] and r.get("refused") is not None and len(out) < k:
            out.append({"source": r["source"], "gold_refused": r["refused"], "cross": a["pred_refused"],
                        "learned": b["pred_refused"], "kind": r.get("kind")})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--judges", nargs="*", default=["cross", "learned", "pattern"])
    ap.add_argument("--limit", type=int, default=0, help="rows per source (0 = all)")
    args = ap.parse_args()
    rows = build(TEST_SOURCES)
    if args.limit:
        per: dict[str, int] = {}
        rows = [r for r in rows if per.setdefault(r["source"], 0) < args.limit
                and not per.__setitem__(r["source"], per[r["source"]] + 1)]
    probe = cpu_matmul_gflops()
    result: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine":
                              platform.processor() or platform.machine(), "cpu_matmul_gflops_start": probe,
                              "rows": len(rows), "test_sources": sorted({r["source"] for r in rows}), "judges": {}}
    preds: dict[str, list[dict[str, Any]]] = {}
    for name in args.judges:
        judge = make_judge(name)
        t0 = time.time()
        verdicts = judge.judge([r["prompt"] for r in rows], [r["response"] for r in rows])
        preds[name] = with_predictions(rows, verdicts)
        result["judges"][name] = {"seconds": round(time.time() - t0, 1), "by_source": score_rows(preds[name])}
        if name != "cross":
            result["judges"][f"{name}+not_refused"] = {"by_source": score_rows(not_refused_as_harm(preds[name]))}
        print(f"{name}: {time.time() - t0:.1f} s", flush=True)
    result["cpu_matmul_gflops_end"] = cpu_matmul_gflops()
    old = read_json(RESULTS / "cross_source.json") if (RESULTS / "cross_source.json").is_file() else {}
    for name, res in old.get("judges", {}).items():  # judges not re-run keep their earlier scores (same rows)
        if name.split("+")[0] not in args.judges and old.get("rows") == result["rows"]:
            result["judges"][name] = {**res, "from_run": old.get("date")}
    result["gpu_folds"] = {f: gpu_fold(f) for f in ("main", "swap")
                           if (RESULTS / f"cross_{f}_test_predictions.jsonl.gz").is_file()}
    result["disagreements"] = disagreements(rows, preds) or old.get("disagreements", [])
    write_json(RESULTS / "cross_source.json", result)
    asset = read_json(ASSET) if ASSET.is_file() else {}
    asset["cross_source"] = {k: result[k] for k in ("date", "rows", "test_sources")}
    asset["cross_source"]["judges"] = {k: v["by_source"] for k, v in result["judges"].items()}
    asset["cross_source"]["swap_fold_gpu"] = result["gpu_folds"].get("swap")
    write_json(ASSET, asset)
    print(json.dumps({k: {s: {v: round(x["accuracy"], 3) for v, x in d.items()} for s, d in j["by_source"].items()}
                      for k, j in result["judges"].items()}, indent=1))


if __name__ == "__main__":
    main()
