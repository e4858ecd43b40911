"""``safetyalign export ADAPTER_DIR_OR_RUN_DIR --out DIR [--base name_or_path]``: merge LoRA into the base model.

The result (``model.safetensors`` + ``config.json`` + tokenizer) loads with plain
``AutoModelForCausalLM.from_pretrained(DIR)``, no PEFT needed. The base model comes from, in order: ``--base``,
the ``config.yaml`` saved in the adapter folder (its ``model`` section, so ``embedded:smollm2-135m`` resolves to the
cached dequantized folder and hub names/GGUF files load as in training), or ``base_model_name_or_path`` of
``adapter_config.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path
from typing import Any

from safetyalign.errors import ConfigError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``safetyalign export``."""
    parser.add_argument("adapter", help="adapter folder, or a run folder containing adapter/")
    parser.add_argument("--out", required=True, help="folder for the merged model")
    parser.add_argument("--base", default=None, help="base model (hub name, folder, .gguf or embedded:...) "
                        "overriding the one recorded with the adapter")
    parser.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"],
                        help="dtype of the merged weights (auto = the training dtype of the base on this machine)")


def find_adapter(path: str | Path) -> Path:
    """``path`` itself when it holds adapter_config.json, else ``path/adapter``; one-line error otherwise."""
    path = Path(path)
    for cand in (path, path / "adapter"):
        if (cand / "adapter_config.json").is_file():
            return cand
    raise ConfigError(f"{path}: no adapter_config.json here or in {path / 'adapter'}")


def base_model_config(adapter_dir: Path, base: str | None = None, dtype: str = "auto") -> Any:
    """A ModelConfig for the adapter's base model (see module docstring for the order of sources)."""
    from safetyalign.models.config import ModelConfig

    cfg = ModelConfig(dtype=dtype)  # type: ignore[arg-type]
    cfg_yaml = adapter_dir / "config.yaml"
    if cfg_yaml.is_file():
        from safetyalign.config import load_config

        cfg = load_config(cfg_yaml).model
        cfg.dtype = dtype  # type: ignore[assignment]
    elif not base:
        recorded = json.loads((adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
        base = recorded.get("base_model_name_or_path")
        if not base:
            raise ConfigError(f"{adapter_dir}: adapter_config.json has no base_model_name_or_path; pass --base")
    if base:
        cfg.name_or_path, cfg.gguf_file = base, None
    return cfg


def export_merged(adapter: str | Path, out: str | Path, base: str | None = None, dtype: str = "auto") -> Path:
    """Merge the adapter into its base and save safetensors + tokenizer into ``out`` (atomically); returns ``out``."""
    from peft import PeftModel

    from safetyalign.models.loading import check_adapter_folder, load_model, load_tokenizer
    from safetyalign.train.artifacts import swap_in

    adapter_dir = check_adapter_folder(find_adapter(adapter))
    cfg = base_model_config(adapter_dir, base, dtype)
    model = load_model(cfg, device="cpu")
    tokenizer = load_tokenizer(cfg)
    if (adapter_dir / "tokenizer_config.json").is_file():
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(adapter_dir)
    merged = PeftModel.from_pretrained(model, adapter_dir).merge_and_unload()
    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    merged.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    for name in ("config.yaml", "training_summary.json"):
        if (adapter_dir / name).is_file():
            shutil.copy2(adapter_dir / name, tmp / f"safetyalign_{name}")
    out.parent.mkdir(parents=True, exist_ok=True)
    return swap_in(tmp, out)


def main(args: argparse.Namespace) -> int:
    """Merge and save; print where the model went."""
    from safetyalign.logs import get_logger

    out = export_merged(args.adapter, args.out, args.base, args.dtype)
    get_logger(__name__).info("merged model saved to %s (load with AutoModelForCausalLM.from_pretrained)", out)
    return 0
