"""``safetyalign train CONFIG [overrides] [--resume] [--run-dir DIR] [--use_reference_model]``.

Builds the data stage's dataset into the run folder (or, on ``--resume``, re-reads ``<run>/data/train.jsonl`` so
the pairs are exactly those of the interrupted run), then trains with :func:`safetyalign.train.trainer.train`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from safetyalign.cli import add_config_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``safetyalign train``."""
    add_config_arguments(parser)
    parser.add_argument("--run-dir", default=None, help="run folder (default: run.run_dir, or on --resume the newest "
                        "<run.output_root>/<run.name>-* folder with checkpoints, else a new folder)")
    parser.add_argument("--resume", action="store_true", help="continue from the last complete checkpoint")
    parser.add_argument("--use_reference_model", "--use-reference-model", action="store_true",
                        help="load an explicit frozen reference model (default: the adapter-disabled base)")


def _pick_run_dir(cfg: Any, args: argparse.Namespace) -> Path:
    from safetyalign.errors import ConfigError
    from safetyalign.runs import new_run_dir

    explicit = args.run_dir or cfg.run.run_dir
    if explicit:
        return Path(explicit)
    if args.resume:
        candidates = [p for p in Path(cfg.run.output_root).glob(f"{cfg.run.name}-*") if (p / "checkpoints").is_dir()]
        if not candidates:
            raise ConfigError(f"--resume: no run folder '{cfg.run.name}-*' with checkpoints under "
                              f"{cfg.run.output_root}; pass --run-dir")
        return max(candidates, key=lambda p: p.stat().st_mtime)
    return new_run_dir(cfg.run.output_root, cfg.run.name)


def _rows(cfg: Any, run_dir: Path, resume: bool) -> tuple[list[dict], list[dict]]:
    """Training/eval rows: the run's saved data on resume, else freshly built by the data stage."""
    from safetyalign.errors import DataError
    from safetyalign.logs import get_logger

    if resume and (run_dir / "data" / "train.jsonl").is_file():
        from safetyalign.data import load_bundle

        bundle = load_bundle(run_dir)
        get_logger(__name__).info("resume: reusing %s", run_dir / "data" / "train.jsonl")
    else:
        from safetyalign.data import build_dataset

        bundle = build_dataset(cfg, run_dir, None)
    if bundle.needs_generation:
        raise DataError("some data sources need on-policy rejected answers (refusal_pairs without a rejected "
                        "column); run the quickstart, or fill them with safetyalign.data.fill_rejected first")
    return bundle.train, bundle.eval


def main(args: argparse.Namespace) -> int:
    """Resolve the config and run folder, build the data, train, print where things went."""
    from safetyalign.config import dump_config, load_config
    from safetyalign.logs import get_logger, setup_logging
    from safetyalign.runs import Timings, write_provenance

    overrides = list(args.overrides)
    if args.use_reference_model:
        overrides.append("train.use_reference_model=true")
    cfg = load_config(args.config, overrides)
    if cfg.train.backend == "unsloth":  # unsloth must be imported before trl / transformers
        from safetyalign.train.backend import import_unsloth

        import_unsloth()
    run_dir = _pick_run_dir(cfg, args)
    run_dir.mkdir(parents=True, exist_ok=True)
    setup_logging(getattr(args, "log_level", None),
                  [run_dir / "run.log", Path(cfg.run.logs_dir) / f"{run_dir.name}.log"])
    log = get_logger(__name__)
    log.info("run folder: %s%s", run_dir, " (resume)" if args.resume else "")
    write_provenance(run_dir, dump_config(cfg))
    timings = Timings(run_dir / "timings.json")
    with timings.stage("data"):
        train_rows, eval_rows = _rows(cfg, run_dir, args.resume)
    from safetyalign.train.trainer import train

    with timings.stage("train"):
        result = train(cfg, run_dir, train_rows, eval_rows or None, resume=args.resume)
    m = result.metrics
    log.info("adapter: %s (copy: %s); metrics: %s; plots: %s", result.adapter_dir, cfg.train.output_dir,
             result.metrics_path, ", ".join(str(p) for p in result.plots) or "none")
    if "train/loss/first" in m:
        log.info("loss %.4f -> %.4f, margin %.4f -> %.4f, accuracy %.2f -> %.2f over %d steps (%.1f s)",
                 m["train/loss/first"], m["train/loss/last"], m.get("train/rewards/margins/first", 0.0),
                 m.get("train/rewards/margins/last", 0.0), m.get("train/rewards/accuracies/first", 0.0),
                 m.get("train/rewards/accuracies/last", 0.0), result.steps, result.seconds)
    return 0
