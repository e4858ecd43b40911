"""``safetyalign compare [CONFIG] [--adapter DIR] [--do-sample --temperature T --top-p P --max-new-tokens N]``.

Without CONFIG (``python scripts/compare_safety.py``) it compares the last training run: the config stored with
the adapter at ``output/dpo_lora`` and that adapter (:mod:`safetyalign.recipes`). Shows dataset samples, runs base
and tuned on the same prompts (or reuses ``<run>/eval/evaluation_results.json`` when it holds both models generated
with the same settings), writes ``compare_results.json`` to the run folder and to ``output/compare_results.json``,
and prints metrics and transition tables.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

LEGACY_OUTPUT = Path("output/compare_results.json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``safetyalign compare``."""
    from safetyalign.cli import add_config_arguments

    add_config_arguments(parser, required=False, default_help="the last training run (output/dpo_lora/config.yaml)")
    parser.add_argument("--adapter", type=Path, default=None,
                        help="LoRA adapter folder (default: output/dpo_lora without CONFIG, else <run>/adapter)")
    parser.add_argument("--run-dir", type=Path, default=None, help="run folder to read and write (default: the "
                        "config's run.run_dir, or the run folder that holds --adapter)")
    parser.add_argument("--do-sample", "--do_sample", dest="do_sample", action="store_true",
                        help="sample instead of greedy decoding (eval.generation.do_sample)")
    parser.add_argument("--temperature", type=float, default=None,
                        help="sampling temperature, e.g. 0.9 (eval.generation.temperature; used with --do-sample)")
    parser.add_argument("--top-p", "--top_p", dest="top_p", type=float, default=None,
                        help="nucleus sampling threshold (eval.generation.top_p; used with --do-sample)")
    parser.add_argument("--max-new-tokens", "--max_new_tokens", dest="max_new_tokens", type=int, default=None,
                        help="tokens generated per prompt, e.g. 256 (eval.generation.max_new_tokens)")
    parser.add_argument("--seed", type=int, default=None, help="sampling seed (eval.generation.seed)")
    parser.add_argument("--output", type=Path, default=LEGACY_OUTPUT,
                        help=f"where compare_results.json is also copied (default {LEGACY_OUTPUT})")
    parser.add_argument("--max-per-suite", "--max_per_suite", dest="max_per_suite", type=int, default=4,
                        help="prompts per suite when compare has to generate anew (default 4, like the original "
                        "script's handful of prompts; 0 = the config's eval.max_per_suite); reused results keep "
                        "theirs")
    parser.add_argument("--show", type=int, default=4, help="dataset samples and example records printed (default 4)")


def apply_generation_args(cfg: Any, args: argparse.Namespace) -> None:
    """Copy the decoding flags given on the command line into ``cfg.eval.generation``."""
    gen = cfg.eval.generation
    if args.do_sample:
        gen.do_sample = True
    for name in ("temperature", "top_p", "max_new_tokens", "seed"):
        if getattr(args, name) is not None:
            setattr(gen, name, getattr(args, name))


def limit_generation(cfg: Any, max_per_suite: int) -> None:
    """A fresh comparison generates at most ``max_per_suite`` prompts per suite (0 = the config's) and skips the
    capability pass: with ``--max-new-tokens 256`` every prompt costs minutes on a CPU."""
    from safetyalign.errors import ConfigError

    if max_per_suite < 0:
        raise ConfigError(f"--max-per-suite must be >= 0, got {max_per_suite}")
    if max_per_suite:
        current = cfg.eval.max_per_suite
        cfg.eval.max_per_suite = max_per_suite if current is None else min(current, max_per_suite)
    cfg.eval.capability.sources = []


def reusable(results_path: Path, cfg: Any) -> dict[str, Any] | None:
    """Existing results with base and tuned generated with the same decoding settings, else None."""
    if not results_path.is_file():
        return None
    try:
        results = json.loads(results_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    gen = results.get("generation") or {}
    same = all(gen.get(k) == v for k, v in vars(cfg.eval.generation).items() if k != "batch_size")
    return results if same and "tuned" in (results.get("summary") or {}) else None


def print_summary(comp: dict[str, Any], show: int) -> None:
    """Rich tables: dataset samples, base vs tuned metrics per language, transitions, a few examples."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from safetyalign.eval.cli import summary_table

    console = Console(width=max(Console().width, 120))
    shown = [s for s in comp["dataset_samples"] if s.get("safe_to_show")]
    if shown:
        t = Table(title="Dataset samples (training pairs, safe to show)")
        for col in ("prompt", "chosen", "rejected"):
            t.add_column(col, max_width=40, overflow="ellipsis")
        for s in shown[:show]:
            t.add_row(*[escape(str(s.get(c))[:200]) for c in ("prompt", "chosen", "rejected")])
        console.print(t)
    if len(shown) < len(comp["dataset_samples"]):
        console.print(f"{len(comp['dataset_samples']) - len(shown)} dataset samples hidden (not safe to show)")
    console.print(summary_table(comp["summary"], "Base vs tuned (95% Wilson CI)"))
    for group, trans in comp["transitions"].items():
        t = Table(title=f"Transitions on {group} prompts (base -> tuned)")
        t.add_column("transition")
        t.add_column("prompts", justify="right")
        for k, v in trans.items():
            t.add_row(k, str(v))
        console.print(t)
    t = Table(title="Examples (safe to show)")
    for col in ("prompt", "base", "tuned"):
        t.add_column(col, max_width=45, overflow="ellipsis")
    for rec in [r for r in comp["records"] if r["safe_to_show"]][:show]:
        t.add_row(escape(rec["prompt"][:150]), escape(f"[{rec['base_verdict']}] {(rec['base_response'] or '')[:150]}"),
                  escape(f"[{rec['tuned_verdict']}] {(rec['tuned_response'] or '')[:150]}"))
    console.print(t)


def main(args: argparse.Namespace) -> int:
    """Run (or reuse) base + tuned evaluation and write compare_results.json."""
    from safetyalign.config import load_config
    from safetyalign.errors import ConfigError
    from safetyalign.eval.cli import resolve_run_dir
    from safetyalign.eval.compare import compare_from_results
    from safetyalign.eval.evaluate import evaluate
    from safetyalign.io import read_json, write_json
    from safetyalign.recipes import eval_target

    config, overrides, adapter = eval_target(args.config, args.overrides, args.adapter)
    cfg = load_config(config, overrides)
    apply_generation_args(cfg, args)
    run_dir = resolve_run_dir(cfg, args.run_dir, adapter)
    adapter = adapter or (run_dir / "adapter" if (run_dir / "adapter" / "adapter_config.json").is_file() else None)
    if adapter is None:
        raise ConfigError("compare needs an adapter: train first (bash scripts/run_train.sh), or pass CONFIG "
                          "--adapter DIR")
    results = reusable(run_dir / "eval" / "evaluation_results.json", cfg)
    if results is None:
        work = run_dir / "eval" / "compare_work"
        cfg.eval.output = None
        limit_generation(cfg, args.max_per_suite)
        results = evaluate(cfg, work, adapter_dir=adapter)
    samples_path = run_dir / "data" / "samples.json"
    samples = read_json(samples_path) if samples_path.is_file() else []
    comp = compare_from_results(results, samples if isinstance(samples, list) else [])
    write_json(run_dir / "eval" / "compare_results.json", comp)
    if args.output:
        write_json(args.output, comp)
    print_summary(comp, args.show)
    print(f"wrote {run_dir / 'eval' / 'compare_results.json'}" + (f" and {args.output}" if args.output else ""))
    return 0
