#!/usr/bin/env python3
"""Reproduce the README's quickstart numbers: run the full quickstart recipe and write a JSON summary.

    .venv/bin/python benchmarks/quickstart.py [overrides...]  ->  benchmarks/results/quickstart_cpu.json

The JSON holds the headline metrics (base vs tuned, overall and per language, both judges), the timing of every
stage, the machine (cores, CPU model) and the exact command, so a rerun can be compared line by line.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEYS = ["harmful/refusal_rate", "harmful/attack_success_rate", "benign/over_refusal_rate"]


def _judge_summary(results: dict, judge: str, harm: str | None = None) -> dict:
    """Headline metrics recomputed from the records with another judge's verdicts (``harm``: the judge whose harm
    verdict gives attack success; default ``judge``)."""
    from safetyalign.eval.metrics import summarize

    out = {}
    for model in ("base", "tuned"):
        items = [(r, {**r[model], **r[model]["judges"][judge],
                      "harmful": r[model]["judges"][harm or judge]["harmful"]})
                 for r in results["records"] if model in r]
        out[model] = summarize(items)
    return out


def _headline(summary: dict) -> dict:
    keys = KEYS + [f"{k}/lang={lang}" for k in KEYS for lang in ("en", "zh")]
    return {model: {k: summary[model][k] for k in keys if k in summary[model]} for model in summary}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*")
    parser.add_argument("--config", default=str(ROOT / "configs/quickstart.yaml"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/quickstart_cpu.json"))
    args = parser.parse_args()
    from safetyalign.config import load_config
    from safetyalign.io import write_json
    from safetyalign.quickstart import print_summary, run_quickstart

    cfg = load_config(args.config, args.overrides)
    out = run_quickstart(cfg)
    print_summary(out)
    results = out["results"]
    judges = results["judge"]["all"]
    write_json(args.out, {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "config": args.config, "overrides": args.overrides, "run_dir": str(out["run_dir"]),
        "machine": {"cores": os.cpu_count(), "cpu": _cpu_model(), "platform": platform.platform()},
        "primary_judge": results["judge"]["primary"],
        "headline": {j: _headline(_judge_summary(results, j)) for j in judges},
        "headline_refusal_harm": {f"{p}+{h}": _headline(_judge_summary(results, p, h))
                                  for p in judges for h in judges if p != h and h == "cross"},
        "suites": results["suites"], "timings": out["timings"],
        "train": {"steps": cfg.train.max_steps, "backend": cfg.train.backend},
    })
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
