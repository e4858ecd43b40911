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
    ("train", "safetyalign.train.cli",
     "Train a LoRA adapter with DPO (backends: auto, fast, trl, prefix_cache, unsloth)."),
    ("export", "safetyalign.train.export", "Merge an adapter into its base model and save safetensors."),
    ("eval", "safetyalign.eval.cli", "Generate on red-team and benign suites, judge, write evaluation_results.json."),
    ("compare", "safetyalign.eval.compare_cli", "Base vs tuned side by side with transition tables."),
    ("judge", "safetyalign.eval.judge_cli", "Label {prompt, response} JSONL rows; score a judge against labels."),
    ("report", "safetyalign.report.cli", "Write report.html and report.md for one run (or compare two)."),
    ("quickstart", "safetyalign.quickstart", "Whole pipeline on the embedded SmolLM2-135M model on CPU."),
]


DESCRIPTION = """SafetyAlign: teach a chat model to refuse harmful requests without over-refusing benign ones
(DPO preference tuning with LoRA), and measure it on red-team and benign prompts."""

EPILOG = """training backends (train.backend in the config):
  auto          fast on one CUDA GPU for Llama/Qwen2/Qwen3/Mistral with the sigmoid loss, else trl
  fast          the project's packed DPO step for one GPU (shared prompt, flex attention, chunked log-probs)
  trl           TRL DPOTrainer + PEFT: every TRL loss, CPU or GPU, multi-GPU through accelerate
  prefix_cache  LoRA on the top layers, frozen layers cached once: DPO in minutes on a CPU (the quickstart)
  unsloth       Unsloth's patched model under TRL (GPU only, optional install)

the original commands:
  bash scripts/run_train.sh             train; adapter in output/dpo_lora (CONFIG defaults: see train --help)
  bash scripts/run_eval.sh              base and tuned from output/dpo_lora -> output/evaluation_results.json
  python scripts/compare_safety.py      side by side -> output/compare_results.json

Every command has --help. Flags are kebab-case (--max-new-tokens); snake_case spellings (--max_new_tokens) work too."""


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser: global options and the list of stages (each stage parses its own arguments)."""
    parser = argparse.ArgumentParser(prog="safetyalign", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"safetyalign {__version__}")
    parser.add_argument("--log-level", "--log_level", dest="log_level", default=None,
                        help="DEBUG, INFO or WARNING (default INFO)")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
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


def describe_error(exc: BaseException) -> str:
    """One line for an error raised outside the project (file system, decoding, unpickling, loading):
    ``<path>: <reason>`` when the error names a file, else the first line of its message."""
    import pickle

    if isinstance(exc, OSError) and (exc.filename or exc.strerror):
        where = f"{exc.filename}: " if exc.filename else ""
        target = f" (-> {exc.filename2})" if exc.filename2 else ""
        return f"{where}{exc.strerror or type(exc).__name__}{target}"
    if isinstance(exc, UnicodeDecodeError):
        return f"cannot decode text as {exc.encoding} (byte {exc.object[exc.start:exc.start + 1]!r} at offset " \
               f"{exc.start}: {exc.reason})"
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    if isinstance(exc, pickle.UnpicklingError):
        return f"refused to load a pickle file ({first[:160]}); only safetensors weights are loaded"
    return f"{type(exc).__name__}: {first[:300]}"


OUTSIDE_ERRORS: tuple[type[BaseException], ...] = (OSError, UnicodeError, EOFError)


def main(argv: list[str] | None = None) -> int:
    """Entry point; errors from the project, and OS / decoding / unpickling errors, are one line on stderr with
    exit status 2 (``--debug`` shows the traceback instead).

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
    args = parser.parse_intermixed_args(kebab_flags(parser, argv[at + 1:]))
    args.command, args.log_level = argv[at], top.log_level
    from safetyalign.logs import setup_logging

    setup_logging(args.log_level)
    import pickle

    try:
        return int(importlib.import_module(module).main(args) or 0)
    except SafetyAlignError as exc:
        if top.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (*OUTSIDE_ERRORS, pickle.UnpicklingError) as exc:
        if top.debug:
            raise
        print(f"error: {describe_error(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: partial outputs are kept; rerun with --resume where supported", file=sys.stderr)
        return 130


def kebab_flags(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """Accept the snake_case spelling of every kebab-case flag (``--run_dir`` for ``--run-dir``)."""
    known = parser._option_string_actions  # noqa: SLF001 - argparse keeps no public list of option strings
    out = []
    for arg in argv:
        flag, eq, value = arg.partition("=")
        if flag.startswith("--") and "_" in flag and flag not in known and flag.replace("_", "-") in known:
            arg = flag.replace("_", "-") + eq + value
        out.append(arg)
    return out


def add_config_arguments(parser: argparse.ArgumentParser, required: bool = True, default_help: str = "") -> None:
    """Shared ``CONFIG [key=value ...]`` positional arguments (the overrides are never required)."""
    default = f" (default: {default_help})" if default_help else ""
    parser.add_argument("config", nargs=None if required else "?", default=None,
                        help=f"experiment YAML, e.g. configs/quickstart.yaml{default}")
    parser.add_argument("overrides", nargs="*", default=[],
                        help="dotted overrides, e.g. train.max_steps=10 eval.generation.max_new_tokens=64")


if __name__ == "__main__":
    raise SystemExit(main())
