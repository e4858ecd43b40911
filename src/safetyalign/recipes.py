"""What the original commands use when they are given no config: the user's path through the project.

- ``safetyalign train`` (``bash scripts/run_train.sh``): ``$SAFETYALIGN_CONFIG`` when set, else the reference recipe
  (Qwen2.5-7B-Instruct) on a machine with a CUDA GPU, else the CPU recipe (the quickstart on SmolLM2-135M).
- ``safetyalign eval`` / ``compare`` (``bash scripts/run_eval.sh``, ``python scripts/compare_safety.py``): the last
  training run, i.e. the config stored with the adapter that training copies to ``output/dpo_lora``; base and tuned.
"""

from __future__ import annotations

import os
from pathlib import Path

GPU_RECIPE = "configs/train/qwen2.5-7b_lora_dpo.yaml"
CPU_RECIPE = "configs/quickstart.yaml"
CONFIG_ENV = "SAFETYALIGN_CONFIG"
LAST_ADAPTER = Path("output/dpo_lora")


def shipped(path: str) -> Path:
    """``path`` as given when it exists from the working directory, else inside the source checkout."""
    from safetyalign.paths import project_root

    here = Path(path)
    return here if here.exists() or here.is_absolute() else project_root() / path


def has_cuda() -> bool:
    """Whether torch sees a CUDA GPU (False when torch cannot tell)."""
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # noqa: BLE001 - a broken CUDA set-up means: use the CPU recipe
        return False


def default_config() -> tuple[Path, str]:
    """The config training uses when none is named, and why (one line for the log)."""
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env), f"from ${CONFIG_ENV}"
    if has_cuda():
        return shipped(GPU_RECIPE), "the reference recipe (a CUDA GPU is present)"
    return shipped(CPU_RECIPE), f"the CPU recipe (no CUDA GPU; set {CONFIG_ENV} to choose another)"


def last_training_run(adapter_dir: Path = LAST_ADAPTER) -> tuple[Path, Path] | None:
    """``(config, adapter)`` of the last training run: the resolved config stored with the adapter copy at
    ``output/dpo_lora`` (its ``run.run_dir`` names the run folder), or None when there is no adapter there."""
    if (adapter_dir / "adapter_config.json").is_file() and (adapter_dir / "config.yaml").is_file():
        return adapter_dir / "config.yaml", adapter_dir
    return None


def config_and_overrides(config: str | None, overrides: list[str]) -> tuple[Path, list[str]]:
    """The config a training command uses: CONFIG when given, else :func:`default_config` (logged). A first
    positional ``key=value`` that is not a file is an override (``safetyalign train train.max_steps=10``)."""
    from safetyalign.logs import get_logger

    overrides = list(overrides)
    if config and "=" in config and not Path(config).is_file():
        config, overrides = None, [config, *overrides]
    if config:
        return Path(config), overrides
    path, why = default_config()
    get_logger(__name__).info("config: %s (%s)", path, why)
    return path, overrides


def eval_target(config: str | None, overrides: list[str], adapter: Path | None,
                base_only: bool = False) -> tuple[Path, list[str], Path | None]:
    """``(config, overrides, adapter)`` for ``eval`` / ``compare``. Without CONFIG: the last training run's config
    with its adapter (``output/dpo_lora``), else the training default on the base model alone (logged)."""
    from safetyalign.logs import get_logger

    log = get_logger(__name__)
    overrides = list(overrides)
    if config and "=" in config and not Path(config).is_file():
        config, overrides = None, [config, *overrides]
    if config:
        return Path(config), overrides, adapter
    last = last_training_run()
    if last is not None:
        adapter = None if base_only else (adapter or last[1])
        log.info("config: %s (the last training run)%s", last[0], f"; adapter: {adapter}" if adapter else "")
        return last[0], overrides, adapter
    path, why = default_config()
    log.info("config: %s (%s); no adapter at %s: the base model only (train first: bash scripts/run_train.sh)",
             path, why, LAST_ADAPTER)
    return path, overrides, adapter
