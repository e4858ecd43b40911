"""``safetyalign <command>``: one CLI over every stage. Stage modules are imported only when their command runs.

Each stage module exposes ``add_arguments(parser)`` (cheap, no heavy imports) and ``main(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from safetyalign import __version__
from safetyalign.errors import SafetyAlignError

COMMANDS: list[tuple[str, str, str]] = [
    ("doctor", "safetyalign.doctor", "Check torch/CUDA, GPU, compiler, disk and library versions."),
    ("config", "safetyalign.config_cli", "Validate, print or explain experiment configs."),
    ("data", "safetyalign.data.cli", "Load, validate and analyse preference data; write stats and plots."),
    ("train", "safetyalign.train.cli", "Train a LoRA adapter with DPO (TRL + PEFT, or Unsloth)."),
    ("export", "safetyalign.train.export", "Merge an adapter into its base model and save safetensors."),
    ("eval", "safetyalign.eval.cli", "Generate on red-team and benign suites, judge, write evaluation_results.json."),
    ("compare", "safetyalign.eval.compare_cli", "Base vs tuned side by side with transition tables."),
    ("judge", "safetyalign.eval.judge_cli", "Label {prompt, response} JSONL rows; score a judge against labels."),
    ("report", "safetyalign.report.cli", "Write report.html and report.md for one run (or compare two)."),
    ("quickstart", "safetyalign.quickstart", "Whole pipeline on the embedded SmolLM2-135M model on CPU."),
]


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one sub-parser per stage."""
    parser = argparse.ArgumentParser(prog="safetyalign", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"safetyalign {__version__}")
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING (default INFO)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = _wanted_command(sys.argv[1:])
    for name, module, help_text in COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        if wanted == name:  # import only the module of the command being run
            importlib.import_module(module).add_arguments(p)
    return parser


def _wanted_command(argv: list[str]) -> str | None:
    names = {c[0] for c in COMMANDS}
    return next((a for a in argv if a in names), None)


def main(argv: list[str] | None = None) -> int:
    """Entry point; errors from the project are one line on stderr with exit status 2."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if argv is not None:
        sys.argv = [sys.argv[0], *argv]
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:])
    if not getattr(args, "command", None):
        parser.print_help()
        return 0
    from safetyalign.logs import setup_logging

    setup_logging(args.log_level)
    try:
        return int(importlib.import_module(args._module).main(args) or 0)
    except SafetyAlignError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: partial outputs are kept; rerun with --resume where supported", file=sys.stderr)
        return 130


def add_config_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """Shared ``CONFIG [key=value ...]`` positional arguments."""
    parser.add_argument("config", nargs=None if required else "?", help="experiment YAML under configs/")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.lr=5e-6 train.max_steps=10")


if __name__ == "__main__":
    raise SystemExit(main())
