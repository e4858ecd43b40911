"""``safetyalign data CONFIG [overrides] [--run-dir DIR] [--plots-dir plots]``: build, validate and analyse data.

Prints kept / skipped counts per source as a table, writes ``<run>/data/{data_summary.json, data_stats.json,
train.jsonl, eval.jsonl, samples.json}`` and the plots (``<run>/plots/*.png``, copied to ``--plots-dir``).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

from safetyalign.cli import add_config_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``safetyalign data``."""
    add_config_arguments(parser)
    parser.add_argument("--run-dir", default=None, help="run folder (default: run.run_dir or a new folder under "
                        "run.output_root)")
    parser.add_argument("--plots-dir", default=None, help="also copy the plots here (default: run.plots_dir)")
    parser.add_argument("--no-tokens", action="store_true", help="skip the tokenizer (character statistics only)")


def _tokenizer(cfg: Any, enabled: bool) -> Any:
    from safetyalign.errors import ModelLoadError
    from safetyalign.logs import get_logger
    from safetyalign.models.loading import load_tokenizer

    if not enabled:
        return None
    try:
        return load_tokenizer(cfg.model)
    except ModelLoadError as exc:
        get_logger(__name__).warning("token statistics skipped: %s", exc)
        return None


def print_summary(summary: dict[str, Any], stats: dict[str, Any] | None = None) -> None:
    """Rich table: read / kept / used / skipped-by-reason per source, plus totals."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Preference data", show_lines=False)
    for col in ("source", "kind", "read", "kept", "used", "skipped (by reason)"):
        table.add_column(col, justify="right" if col in ("read", "kept", "used") else "left", overflow="fold")
    for s in summary["sources"]:
        reasons = ", ".join(f"{k}={v}" for k, v in s["skipped"].items()) or "-"
        table.add_row(s["name"], s["kind"], str(s["read"]), str(s["kept"]), str(s.get("used", "")), reasons)
    tot = summary["total"]
    reasons = ", ".join(f"{k}={v}" for k, v in tot["skipped"].items()) or "-"
    table.add_row("[bold]total[/]", "", str(tot["read"]), str(tot["kept"]), str(tot.get("used", "")), reasons)
    console = Console()
    console.print(table)
    line = f"train {summary['train_rows']} / eval {summary['eval_rows']} pairs; languages {summary['by_lang']}"
    if summary.get("needs_generation"):
        line += f"; {summary['needs_generation_rows']} rows need on-policy answers"
    console.print(line)
    if stats and stats.get("length_bias"):
        unit = "tokens" if "tokens" in stats["length_bias"] else "chars"
        bias = stats["length_bias"][unit]
        if bias.get("count"):
            console.print(f"length bias ({unit}): chosen - rejected mean {bias['mean_diff']:+}, chosen longer in "
                          f"{bias['frac_chosen_longer']:.0%} of pairs")
    trunc = (stats or {}).get("truncation") or {}
    if "pairs_over_max_length" in trunc:
        console.print(f"chat-rendered: {trunc.get('prompts_over_max_prompt_length', 0)} prompts over "
                      f"max_prompt_length={trunc.get('max_prompt_length')}, {trunc['pairs_over_max_length']} pairs "
                      f"over max_length={trunc.get('max_length')} (TRL truncates them)")


def main(args: argparse.Namespace) -> int:
    """Build the dataset, write it to the run folder, analyse it and print the counts."""
    from safetyalign.config import dump_config, load_config
    from safetyalign.data.build import build_dataset
    from safetyalign.data.stats import analyse
    from safetyalign.logs import get_logger, setup_logging
    from safetyalign.runs import Timings, new_run_dir, write_provenance

    cfg = load_config(args.config, args.overrides)
    run_dir = Path(args.run_dir or cfg.run.run_dir or new_run_dir(cfg.run.output_root, cfg.run.name))
    run_dir.mkdir(parents=True, exist_ok=True)
    log_files = [run_dir / "run.log", Path(cfg.run.logs_dir) / f"{run_dir.name}.log"]
    setup_logging(getattr(args, "log_level", None), log_files)
    write_provenance(run_dir, dump_config(cfg))
    with Timings(run_dir / "timings.json").stage("data"):
        bundle = build_dataset(cfg, run_dir)
        stats = analyse(bundle, _tokenizer(cfg, not args.no_tokens), run_dir / "data", run_dir / "plots",
                        model_cfg=cfg.model)
    plots_dir = Path(args.plots_dir or cfg.run.plots_dir)
    if plots_dir.resolve() != (run_dir / "plots").resolve():
        plots_dir.mkdir(parents=True, exist_ok=True)
        for p in stats.get("plots", []):
            shutil.copy2(p, plots_dir / Path(p).name)
    print_summary(bundle.summary, stats)
    if not bundle.train and not bundle.eval:
        from safetyalign.errors import DataError

        total = bundle.summary["total"]
        raise DataError(f"no usable pairs: {total['read']} rows read, all skipped "
                        f"({', '.join(f'{k}={v}' for k, v in total['skipped'].items()) or 'no rows'}); "
                        f"see {run_dir / 'data' / 'data_summary.json'}")
    get_logger(__name__).info("data files in %s; plots in %s and %s", run_dir / "data", run_dir / "plots", plots_dir)
    return 0
