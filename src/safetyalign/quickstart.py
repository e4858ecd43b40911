"""``safetyalign quickstart``: the whole pipeline on the embedded SmolLM2-135M-Instruct model, on a laptop CPU.

data → analysis plots → on-policy answers → DPO+LoRA → evaluation of base and tuned (same process, one copy
of the weights) → comparison → report, with a timing per stage in ``timings.json`` and a closing summary.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from safetyalign.logs import get_logger

log = get_logger(__name__)
DEFAULT_CONFIG = "configs/quickstart.yaml"
HEADLINE = ["harmful/refusal_rate", "harmful/attack_success_rate", "benign/over_refusal_rate"]
# Leave-source-out first: suites from datasets that contributed no training prompt, then the in-distribution ones.
SPLITS = ["unseen/", "in_distribution/"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``safetyalign quickstart``."""
    parser.add_argument("config", nargs="?", default=DEFAULT_CONFIG,
                        help=f"experiment YAML (default {DEFAULT_CONFIG})")
    parser.add_argument("overrides", nargs="*", help="dotted overrides, e.g. train.max_steps=10 eval.max_per_suite=8")
    parser.add_argument("--run-dir", type=Path, default=None, help="run folder (default: a new one under output/runs)")
    parser.add_argument("--no-report", action="store_true", help="skip report.html / report.md")
    parser.add_argument("--overwrite", action="store_true", help="clear a --run-dir that already holds a training "
                        "run (without it, such a folder is refused)")


def _setup(cfg: Any, run_dir: Path | None, overwrite: bool = False) -> Path:
    from safetyalign.config import dump_config
    from safetyalign.logs import setup_logging
    from safetyalign.runs import claim_run_dir, new_run_dir, write_provenance

    run_dir = claim_run_dir(Path(run_dir), resume=False, overwrite=overwrite) if run_dir \
        else new_run_dir(cfg.run.output_root, cfg.run.name)
    cfg.run.run_dir = str(run_dir)
    setup_logging(log_files=[run_dir / "run.log", Path(cfg.run.logs_dir) / f"{run_dir.name}.log"])
    write_provenance(run_dir, dump_config(cfg))
    return run_dir


def run_quickstart(cfg: Any, run_dir: Path | None = None, report: bool = True,
                   overwrite: bool = False) -> dict[str, Any]:
    """Run every stage; returns ``{"run_dir", "results", "compare", "timings"}``. A ``run_dir`` that already holds
    a training run is refused unless ``overwrite`` (then cleared first)."""
    from safetyalign.eval.compare import compare_from_results
    from safetyalign.eval.evaluate import evaluate
    from safetyalign.io import read_json, write_json
    from safetyalign.models.loading import load_model, load_tokenizer
    from safetyalign.runs import Timings, cpu_matmul_gflops
    from safetyalign.train.prepare import prepare_data
    from safetyalign.train.trainer import train

    start = time.perf_counter()
    run_dir = _setup(cfg, run_dir, overwrite)
    timings = Timings(run_dir / "timings.json")
    timings.data["cpu_matmul_gflops"] = {"start": cpu_matmul_gflops()}
    with timings.stage("load_model"):
        tokenizer = load_tokenizer(cfg.model)
        model = load_model(cfg.model, for_training=True)
    with timings.stage("data"):
        bundle = prepare_data(cfg, run_dir, model, tokenizer).bundle
    with timings.stage("train"):
        result = train(cfg, run_dir, bundle.train, bundle.eval, model=model, tokenizer=tokenizer)
    results = evaluate(cfg, run_dir, model=result.model, tokenizer=tokenizer, adapter_dir=result.adapter_dir)
    with timings.stage("compare"):
        samples = read_json(run_dir / "data" / "samples.json") if (run_dir / "data" / "samples.json").is_file() \
            else []
        comp = compare_from_results(results, samples)
        write_json(run_dir / "eval" / "compare_results.json", comp)
        write_json(Path(cfg.run.output_root).parent / "compare_results.json", comp)
    if report:
        from safetyalign.report import write_report

        with timings.stage("report"):
            write_report(run_dir)
    timings.data["cpu_matmul_gflops"]["end"] = cpu_matmul_gflops()
    timings.data["wall_s"] = round(time.perf_counter() - start, 1)
    write_json(run_dir / "timings.json", timings.data)
    return {"run_dir": run_dir, "results": results, "compare": comp, "timings": timings.data}


def _cell(m: dict[str, Any] | None) -> str:
    if not m:
        return "-"
    if "k" not in m:  # a mean (capability): value with its 95% interval
        return f"{m['value']:.4f} [{m['ci95'][0]:.4f}, {m['ci95'][1]:.4f}] (n={m['n']})"
    return f"{m['value']:.1%} [{m['ci95'][0]:.0%}, {m['ci95'][1]:.0%}] ({m['k']}/{m['n']})"


def headline_rows(summary: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(metric, base, tuned) rows: unseen sources per language first, then in-distribution, then capability;
    without leave-source-out labels (older results) the overall metrics, overall and per language."""
    has_split = any(k.startswith(SPLITS[0]) for k in summary.get("tuned", summary.get("base", {})))
    metrics = [f"{split}{m}{lang}" for split in SPLITS for m in HEADLINE for lang in ("/lang=en", "/lang=zh")] \
        if has_split else HEADLINE + [f"{m}/lang={lang}" for m in HEADLINE for lang in ("en", "zh")]
    if has_split:
        metrics += ["unseen/benign/compliance_rate", "capability/mean_loglik", "capability/delta_loglik"]
    rows = []
    for key in metrics:
        cells = [_cell(summary.get(model, {}).get(key)) for model in ("base", "tuned")]
        if cells != ["-", "-"]:
            rows.append((key, *cells))
    return rows


def print_summary(out: dict[str, Any]) -> None:
    """The closing table: base vs tuned headline metrics, timings and where the files are."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 120))  # metric names stay whole in a narrow terminal
    judge = out["results"].get("judge", {})
    harm = f", harm: {judge['harm']}" if judge.get("harm") else ""
    table = Table(title=f"SafetyAlign quickstart: base vs tuned (judge: {judge.get('primary')}{harm}, 95% Wilson CI)")
    table.add_column("metric", no_wrap=True)
    for col in ("base", "tuned"):
        table.add_column(col)
    for row in headline_rows(out["results"].get("summary", {})):
        table.add_row(*row)
    console.print(table)
    stages = out["timings"].get("stages", {})
    probe = out["timings"].get("cpu_matmul_gflops", {})
    speed = f"; CPU matmul {probe['start']:.0f}→{probe['end']:.0f} GFLOP/s" if "end" in probe else ""
    console.print("timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in stages.items())
                  + f"; wall {out['timings'].get('wall_s', 0):.0f}{speed}")
    run_dir = out["run_dir"]
    for name in ["report.html", "eval/evaluation_results.json", "eval/compare_results.json", "adapter",
                 "plots", "metrics.jsonl"]:
        if (run_dir / name).exists():
            console.print(f"  {run_dir / name}")


def main(args: argparse.Namespace) -> int:
    """CLI entry point."""
    from safetyalign.config import load_config

    config, overrides = args.config, list(args.overrides)
    if "=" in config and not Path(config).is_file():  # `safetyalign quickstart train.max_steps=10`
        config, overrides = DEFAULT_CONFIG, [config, *overrides]
    cfg = load_config(config, overrides)
    out = run_quickstart(cfg, args.run_dir, report=not args.no_report, overwrite=args.overwrite)
    print_summary(out)
    return 0
