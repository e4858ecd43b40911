"""``safetyalign train [CONFIG] [overrides] [--resume] [--run-dir DIR] [--use-reference-model] [--num-processes N]``.

Without CONFIG it trains ``$SAFETYALIGN_CONFIG``, else the reference recipe with a CUDA GPU, else the CPU recipe
(:mod:`safetyalign.recipes`). Builds the data stage's dataset into the run folder (generating the base model's own
answers where a source needs them, and writing the data plots), or, on ``--resume``, re-reads
``<run>/data/train.jsonl`` so the pairs are exactly those of the interrupted run; then trains with
:func:`safetyalign.train.trainer.train`. With ``--num-processes N`` (or ``--accelerate-config``) it re-launches itself
through ``accelerate launch`` (:mod:`safetyalign.train.launch`). Under a launcher the main process picks the run
folder and builds the data; every process then reads the same ``<run>/data/train.jsonl``; only the main process
writes run-folder files.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from safetyalign.cli import add_config_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``safetyalign train``."""
    add_config_arguments(parser, required=False, default_help="$SAFETYALIGN_CONFIG, else "
                         "configs/train/qwen2.5-7b_lora_dpo.yaml with a CUDA GPU, else configs/quickstart.yaml")
    parser.add_argument("--run-dir", default=None, help="run folder (default: run.run_dir, or on --resume the newest "
                        "<run.output_root>/<run.name>-* folder with checkpoints, else a new folder)")
    parser.add_argument("--resume", action="store_true", help="continue from the last complete checkpoint (the "
                        "config must match the saved one, except train.max_steps and a few other fields)")
    parser.add_argument("--overwrite", action="store_true", help="clear a run folder that already holds a training "
                        "run and start it clean (without it, such a folder is refused)")
    parser.add_argument("--use-reference-model", "--use_reference_model", action="store_true",
                        help="load an explicit frozen reference model (default: the adapter-disabled base)")
    from safetyalign.train.launch import add_arguments as add_launch_arguments

    add_launch_arguments(parser)


def _pick_run_dir(cfg: Any, args: argparse.Namespace) -> Path:
    """The run folder: chosen (and created) by the main process, then the same path on every process."""
    from safetyalign.train.distributed import broadcast, is_main_process

    run_dir = _choose_run_dir(cfg, args) if is_main_process() else None
    run_dir = Path(broadcast(str(run_dir) if run_dir is not None else None))
    if is_main_process():
        run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def _choose_run_dir(cfg: Any, args: argparse.Namespace) -> Path:
    """The run folder, checked: an explicit folder that holds a training run needs --resume or --overwrite; on
    --resume the saved config must match (see :func:`safetyalign.runs.check_resume_config`)."""
    from safetyalign.configlib import to_dict
    from safetyalign.runs import check_resume_config, claim_run_dir

    run_dir = _find_run_dir(cfg, args)
    if args.resume:
        check_resume_config(run_dir, to_dict(cfg))
    return claim_run_dir(run_dir, args.resume, getattr(args, "overwrite", False))


def _find_run_dir(cfg: Any, args: argparse.Namespace) -> Path:
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


def _rows(cfg: Any, run_dir: Path, resume: bool) -> tuple[list[dict], list[dict], Any]:
    """Training/eval rows (and the model/tokenizer when on-policy answers needed them): the run's saved data on
    resume, else freshly built by the data stage (main process); under a launcher every process then reads the
    files the main process wrote, so all hold the same pairs."""
    from safetyalign.data import load_bundle
    from safetyalign.logs import get_logger
    from safetyalign.train.distributed import barrier, is_distributed, is_main_process
    from safetyalign.train.prepare import PreparedData, prepare_data

    prepared = PreparedData(bundle=None)
    if is_main_process():
        if resume and (run_dir / "data" / "train.jsonl").is_file():
            prepared.bundle = load_bundle(run_dir)
            get_logger(__name__).info("resume: reusing %s", run_dir / "data" / "train.jsonl")
        else:
            prepared = prepare_data(cfg, run_dir, allow_generation=not is_distributed())
    if is_distributed():
        barrier()
        prepared = PreparedData(bundle=load_bundle(run_dir))
    return prepared.bundle.train, prepared.bundle.eval, prepared


def _setup_logging(cfg: Any, args: argparse.Namespace, run_dir: Path) -> Any:
    """Log files (run.log, logs/<run>.log) from the main process only; other processes log warnings only."""
    from safetyalign.logs import get_logger, setup_logging
    from safetyalign.train.distributed import is_main_process

    if is_main_process():
        setup_logging(getattr(args, "log_level", None),
                      [run_dir / "run.log", Path(cfg.run.logs_dir) / f"{run_dir.name}.log"])
    else:
        setup_logging("WARNING")
    return get_logger(__name__)


def main(args: argparse.Namespace) -> int:
    """Resolve the config and run folder, build the data, train, print where things went."""
    from contextlib import nullcontext

    from safetyalign.config import dump_config, load_config
    from safetyalign.recipes import config_and_overrides
    from safetyalign.runs import Timings, write_provenance
    from safetyalign.train import distributed, launch

    config, overrides = config_and_overrides(args.config, args.overrides)
    args.config, args.overrides = str(config), list(overrides)  # what launched processes are given
    cfg = load_config(config, overrides)
    if args.use_reference_model:  # the flag sets the typed field; under a launcher it is passed on as the flag
        cfg.train.use_reference_model = True
    if launch.wants_launch(args):
        distributed.check_backend(cfg.train.backend, args.num_processes or 2)
        return launch.relaunch(args, _choose_run_dir(cfg, args))
    if cfg.train.backend == "unsloth":  # unsloth must be imported before trl / transformers
        from safetyalign.engines.unsloth import import_unsloth

        import_unsloth()
    from safetyalign.models.loading import pick_device

    distributed.setup(cpu=not pick_device(cfg.model.device).startswith("cuda"))
    run_dir = _pick_run_dir(cfg, args)
    log = _setup_logging(cfg, args, run_dir)
    main_process = distributed.is_main_process()
    log.info("run folder: %s%s", run_dir, " (resume)" if args.resume else "")
    cfg.run.run_dir = str(run_dir)  # stored with the adapter: eval/compare find the run from output/dpo_lora
    if main_process:
        write_provenance(run_dir, dump_config(cfg), command=launch.launched_command())
    timings = Timings(run_dir / "timings.json") if main_process else None
    if main_process:
        _preflight(run_dir)
    with timings.stage("data") if timings else nullcontext():
        train_rows, eval_rows, prepared = _rows(cfg, run_dir, args.resume)
    from safetyalign.train.trainer import train

    with timings.stage("train") if timings else nullcontext():
        result = train(cfg, run_dir, train_rows, eval_rows or None, resume=args.resume, model=prepared.model,
                       tokenizer=prepared.tokenizer if prepared.model is not None else None)
    _log_result(log, cfg, result)
    return 0


def _preflight(run_dir: Path) -> None:
    """``safetyalign doctor``'s checks, as warnings (they never stop training)."""
    from safetyalign.logs import get_logger

    try:
        from safetyalign.doctor import run_checks

        for check in run_checks(run_dir):
            if not check.ok:
                get_logger(__name__).warning("preflight: %s: %s. %s", check.name, check.detail, check.advice)
    except Exception as exc:  # preflight must never stop training
        get_logger(__name__).warning("preflight checks failed to run: %s", exc)


def _log_result(log: Any, cfg: Any, result: Any) -> None:
    m = result.metrics
    log.info("adapter: %s (copy: %s); metrics: %s; plots: %s", result.adapter_dir, cfg.train.output_dir,
             result.metrics_path, ", ".join(str(p) for p in result.plots) or "none")
    if "train/loss/first" in m:
        log.info("loss %.4f -> %.4f, margin %.4f -> %.4f, accuracy %.2f -> %.2f over %d steps (%.1f s)",
                 m["train/loss/first"], m["train/loss/last"], m.get("train/rewards/margins/first", 0.0),
                 m.get("train/rewards/margins/last", 0.0), m.get("train/rewards/accuracies/first", 0.0),
                 m.get("train/rewards/accuracies/last", 0.0), result.steps, result.seconds)
