"""Config system: every shipped config validates; unknown keys, wrong types and bad overrides fail clearly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from safetyalign.config import ExperimentConfig, dump_config, load_config
from safetyalign.configlib import parse_override
from safetyalign.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted(p for p in (ROOT / "configs").rglob("*.yaml") if "accelerate" not in p.parts)


def test_there_are_shipped_configs():
    assert any("qwen2.5-7b_lora_dpo" in p.name for p in SHIPPED)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shipped_config_loads(path):
    cfg = load_config(path)
    assert isinstance(cfg, ExperimentConfig)
    # round trip: the resolved YAML loads back to the same config
    again = path.parent / "__roundtrip_tmp.yaml"
    try:
        again.write_text(dump_config(cfg))
        assert load_config(again) == cfg
    finally:
        again.unlink(missing_ok=True)


def test_qwen_reference_recipe_fields():
    cfg = load_config(ROOT / "configs/train/qwen2.5-7b_lora_dpo.yaml")
    assert cfg.model.name_or_path == "Qwen/Qwen2.5-7B-Instruct"
    assert cfg.train.max_steps == 60
    assert cfg.data.sources[0].split == "train[:2000]"
    assert set(cfg.lora.target_modules) == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                            "down_proj"}
    assert cfg.model.trust_remote_code is False


def test_overrides_are_typed():
    cfg = load_config(None, ["train.learning_rate=5e-6", "train.max_steps=10", "train.loss_type=[sigmoid,sft]",
                             "model.system_prompt=Be safe.", "train.gradient_checkpointing=true"])
    assert cfg.train.learning_rate == pytest.approx(5e-6)
    assert cfg.train.max_steps == 10
    assert cfg.train.loss_type == ["sigmoid", "sft"]
    assert cfg.model.system_prompt == "Be safe."
    assert cfg.train.gradient_checkpointing is True


@pytest.mark.parametrize("override, needle", [
    ("train.lrr=1", "unknown key 'train.lrr'"),
    ("train.max_steps=abc", "key 'train.max_steps' expects an integer"),
    ("model.dtype=float8", "key 'model.dtype' must be one of"),
    ("nosection.x=1", "unknown key 'nosection'"),
    ("train.learning_rate", "expected KEY=VALUE"),
])
def test_bad_overrides_name_the_key(override, needle):
    with pytest.raises(ConfigError) as err:
        load_config(ROOT / "configs/train/qwen2.5-7b_lora_dpo.yaml", [override])
    assert needle in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("old, new", [
    ("train.lr", "train.learning_rate"), ("train.lr_scheduler", "train.lr_scheduler_type"),
    ("train.per_device_batch_size", "train.per_device_train_batch_size"),
    ("train.eval_batch_size", "train.per_device_eval_batch_size"), ("train.progress_bar", "train.disable_tqdm"),
    ("lora.alpha", "lora.lora_alpha"), ("lora.dropout", "lora.lora_dropout"),
])
def test_pre_trl_names_are_refused_naming_the_new_name(old, new):
    with pytest.raises(ConfigError) as err:
        load_config(None, [f"{old}=1"])
    assert f"key '{old}' was renamed to '{new}" in str(err.value) and "\n" not in str(err.value)


def test_field_names_are_trl_and_peft_names():
    """Every train/lora field either has the name TRL's DPOConfig / PEFT's LoraConfig gives it, or is a documented
    project extension."""
    import dataclasses

    import peft
    import trl

    from safetyalign.train.config import LoraConfig, TrainConfig

    extensions = {"backend", "use_reference_model", "reference_free", "num_threads", "rpo_alpha", "top_layers",
                  }
    for ours, theirs in ((TrainConfig, trl.DPOConfig), (LoraConfig, peft.LoraConfig)):
        names = {f.name for f in dataclasses.fields(theirs)}
        for f in dataclasses.fields(ours):
            assert f.name in names or f.name in extensions, f"{ours.__name__}.{f.name} is not {theirs.__name__}'s"
            if f.name in extensions:
                assert "extension" in f.metadata["help"].lower() or f.name in names, f.name


def test_upgrade_overrides_reads_old_run_records():
    from safetyalign.config import upgrade_overrides

    assert upgrade_overrides(["train.lr=1e-3", "lora.dropout=0.1", "train.progress_bar=false", "lora.r=4"]) == [
        "train.learning_rate=1e-3", "lora.lora_dropout=0.1", "train.disable_tqdm=true", "lora.r=4"]


def test_bad_file_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  learning_rate: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml.*invalid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")
    nested = tmp_path / "nested.yaml"
    nested.write_text("data:\n  sources:\n    - kind: pku_saferlhf\n      colour: red\n")
    with pytest.raises(ConfigError, match=r"unknown key 'data.sources\[0\].colour'"):
        load_config(nested)


def test_parse_override_values():
    assert parse_override("a.b=1e-5") == (["a", "b"], 1e-5)
    assert parse_override("a=null") == (["a"], None)
    assert parse_override("a=hello world") == (["a"], "hello world")


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "safetyalign", *args], capture_output=True, text=True, cwd=ROOT)


def test_cli_help_lists_stages():
    res = _cli("--help")
    assert res.returncode == 0
    for stage in ["data", "train", "eval", "compare", "judge", "report", "quickstart", "doctor", "export"]:
        assert stage in res.stdout


def test_cli_bad_override_is_one_line_and_nonzero():
    res = _cli("config", "configs/train/qwen2.5-7b_lora_dpo.yaml", "--set", "train.max_steps=abc")
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0
    assert res.stderr.startswith("error: ") and "train.max_steps" in res.stderr


def test_indexed_list_override():
    cfg = load_config(None, ["data.sources[0].path=shared:pku-saferlhf/safer_pairs.jsonl"])
    assert cfg.data.sources[0].path == "shared:pku-saferlhf/safer_pairs.jsonl"
    assert cfg.data.sources[0].kind == "pku_saferlhf"  # the rest of the default source is kept
    with pytest.raises(ConfigError, match=r"index \[5\] is out of range"):
        load_config(None, ["data.sources[5].path=x"])
