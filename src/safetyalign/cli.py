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
    """The top-level parser: global options and the list of stages (each stage parses its own arguments)."""
    parser = argparse.ArgumentParser(prog="safetyalign", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"safetyalign {__version__}")
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING (default INFO)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, _module, help_text in COMMANDS:
        sub.add_parser(name, help=help_text, description=help_text, add_help=False)
    return parser


def command_parser(name: str) -> tuple[argparse.ArgumentParser, str]:
    """The parser of one stage (its module is imported here, and only here)."""
    module, help_text = next((m, h) for n, m, h in COMMANDS if n == name)
    parser = argparse.ArgumentParser(prog=f"safetyalign {name}", description=help_text)
    importlib.import_module(module).add_arguments(parser)
    return parser, module


def main(argv: list[str] | None = None) -> int:
    """Entry point; errors from the project are one line on stderr with exit status 2.

    Options and ``key=value`` overrides may be given in any order after the command.
    """
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    argv = list(sys.argv[1:] if argv is None else argv)
    names = [c[0] for c in COMMANDS]
    at = next((i for i, a in enumerate(argv) if a in names), None)
    top = build_parser().parse_args(argv if at is None else argv[: at + 1])
    if at is None:
        build_parser().print_help()
        return 0
    parser, module = command_parser(argv[at])
    args = parser.parse_intermixed_args(argv[at + 1:])
    args.command, args.log_level = argv[at], top.log_level
    from safetyalign.logs import setup_logging

    setup_logging(args.log_level)
    try:
        return int(importlib.import_module(module).main(args) or 0)
    except SafetyAlignError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: partial outputs are kept; rerun with --resume where supported", file=sys.stderr)
        return 130


def add_config_arguments(parser: argparse.ArgumentParser, required: bool = True) -> None:
    """Shared ``CONFIG [key=value ...]`` positional arguments."""
    parser.add_argument("config", nargs=None if required else "?", help="experiment YAML under configs/")
    parser.add_argument("overrides", nargs="*",
                        help="dotted overrides, e.g. train.learning_rate=5e-6 train.max_steps=10")


if __name__ == "__main__":
    raise SystemExit(main())
