"""``safetyalign eval [CONFIG] [overrides] [--adapter DIR] [--run-dir DIR] [--base-only]``.

Without CONFIG (``bash scripts/run_eval.sh``) it evaluates the last training run: the config stored with the
adapter at ``output/dpo_lora``, base and tuned (:mod:`safetyalign.recipes`). Generates on the configured suites
with the base model (and base + adapter when an adapter is given, from one copy of the base weights), judges every
response and writes ``<run>/eval/evaluation_results.json`` plus a copy at ``eval.output``. Rerunning with the same
``--run-dir`` reuses generations already written (resume).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

HEADLINE = ["harmful/refusal_rate", "harmful/attack_success_rate", "benign/over_refusal_rate",
            "benign/compliance_rate"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``safetyalign eval`` (cheap: no heavy imports)."""
    from safetyalign.cli import add_config_arguments

    add_config_arguments(parser, required=False, default_help="the last training run (output/dpo_lora/config.yaml)")
    parser.add_argument("--adapter", type=Path, default=None, help="LoRA adapter folder: evaluate base and tuned "
                        "(default without CONFIG: output/dpo_lora when it exists)")
    parser.add_argument("--run-dir", type=Path, default=None, help="run folder (default: a new one under "
                        "run.output_root, or run.run_dir); reusing one resumes cached generations")
    parser.add_argument("--base-only", action="store_true", help="evaluate only the base model")


def fmt_metric(m: dict[str, Any] | None) -> str:
    """``12.5% [5.0-25.1] (5/40)``."""
    if not m:
        return "-"
    lo, hi = m["ci95"]
    return f"{100 * m['value']:.1f}% [{100 * lo:.1f}-{100 * hi:.1f}] ({m['k']}/{m['n']})"


def summary_table(summary: dict[str, dict[str, Any]], title: str = "Safety metrics (95% Wilson CI)") -> Any:
    """A rich table: headline metrics and per-language breakdowns, one column per model."""
    from rich.table import Table

    models = [m for m in ("base", "tuned") if m in summary]
    table = Table(title=title)
    table.add_column("metric", no_wrap=True)
    for m in models:
        table.add_column(m, justify="right", no_wrap=True)
    keys = [k for k in HEADLINE] + sorted({k for s in summary.values() for k in s if "/lang=" in k})
    for key in keys:
        if any(key in summary[m] for m in models):
            table.add_row(key, *[fmt_metric(summary[m].get(key)) for m in models])
    return table


def resolve_run_dir(cfg: Any, run_dir: Path | None, adapter: Path | None) -> Path:
    """``--run-dir``, else ``run.run_dir``, else the run folder that holds ``--adapter``, else a new one."""
    from safetyalign.runs import new_run_dir

    if run_dir:
        return run_dir
    if cfg.run.run_dir:
        return Path(cfg.run.run_dir)
    if adapter and adapter.name == "adapter" and (adapter.parent / "config.yaml").is_file():
        return adapter.parent
    return new_run_dir(cfg.run.output_root, cfg.run.name)


def main(args: argparse.Namespace) -> int:
    """Run the evaluation and print the summary table."""
    from rich.console import Console

    from safetyalign.config import dump_config, load_config
    from safetyalign.eval.evaluate import evaluate
    from safetyalign.recipes import eval_target
    from safetyalign.runs import write_provenance

    config, overrides, adapter = eval_target(args.config, args.overrides, args.adapter, args.base_only)
    cfg = load_config(config, overrides)
    run_dir = resolve_run_dir(cfg, args.run_dir, adapter)
    run_dir.mkdir(parents=True, exist_ok=True)
    if not (run_dir / "config.yaml").is_file():
        write_provenance(run_dir, dump_config(cfg))
    results = evaluate(cfg, run_dir, adapter_dir=None if args.base_only else adapter,
                       base_only=args.base_only, keep_records=False)
    console = Console(width=max(Console().width, 120))
    console.print(summary_table(results["summary"]))
    console.print(f"wrote {run_dir / 'eval' / 'evaluation_results.json'}"
                  + (f" and {cfg.eval.output}" if cfg.eval.output else ""))
    return 0
