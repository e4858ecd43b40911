"""The training-engine contract: ``supports(cfg) -> reason | None`` and ``train(...) -> TrainResult``.

Every engine declares, for **every** field of the ``train`` and ``lora`` config sections, either that it honours
the field (:data:`HONOURED`) or which values it accepts (:class:`Only`); a value outside them is refused with a
one-line error naming the field (``train.optim=adamw_8bit: engine fast implements AdamW only``). A field missing
from an engine's table is a programming error (tests/test_engines.py enumerates them), so nothing is silently
ignored.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from safetyalign.config import ExperimentConfig
    from safetyalign.train.core import TrainResult


@dataclass(frozen=True)
class Only:
    """The engine honours the field for the values ``accepts(value, cfg)`` allows and refuses the others;
    ``accepts=None``: the engine does not implement the field and accepts only its default (which means off)."""

    says: str  # why, in a few words: "implements AdamW only"
    accepts: Callable[[Any, Any], bool] | None = None


HONOURED = None  # marker: every value of the field is honoured


def config_fields() -> list[str]:
    """``train.<name>`` and ``lora.<name>`` for every field of the two sections."""
    from safetyalign.train.config import LoraConfig, TrainConfig

    return ([f"train.{f.name}" for f in dataclasses.fields(TrainConfig)]
            + [f"lora.{f.name}" for f in dataclasses.fields(LoraConfig)])


def _default(path: str) -> Any:
    from safetyalign.train.config import LoraConfig, TrainConfig

    section, name = path.split(".", 1)
    return getattr(TrainConfig() if section == "train" else LoraConfig(), name)


class Engine(ABC):
    """A training engine. Subclasses set ``name``, ``rules`` (every train/lora field), ``auto_rank`` (lower =
    preferred by ``train.backend=auto``; None = only when asked) and implement :meth:`run`."""

    name: str = ""
    rules: dict[str, Only | None] = {}
    auto_rank: int | None = None

    def refusal(self, cfg: ExperimentConfig) -> str | None:
        """The first field whose value this engine cannot honour, as a one-line reason naming it."""
        for path, rule in self.rules.items():
            if rule is None:
                continue
            section, name = path.split(".", 1)
            value = getattr(getattr(cfg, section), name)
            ok = value == _default(path) if rule.accepts is None else rule.accepts(value, cfg)
            if not ok:
                return f"{path}={_show(value)}: {rule.says}"
        return None

    def environment(self, cfg: ExperimentConfig) -> str | None:
        """What outside the config stops this engine (no GPU, package missing, model architecture); None = ok."""
        return None

    def supports(self, cfg: ExperimentConfig) -> str | None:
        """None when this engine can train ``cfg`` exactly as configured, else why not (one line)."""
        return self.refusal(cfg) or self.environment(cfg)

    def train(self, cfg: ExperimentConfig, run_dir: Path, train_rows: list[dict], eval_rows: list[dict] | None = None,
              resume: bool = False, model: Any = None, tokenizer: Any = None) -> TrainResult:
        """Check :meth:`supports` (a one-line ConfigError naming the field), then :meth:`run`."""
        from safetyalign.errors import ConfigError

        reason = self.supports(cfg)
        if reason:
            raise ConfigError(f"train.backend={self.name}: {reason}")
        return self.run(cfg, Path(run_dir), train_rows, eval_rows, resume, model, tokenizer)

    @abstractmethod
    def run(self, cfg: ExperimentConfig, run_dir: Path, train_rows: list[dict], eval_rows: list[dict] | None,
            resume: bool, model: Any, tokenizer: Any) -> TrainResult:
        """Train (the config is already known to be supported)."""


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ",".join(str(v) for v in value) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)
