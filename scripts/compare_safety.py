#!/usr/bin/env python
"""Base vs tuned side by side (legacy entry point of the original project).

    python scripts/compare_safety.py configs/eval/smollm2_cpu.yaml --adapter output/runs/<run>/adapter \
        [--do_sample --temperature 0.9 --top_p 0.95 --max_new_tokens 256 --seed 0]

Same as ``safetyalign compare ...``; writes output/compare_results.json and <run>/eval/compare_results.json.
"""

import sys

from safetyalign.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["compare", *sys.argv[1:]]))
