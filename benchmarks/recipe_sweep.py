#!/usr/bin/env python3
"""Tune a recipe by measurement: run quickstart variants over several seeds and tabulate the safety metrics.

    python benchmarks/recipe_sweep.py benchmarks/sweeps/quickstart.yaml --parallel 8 --out-dir DIR [--tag NAME]
    python benchmarks/recipe_sweep.py SPECS.yaml --rejudge RUNS_DIR --out-dir DIR     # judge again, on this machine

A spec file is ``{config: configs/quickstart.yaml, overrides: [...], seeds: [42, 1, 2], variants: [{name,
overrides, seeds?}]}``. Every (variant, seed) is one ``safetyalign quickstart CONFIG <overrides> train.seed=S`` run
in ``RUNS_DIR/<variant>_s<seed>``; the sweep writes ``recipe_sweep_<tag>.json`` (every run, and each variant's
mean/min/max) and a markdown table.

Why: a 135M-model quickstart run has a seed-to-seed spread of several points on 96 + 96 prompts, so one run per
setting cannot tell two recipes apart. On a GPU in float32 (``model.dtype=float32``) each run takes about a minute,
eight at a time, and reproduces the CPU run (the shipped recipe gave the same 81.2% / 12.5% on both); confirm the
winner on the CPU afterwards. ``--rejudge`` re-scores saved generations with the learned judge (e.g. when the GPU
machine runs with ``eval.judges=[pattern]`` because the judge's embedding model is not installed there).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GROUPS = [("harmful", "refusal_rate"), ("benign", "over_refusal_rate")]
LANGS = ["", "/lang=en", "/lang=zh"]
SPLITS = ["", "unseen/", "in_distribution/"]  # leave-source-out labels written by the evaluation (issue #20)
TABLE_SPLITS = ["unseen/", "in_distribution/"]


def _flat(items: list) -> list[str]:
    """Overrides may nest (YAML anchors reuse a list inside another, at any depth)."""
    return [x for item in items for x in (_flat(item) if isinstance(item, list) else [str(item)])]


def load_specs(path: Path, only: set[str] | None = None) -> tuple[list[tuple[str, list[str]]], str]:
    """``[(run_name, quickstart_args)]`` for every variant (or those in ``only``) and seed, and the config path."""
    import yaml

    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    unknown = set(spec) - {"config", "overrides", "seeds", "variants"}
    if unknown:
        raise SystemExit(f"{path}: unknown keys {sorted(unknown)}")
    config = str(ROOT / spec.get("config", "configs/quickstart.yaml"))
    runs = []
    for i, var in enumerate(spec["variants"]):
        if "name" not in var:
            raise SystemExit(f"{path}: variants[{i}]: missing field 'name'")
        if only and var["name"] not in only:
            continue
        for seed in var.get("seeds", spec.get("seeds", [42])):
            args = [*_flat(spec.get("overrides", [])), *_flat(var.get("overrides", [])), f"train.seed={seed}"]
            runs.append((f"{var['name']}_s{seed}", args))
    return runs, config


def run_one(name: str, args: list[str], config: str, runs_dir: Path, threads: int) -> dict:
    """One quickstart run on ``threads`` CPU threads (resumes: a finished run folder is read, not rerun)."""
    run_dir = runs_dir / name
    if not (run_dir / "eval" / "evaluation_results.json").is_file():
        cmd = [sys.executable, "-m", "safetyalign", "quickstart", config, *args, "--run-dir", str(run_dir),
               "--no-report"]
        env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", str(threads)))
        runs_dir.mkdir(parents=True, exist_ok=True)
        start = time.time()
        with open(runs_dir / f"{name}.log", "w", encoding="utf-8") as log:
            rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        if rc:
            return {"name": name, "args": args, "error": f"exit {rc}, see {runs_dir / (name + '.log')}"}
        print(f"{name}: {time.time() - start:.0f} s", flush=True)
    return {"name": name, "args": args, **read_run(run_dir)}


def read_run(run_dir: Path, judge: str | None = None) -> dict:
    """Counts ``[k, n]`` per metric for base and tuned, from the run's ``eval/generations_<model>.jsonl``;
    ``judge`` re-scores the saved responses with that judge first."""
    from safetyalign.eval.metrics import summarize
    from safetyalign.io import iter_jsonl, read_json

    out: dict = {"judge": judge or "as run"}
    judge_obj = None
    for model in ("base", "tuned"):
        path = run_dir / "eval" / f"generations_{model}.jsonl"
        if not path.is_file():
            continue
        rows = [row for _, row in iter_jsonl(path)]
        if judge:
            from safetyalign.eval.evaluate import run_judges
            from safetyalign.eval.judges.registry import make_judge

            judge_obj = judge_obj or make_judge(judge)
            verdicts = run_judges([judge_obj], [r["prompt"] for r in rows], [r["response"] for r in rows])
            rows = [{**r, **v[judge]} for r, v in zip(rows, verdicts)]
        summary = summarize((r, r) for r in rows)
        for split in SPLITS:
            for group, metric in GROUPS:
                for lang in LANGS:
                    key = f"{split}{group}/{metric}{lang}"
                    if key in summary:
                        out[f"{model}:{key}"] = [summary[key]["k"], summary[key]["n"]]
        for key in (k for k in summary if k.startswith("unseen/harmful/refusal_rate/harm=") and "/lang=" in k):
            out[f"{model}:{key}"] = [summary[key]["k"], summary[key]["n"]]  # per harm category, per language
    results = run_dir / "eval" / "evaluation_results.json"
    if results.is_file():
        delta = (read_json(results).get("capability") or {}).get("delta")
        if delta:
            out["capability_delta"] = delta["value"]
    timings = run_dir / "timings.json"
    if timings.is_file():
        out["train_s"] = read_json(timings)["stages"].get("train")
    return out


def aggregate(runs: list[dict]) -> dict:
    """Per variant: mean, min and max (percent) of every tuned metric over its seeds."""
    variants: dict[str, list[dict]] = {}
    for r in runs:
        if "error" not in r:
            variants.setdefault(r["name"].rsplit("_s", 1)[0], []).append(r)
    table = {}
    for name, rows in variants.items():
        stats = {"seeds": len(rows)}
        for key in (k for k in rows[0] if k.startswith("tuned:")):
            vals = [100.0 * r[key][0] / r[key][1] for r in rows]
            stats[key[len("tuned:"):]] = {"mean": round(statistics.mean(vals), 1), "min": round(min(vals), 1),
                                          "max": round(max(vals), 1)}
        deltas = [r["capability_delta"] for r in rows if "capability_delta" in r]
        if deltas:
            stats["capability_delta"] = {"mean": round(statistics.mean(deltas), 4), "min": round(min(deltas), 4),
                                         "max": round(max(deltas), 4)}
        table[name] = stats
    return table


def markdown(table: dict) -> str:
    """One row per variant: mean (min–max) over seeds; leave-source-out columns first when the runs have them."""
    split = [p for p in TABLE_SPLITS if any(f"{p}harmful/refusal_rate" in s for s in table.values())]
    cols = [f"{p}{g}/{m}{lang}" for p in split for g, m in GROUPS for lang in LANGS[1:]] if split else \
        [f"{g}/{m}{lang}" for g, m in GROUPS for lang in LANGS]
    if any("capability_delta" in s for s in table.values()):
        cols.append("capability_delta")
    head = "| variant | seeds | " + " | ".join(c.replace("/lang=", " ") for c in cols) + " |"
    lines = [head, "|" + "---|" * (len(cols) + 2)]
    for name, s in table.items():
        fmt = [".4f" if c == "capability_delta" else ".1f" for c in cols]
        cells = [f"{s[c]['mean']:{f}} ({s[c]['min']:{f}}–{s[c]['max']:{f}})" if c in s else "–"
                 for c, f in zip(cols, fmt)]
        lines.append(f"| {name} | {s['seeds']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("specs", type=Path)
    parser.add_argument("--parallel", type=int, default=1, help="runs at a time (GPU: 8; CPU: 1)")
    parser.add_argument("--runs-dir", type=Path, default=ROOT / "output" / "sweeps")
    parser.add_argument("--rejudge", type=Path, default=None, help="only re-score the runs in this folder")
    parser.add_argument("--judge", default="learned", help="judge for --rejudge")
    parser.add_argument("--out-dir", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--tag", default="quickstart")
    parser.add_argument("--only", default="", help="comma-separated variant names (default: all)")
    parser.add_argument("--note", default="", help="free text stored in the JSON (machine, how the runs were made)")
    args = parser.parse_args()
    from safetyalign.io import atomic_write_text, write_json

    runs, config = load_specs(args.specs, set(filter(None, args.only.split(","))))
    if args.rejudge:
        found = [(n, a) for n, a in runs if (args.rejudge / n / "eval" / "generations_tuned.jsonl").is_file()]
        results = [{"name": n, "args": a, **read_run(args.rejudge / n, args.judge)} for n, a in found]
    else:
        threads = max(1, (os.cpu_count() or 1) // max(1, args.parallel))  # CPU threads per run
        with ThreadPoolExecutor(max(1, args.parallel)) as pool:
            results = list(pool.map(lambda r: run_one(r[0], r[1], config, args.runs_dir, threads), runs))
    table = aggregate(results)
    out = {"specs": str(args.specs), "config": os.path.relpath(config, ROOT), "command": " ".join(sys.argv),
           "note": args.note,
           "variants": table, "runs": results}
    args.out_dir.mkdir(parents=True, exist_ok=True)
    write_json(args.out_dir / f"recipe_sweep_{args.tag}.json", out)
    atomic_write_text(args.out_dir / f"recipe_sweep_{args.tag}.md", markdown(table))
    print(markdown(table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
