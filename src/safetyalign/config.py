"""The experiment config: one YAML file per experiment, loaded into typed dataclasses.

``load_config("configs/train/tiny_cpu.yaml", ["train.learning_rate=5e-6"])`` reads the YAML, applies dotted
overrides and validates every key and type; errors are one line naming the key and the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from safetyalign.configlib import apply_overrides, from_dict, opt, read_config, to_dict
from safetyalign.data.config import DataConfig
from safetyalign.eval.config import EvalConfig
from safetyalign.models.config import ModelConfig
from safetyalign.train.config import LoraConfig, TrainConfig


@dataclass
class RunConfig:
    """Run naming and locations."""

    name: str = opt("run", help="Run name; the run folder is <output_root>/<name>-<timestamp> unless run_dir is set.")
    output_root: str = opt("output/runs", help="Parent folder of run folders.")
    run_dir: str | None = opt(None, help="Explicit run folder (reused on --resume).")
    plots_dir: str = opt("plots", help="Where the latest plots are also copied (legacy path).")
    logs_dir: str = opt("logs", help="Where <run>.log is written.")

    def validate(self) -> None:
        """The run name is one folder name, so run folders stay under output_root."""
        name = self.name
        if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name:
            raise ValueError(f"run.name must be a plain folder name (no '/', '\\', '..'), got {name!r}")


@dataclass
class ExperimentConfig:
    """A whole experiment: model, data, LoRA, training and evaluation."""

    run: RunConfig = opt(factory=RunConfig, help="Run naming and locations.")
    model: ModelConfig = opt(factory=ModelConfig, help="Base model.")
    data: DataConfig = opt(factory=DataConfig, help="Preference data.")
    lora: LoraConfig = opt(factory=LoraConfig, help="LoRA adapter.")
    train: TrainConfig = opt(factory=TrainConfig, help="DPO training.")
    eval: EvalConfig = opt(factory=EvalConfig, help="Red-team evaluation.")


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> ExperimentConfig:
    """Load an experiment YAML (or the defaults when ``path`` is None), resolve its ``base:`` chain and apply
    dotted overrides."""
    raw = read_config(path) if path else {}
    source = str(path) if path else "<defaults>"
    raw = apply_overrides(raw, list(overrides or []), source=source, defaults=to_dict(ExperimentConfig()))
    return from_dict(ExperimentConfig, raw, source=source)


def upgrade_overrides(overrides: list[str]) -> list[str]:
    """Dotted overrides recorded before the TRL/PEFT renames (``train.lr=1e-3``) in today's names
    (``train.learning_rate=1e-3``); for reading old run records only, configs given by users must use the new names."""
    sections = {"train": TrainConfig.RENAMED, "lora": LoraConfig.RENAMED}
    out = []
    for text in overrides:
        key, sep, value = text.partition("=")
        section, _, name = key.partition(".")
        new = sections.get(section, {}).get(name)
        if new and name == "progress_bar":
            text = f"{section}.disable_tqdm={'false' if value.strip().lower() == 'true' else 'true'}"
        elif new:
            text = f"{section}.{new}{sep}{value}"
        out.append(text)
    return out


def dump_config(cfg: ExperimentConfig) -> str:
    """The resolved config as YAML text (what a run folder stores as config.yaml)."""
    return yaml.safe_dump(to_dict(cfg), sort_keys=False, allow_unicode=True)
