"""``safetyalign report RUN_DIR`` (one run) or ``safetyalign report RUN_A RUN_B [--out DIR]`` (two runs)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of the report command (cheap: no heavy imports)."""
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR",
                        help="one run folder (writes report.html/report.md into it) or two to compare")
    parser.add_argument("--out", default=None,
                        help="output folder of a two-run comparison (default: <parent of RUN_B>/compare-A-vs-B)")


def main(args: argparse.Namespace) -> int:
    """Write the report(s) and print their paths."""
    from safetyalign.errors import SafetyAlignError

    runs = [Path(r) for r in args.runs]
    if len(runs) == 1:
        from safetyalign.report.build import write_report

        paths = write_report(runs[0])
    elif len(runs) == 2:
        from safetyalign.report.compare import write_comparison

        out = Path(args.out) if args.out else runs[1].resolve().parent / (
            f"compare-{runs[0].resolve().name}-vs-{runs[1].resolve().name}")
        paths = write_comparison(runs[0], runs[1], out)
    else:
        raise SafetyAlignError(f"report takes one run folder or two to compare, got {len(runs)}")
    for p in paths:
        print(p)
    return 0
