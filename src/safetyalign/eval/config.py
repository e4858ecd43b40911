"""Eval section of an experiment config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from safetyalign.configlib import check_range, opt


@dataclass
class GenerationConfig:
    """Decoding settings (greedy by default)."""

    max_new_tokens: int = opt(128, help="Tokens generated per prompt.")
    do_sample: bool = opt(False, help="Sample instead of greedy decoding.")
    temperature: float = opt(0.9, help="Sampling temperature (with do_sample).")
    top_p: float = opt(1.0, help="Nucleus sampling (with do_sample).")
    batch_size: int = opt(16, help="Prompts per generation batch.")
    seed: int = opt(0, help="Sampling seed.")
    engine: Literal["auto", "fast", "hf"] = opt("auto", help=(
        "Generator: auto (the project's continuous-batching engine on a CUDA GPU for Llama/Qwen2/Qwen3/Mistral "
        "models, HF generate otherwise, e.g. on the CPU), fast (always the engine), hf (always HF generate). "
        "batch_size applies to HF generate only; the engine sizes its batch from free GPU memory."))

    def validate(self) -> None:
        """At least one new token and one prompt per batch; temperature > 0, top_p in (0, 1]."""
        for name in ("max_new_tokens", "batch_size"):
            check_range(self, "eval.generation", name, lo=1)
        check_range(self, "eval.generation", "temperature", lo=0.0, lo_open=True)
        check_range(self, "eval.generation", "top_p", lo=0.0, hi=1.0, lo_open=True)


@dataclass
class CapabilityConfig:
    """Held-out instruction-answer pairs scored by the model's mean per-token log-likelihood of the answer."""

    sources: list[str] = opt(factory=list, help="Alpaca-format files ('shared:' allowed) with instruction "
                             "(+input) and output; rows whose prompt trained the run are left out. Empty = off.")
    max_per_source: int = opt(100, help="Pairs per file (deterministic sample by eval.seed).")
    max_answer_tokens: int = opt(48, help="Reference answers are cut to this many tokens.")
    batch_size: int = opt(16, help="Pairs per forward pass.")


@dataclass
class EvalConfig:
    """Which prompts to run, how to generate and how to judge."""

    suites: list[str] = opt(factory=lambda: ["redteam_basic", "benign_lookalike"], help=(
        "Suite names (built-in: redteam_basic, benign_lookalike; shared: advbench, jbb_harmful, jbb_benign, "
        "coconot_contrast, coconot_harmful, maliciousinstruct, simplesafetytests, xsafety_zh, xsafety_en, flames_zh, "
        "cvalues_zh), name@eval / name@train halves of the hash split, or file.jsonl[:prompt_field[:refuse|comply]]."))
    max_per_suite: int | None = opt(None, help="Cap prompts per suite (deterministic sample by seed).")
    seed: int = opt(0, help="Seed for suite sampling.")
    judges: list[str] = opt(factory=lambda: ["pattern"], help="Judges: cross (prompt-aware, refusal + harm), pattern, "
                            "learned, llm:<model>.")
    primary_judge: str = opt("pattern", help="Judge whose verdicts give the headline metrics.")
    harm_judge: str | None = opt(None, help="Judge whose harm verdict gives harmful/attack_success_rate (default: the "
                                 "primary judge; a judge without a harm verdict falls back to 'not refused').")
    judge_format: str | None = opt(None, help="llm: judges only: official prompt + parsing of llamaguard3, "
                                   "llamaguard4, harmbench, wildguard or strongreject (default: project rubric).")
    strongreject: bool = opt(False, help="LLM judges also give the StrongREJECT score (1-refused)*(conv+spec-2)/8.")
    generation: GenerationConfig = opt(factory=GenerationConfig, help="Decoding settings.")
    output: str = opt("output/evaluation_results.json", help="Legacy path the results are also copied to.")
    require_unseen: bool = opt(False, help="Refuse (one-line error) any suite whose source contributed training "
                               "prompts; by default such suites are evaluated and labelled in_distribution, and the "
                               "unseen/ metrics count only suites from sources the model never trained on.")
    capability: CapabilityConfig = opt(factory=CapabilityConfig, help="Capability retention: mean "
                                       "log-likelihood of reference answers to held-out instructions, base vs tuned.")

    def validate(self) -> None:
        """max_per_suite, when set, keeps at least one prompt."""
        check_range(self, "eval", "max_per_suite", lo=1)
