"""Shared fixtures: offline hub, a tiny random Llama model with SmolLM2's real tokenizer and chat template."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real shared datasets (../shared/data)."""
    from safetyalign.paths import shared_data_dir

    path = shared_data_dir(required=False)
    if path is None:
        pytest.skip("../shared/data not present")
    return path


@pytest.fixture(scope="session")
def smollm_tokenizer():
    """SmolLM2-135M-Instruct's tokenizer (from the embedded GGUF, cached as safetensors folder)."""
    from safetyalign.models.config import ModelConfig
    from safetyalign.models.loading import load_tokenizer

    return load_tokenizer(ModelConfig(name_or_path="embedded:smollm2-135m"))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, smollm_tokenizer) -> Path:
    """A 2-layer random Llama (hidden 32) saved as a local HF folder, with SmolLM2's tokenizer."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    tok = smollm_tokenizer
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                      pad_token_id=tok.pad_token_id, tie_word_embeddings=True)
    model = LlamaForCausalLM(cfg)
    out = tmp_path_factory.mktemp("tiny_model")
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_train_cfg(tiny_model_dir):
    """Factory ``(tmp, *overrides) -> config``: a tiny, fast training config on ``tiny_model_dir`` (LoRA r=4, short
    sequences, high lr, 2 pairs per step, no progress bar, legacy copies under ``tmp``); later overrides win."""
    from safetyalign.config import load_config

    def make(tmp: Path, *extra: str):
        return load_config(None, [
            f"model.name_or_path={tiny_model_dir}", "model.max_length=48", "model.max_prompt_length=32", "lora.r=4",
            "lora.lora_alpha=8", "train.learning_rate=2e-2", "train.warmup_steps=0",
            "train.lr_scheduler_type=constant",
            "train.per_device_train_batch_size=2", "train.gradient_accumulation_steps=1", "train.disable_tqdm=true",
            "train.beta=0.1", f"train.output_dir={tmp / 'legacy_adapter'}", f"run.plots_dir={tmp / 'legacy_plots'}",
            *extra])

    return make
