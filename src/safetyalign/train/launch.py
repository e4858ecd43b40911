"""``safetyalign train CONFIG --num_processes N [--accelerate_config PATH]``: re-launch under ``accelerate launch``.

The launching process resolves the config and the run folder once (a new ``<output_root>/<name>-<time>`` folder,
or on ``--resume`` the newest one with checkpoints) and starts N copies of ``python -m safetyalign train`` through
``python -m accelerate.commands.launch`` with ``--run-dir`` set, so every process writes to the same folder.
Default accelerate configs (``configs/accelerate/``): ``ddp.yaml`` when a CUDA GPU is visible, else
``cpu_gloo.yaml`` (N CPU processes over gloo). The port is picked free (``--main_process_port 0``) unless given.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from safetyalign.errors import ConfigError
from safetyalign.logs import get_logger

log = get_logger(__name__)
CONFIGS = ("ddp.yaml", "fsdp.yaml", "zero2.yaml", "zero3.yaml", "cpu_gloo.yaml")
LAUNCHER_ENV = ("LOCAL_RANK", "TORCHELASTIC_RUN_ID")  # set in every process torchrun / accelerate starts
ARGV_ENV = "SAFETYALIGN_LAUNCH_ARGV"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--num-processes``, ``--accelerate-config``, ``--main-process-port`` of ``safetyalign train``."""
    parser.add_argument("--num-processes", "--num_processes", type=int, default=None, metavar="N",
                        help="train with N processes (GPUs, or CPU processes over gloo without a GPU) by "
                        "re-launching through accelerate launch; 1 = this process")
    parser.add_argument("--accelerate-config", "--accelerate_config", default=None, metavar="PATH",
                        help="accelerate config file: configs/accelerate/{ddp,fsdp,zero2,zero3,cpu_gloo}.yaml or "
                        "your own (default: ddp.yaml with a GPU, cpu_gloo.yaml without)")
    parser.add_argument("--main-process-port", "--main_process_port", type=int, default=0, metavar="PORT",
                        help="rendezvous port of the launched processes (0 = a free port)")


def inside_launch() -> bool:
    """True in a process started by torchrun / accelerate launch (it must not launch again)."""
    return any(name in os.environ for name in LAUNCHER_ENV)


def wants_launch(args: argparse.Namespace) -> bool:
    """Re-launch when asked for more than one process, or for an accelerate config, and not launched already."""
    asked = (args.num_processes or 1) > 1 or bool(args.accelerate_config)
    if asked and inside_launch():
        log.warning("--num-processes / --accelerate-config ignored: already running under a launcher")
        return False
    if args.num_processes is not None and args.num_processes < 1:
        raise ConfigError(f"--num-processes must be >= 1, got {args.num_processes}")
    return asked


def accelerate_configs_dir() -> Path:
    """``configs/accelerate`` of the checkout (or of the working directory for an installed package)."""
    from safetyalign.paths import project_root

    for base in (project_root(), Path.cwd()):
        if (base / "configs" / "accelerate").is_dir():
            return base / "configs" / "accelerate"
    raise ConfigError("configs/accelerate not found: pass --accelerate_config PATH")


def default_config(cuda: bool | None = None) -> Path:
    """``ddp.yaml`` when a CUDA GPU is visible, else ``cpu_gloo.yaml``."""
    if cuda is None:
        import torch

        cuda = torch.cuda.is_available()
    return accelerate_configs_dir() / ("ddp.yaml" if cuda else "cpu_gloo.yaml")


def resolve_config(path: str | None) -> Path:
    """The accelerate config to use; a bare shipped name (``fsdp`` or ``fsdp.yaml``) means configs/accelerate/."""
    if not path:
        return default_config()
    cand = Path(path)
    if not cand.is_file() and f"{cand.stem}.yaml" in CONFIGS and cand.parent == Path("."):
        cand = accelerate_configs_dir() / f"{cand.stem}.yaml"
    if not cand.is_file():
        raise ConfigError(f"--accelerate_config: {path} not found (shipped: {', '.join(CONFIGS)})")
    return cand


def child_arguments(args: argparse.Namespace, run_dir: Path) -> list[str]:
    """``safetyalign train`` arguments for each launched process (same config, overrides and flags)."""
    out = [args.config, *args.overrides, "--run-dir", str(run_dir)]
    if args.resume:
        out.append("--resume")  # the folder was claimed (and, with --overwrite, cleared) by the launcher
    if args.use_reference_model:
        out.append("--use_reference_model")
    return out


def launch_command(args: argparse.Namespace, run_dir: Path, config: Path) -> list[str]:
    """The full ``python -m accelerate.commands.launch ... -m safetyalign train ...`` command line."""
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config),
           "--main_process_port", str(args.main_process_port)]
    if args.num_processes:
        cmd += ["--num_processes", str(args.num_processes)]
    top = ["--log-level", args.log_level] if getattr(args, "log_level", None) else []
    return [*cmd, "-m", "safetyalign", *top, "train", *child_arguments(args, run_dir)]


def relaunch(args: argparse.Namespace, run_dir: Path) -> int:
    """Run ``accelerate launch`` for ``safetyalign train`` in ``run_dir``; returns its exit status."""
    config = resolve_config(args.accelerate_config)
    cmd = launch_command(args, run_dir, config)
    env = _child_env()
    log.info("launching %s process(es) with %s into %s", args.num_processes or "config's", config, run_dir)
    log.debug("command: %s", " ".join(cmd))
    try:
        return subprocess.run(cmd, env=env, check=False).returncode
    except KeyboardInterrupt:
        log.warning("interrupted: resume with `safetyalign train %s --num_processes %s --resume --run-dir %s`",
                    args.config, args.num_processes or "N", run_dir)
        return 130


def _child_env() -> dict[str, Any]:
    """The environment of the launched processes: ours, with the package importable from a source checkout."""
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2])
    paths = env.get("PYTHONPATH", "").split(os.pathsep) if env.get("PYTHONPATH") else []
    if src not in paths:
        env["PYTHONPATH"] = os.pathsep.join([src, *paths])
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env[ARGV_ENV] = json.dumps(sys.argv)  # meta.json records the command the user typed, not the child's
    return env


def launched_command() -> list[str]:
    """The command line to record in meta.json: the user's launch command inside launched processes."""
    try:
        argv = json.loads(os.environ.get(ARGV_ENV, "null"))
    except json.JSONDecodeError:
        argv = None
    return argv if isinstance(argv, list) and inside_launch() else list(sys.argv)
