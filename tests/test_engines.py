"""The engine contract: every train/lora field is honoured or refused (by name) by every engine; ``auto`` picks the
fastest supporting engine and says why; the honoured fields are read by the engine's code."""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path

import pytest

from safetyalign.config import ExperimentConfig
from safetyalign.engines import ENGINES, get_engine, select_engine
from safetyalign.engines.base import config_fields

SRC = Path(__file__).resolve().parents[1] / "src" / "safetyalign"
# Non-default values to try per field; a refused field must be refused for at least one of them.
CANDIDATES = {
    "train.loss_type": [["ipo"], ["robust"]], "train.loss_weights": [[2.0]], "train.rpo_alpha": [0.5],
    "train.label_smoothing": [0.1], "train.ld_alpha": [0.5], "train.use_weighting": [True],
    "train.use_reference_model": [True], "train.reference_free": [True], "train.optim": ["adamw_8bit"],
    "train.report_to": [["wandb"]], "train.lr_scheduler_type": ["polynomial"], "train.gradient_checkpointing": [True],
    "train.eval_steps": [5], "train.per_device_eval_batch_size": [4], "lora.target_modules": [["embed_tokens"]],
    "lora.top_layers": [None],
}
# Where each engine's implementation lives (an honoured field must be read there).
CODE = {
    "trl": ["engines/trl.py", "train/dpo_args.py", "train/finalize.py", "train/core.py", "train/pairs.py"],
    "unsloth": ["engines/unsloth.py", "engines/trl.py", "train/dpo_args.py", "train/finalize.py", "train/core.py",
                "train/pairs.py"],
    "fast": ["engines/fast.py", "fastdpo", "train/core.py", "train/checkpoints.py", "train/dpo_args.py",
             "train/pairs.py"],
    "prefix_cache": ["engines/prefix_cache.py", "prefix_cache", "train/core.py", "train/checkpoints.py",
                     "train/dpo_args.py"],
}


def accepted_base() -> ExperimentConfig:
    """A config every engine's field rules accept (only lora.top_layers differs from the defaults)."""
    cfg = ExperimentConfig()
    cfg.lora.top_layers = 2
    return cfg


def with_value(path: str, value: object) -> ExperimentConfig:
    cfg = accepted_base()
    section, name = path.split(".")
    setattr(cfg, section, dataclasses.replace(getattr(cfg, section), **{name: value}))
    return cfg


@pytest.mark.parametrize("name", sorted(ENGINES))
def test_every_field_is_honoured_or_refused(name):
    engine = ENGINES[name]
    assert set(engine.rules) == set(config_fields()), f"{name}: rules must list exactly the train/lora fields"
    assert engine.refusal(accepted_base()) is None
    for path, rule in engine.rules.items():
        if rule is None:
            continue
        reasons = [engine.refusal(with_value(path, v)) for v in CANDIDATES.get(path, [])]
        refused = [r for r in reasons if r]
        assert refused, f"{name}: no candidate value of {path} is refused; add one to CANDIDATES"
        for reason in refused:
            assert reason.startswith(f"{path}=") and "\n" not in reason, reason


def _source(parts: list[str]) -> str:
    files = []
    for part in parts:
        p = SRC / part
        files += sorted(p.rglob("*.py")) if p.is_dir() else [p]
    return "\n".join(f.read_text(encoding="utf-8") for f in files)


@pytest.mark.parametrize("name", sorted(ENGINES))
def test_honoured_fields_are_read_by_the_engine(name):
    code = _source(CODE[name])
    for path, rule in ENGINES[name].rules.items():
        field = path.split(".")[1]
        if rule is None and field != "backend":  # backend is read by the registry that picked the engine
            assert re.search(rf"\.{field}\b", code), f"{name} claims to honour {path} but never reads it"


def test_refusal_is_a_one_line_error_naming_the_field(tmp_path):
    from safetyalign.errors import ConfigError

    cfg = with_value("train.optim", "adamw_8bit")
    with pytest.raises(ConfigError) as err:
        get_engine("fast").train(cfg, tmp_path, [{"prompt": "p", "chosen": "c", "rejected": "r"}])
    assert str(err.value) == ("train.backend=fast: train.optim=adamw_8bit: implements AdamW only "
                              "(adamw_torch, adamw_torch_fused)")


def test_auto_picks_the_fastest_supporting_engine_and_says_why(monkeypatch, caplog):
    monkeypatch.setattr("safetyalign.engines.fast.FastEngine.environment", lambda self, cfg: None)
    monkeypatch.setattr("safetyalign.models.loading.pick_device", lambda requested="auto": "cpu")
    cfg = ExperimentConfig()
    cfg.data.eval_fraction = 0.0
    with caplog.at_level(logging.INFO, logger="safetyalign.engines"):
        assert select_engine(cfg).name == "trl"
    assert "fast: no CUDA device" in caplog.text and "prefix_cache: lora.top_layers=None" in caplog.text
    cfg.lora.top_layers = 2
    assert select_engine(cfg).name == "prefix_cache"
    monkeypatch.setattr("safetyalign.models.loading.pick_device", lambda requested="auto": "cuda")
    assert select_engine(cfg).name == "fast"
    cfg.train.loss_type = ["sigmoid", "sft"]
    assert select_engine(cfg).name == "prefix_cache"
    cfg.train.backend = "unsloth"
    assert select_engine(cfg).name == "unsloth"  # named, never picked by auto


def test_unknown_backend_is_refused():
    from safetyalign.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown backend 'jax'"):
        get_engine("jax")
