"""Run folders: one self-contained folder per run with config, provenance, metrics, plots, adapter and results.

Layout (see docs/run_folder.md)::

    <run_dir>/config.yaml            resolved config
    <run_dir>/meta.json              git commit, package versions, command line, start time, host (no env dump)
    <run_dir>/run.log                log of this run
    <run_dir>/timings.json           seconds per stage
    <run_dir>/data/...               data summary, stats, samples
    <run_dir>/plots/*.png            data and training plots
    <run_dir>/metrics.jsonl          training metrics stream
    <run_dir>/adapter/               adapter_model.safetensors + adapter_config.json + tokenizer
    <run_dir>/eval/...               evaluation_results.json, compare_results.json, generations
    <run_dir>/report.html, report.md
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from safetyalign.io import read_json, write_json

TRACKED_PACKAGES = ["safetyalign", "torch", "transformers", "trl", "peft", "accelerate", "datasets",
                    "safetensors", "gguf", "unsloth", "liger-kernel", "bitsandbytes", "deepspeed", "scikit-learn"]


def git_commit(root: Path | None = None) -> str | None:
    """The current commit hash (with ``-dirty`` when the tree has changes), or None outside git."""
    from safetyalign.paths import project_root

    cwd = root or project_root()
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10)
        if sha.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return sha.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that matter for reproducing a run."""
    out: dict[str, str | None] = {}
    for name in TRACKED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def new_run_dir(output_root: str | Path, name: str) -> Path:
    """A fresh ``<output_root>/<name>-YYYYmmdd-HHMMSS`` folder (suffix added if it exists)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(output_root) / f"{name}-{stamp}"
    path, i = base, 1
    while path.exists():
        path, i = Path(f"{base}-{i}"), i + 1
    path.mkdir(parents=True)
    return path


def write_provenance(run_dir: Path, config_yaml: str, command: list[str] | None = None) -> None:
    """Write config.yaml and meta.json (commit, versions, argv, python, platform). Never the environment."""
    from safetyalign.io import atomic_write_text

    atomic_write_text(run_dir / "config.yaml", config_yaml)
    meta = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "command": command if command is not None else sys.argv,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
    }
    write_json(run_dir / "meta.json", meta)


class Timings:
    """Collects wall-clock seconds per stage and writes ``timings.json`` after each stage (survives a crash)."""

    def __init__(self, path: Path):
        self.path = path
        self.data: dict[str, Any] = read_json(path) if path.is_file() else {"stages": {}}

    @contextmanager
    def stage(self, name: str):
        """Time a ``with`` block as stage ``name``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.record(name, time.perf_counter() - start)

    def record(self, name: str, seconds: float) -> None:
        """Store one stage, merging with what other writers (e.g. the eval stage) put in the file meanwhile."""
        if self.path.is_file():
            on_disk = read_json(self.path)
            self.data = {**on_disk, **{k: v for k, v in self.data.items() if k != "stages"},
                         "stages": {**on_disk.get("stages", {}), **self.data.get("stages", {})}}
        self.data["stages"][name] = round(seconds, 2)
        self.data["total_s"] = round(sum(self.data["stages"].values()), 2)
        write_json(self.path, self.data)


def cpu_matmul_gflops(size: int = 1024, seconds: float = 0.3) -> float:
    """This machine's float32 matmul throughput on the CPU right now, in GFLOP/s. Stored with the timings, it makes
    wall times comparable across runs on machines whose speed varies (a shared VM ran the same probe at 35 and at
    58 GFLOP/s minutes apart)."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm-up
    n, start = 0, time.perf_counter()
    while n < 2 or time.perf_counter() - start < seconds:
        a @ b
        n += 1
    gflops = 2 * size**3 * n / (time.perf_counter() - start) / 1e9
    return float(f"{gflops:.3g}")  # 3 significant digits: a loaded machine can read well below 0.1


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Read metrics.jsonl, skipping a truncated last line."""
    rows = []
    if not path.is_file():
        return rows
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


TRAINING_OUTPUTS = ("checkpoints", "metrics.jsonl", "adapter")
RESUME_MAY_CHANGE = ("train.max_steps", "train.save_steps", "train.save_total_limit", "train.logging_steps",
                     "train.eval_steps", "train.disable_tqdm", "train.report_to", "train.num_threads",
                     "train.output_dir", "model.device", "run.", "eval.",
                     "train.use_reference_model")  # a frozen copy of the same weights: same reference log-probs


def has_training(run_dir: Path) -> bool:
    """True when ``run_dir`` already holds the outputs of a training run (checkpoints, metrics or an adapter)."""
    run_dir = Path(run_dir)
    return any((run_dir / name).exists() for name in TRAINING_OUTPUTS)


def claim_run_dir(run_dir: Path, resume: bool, overwrite: bool) -> Path:
    """Make ``run_dir`` ready for a training run. A folder that already holds one is refused unless ``resume``
    (continue it) or ``overwrite`` (its contents are removed first, so nothing of the old run stays beside the new
    one). Raises a one-line :class:`ConfigError`."""
    import shutil

    from safetyalign.errors import ConfigError

    run_dir = Path(run_dir)
    if resume and overwrite:
        raise ConfigError("--resume and --overwrite exclude each other: continue the run or start it clean")
    if overwrite and run_dir.exists() and any(run_dir.iterdir()):
        if not ((run_dir / "config.yaml").is_file() or (run_dir / "meta.json").is_file()):
            raise ConfigError(f"{run_dir}: --overwrite only clears run folders (no config.yaml or meta.json here)")
        for child in run_dir.iterdir():
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    elif not resume and has_training(run_dir):
        found = ", ".join(n for n in TRAINING_OUTPUTS if (run_dir / n).exists())
        raise ConfigError(f"{run_dir}: run folder already holds a training run ({found}); pass --resume to continue "
                          f"it, --overwrite to start it clean, or choose another --run-dir")
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix.rstrip("."): data}


def config_changes(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """``key: old -> new`` for every field that differs between two resolved config dicts and is not in
    :data:`RESUME_MAY_CHANGE`."""
    old, new = _flatten(saved), _flatten(current)
    changes = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key) and not any(key == a or a.endswith(".") and key.startswith(a)
                                                    for a in RESUME_MAY_CHANGE):
            changes.append(f"{key}: {old.get(key, '<unset>')!r} -> {new.get(key, '<unset>')!r}")
    return changes


def check_resume_config(run_dir: Path, current: dict[str, Any]) -> None:
    """On ``--resume``: stop with one line naming every changed field that the saved run's ``config.yaml``
    fixes (a run whose record claims settings it was not trained with is worse than no run)."""
    import yaml

    from safetyalign.errors import ConfigError

    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        return
    saved = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    changes = config_changes(saved, current)
    if changes:
        allowed = ", ".join(a.rstrip(".") + ("*" if a.endswith(".") else "") for a in RESUME_MAY_CHANGE)
        raise ConfigError(f"--resume: the config differs from {path}: {'; '.join(changes)} (only {allowed} may "
                          f"change on resume; start a new run or pass --overwrite)")
