"""Data section of an experiment config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from safetyalign.configlib import opt


@dataclass
class SourceConfig:
    """One preference-data source. Several sources are mixed by ``count`` (rows) or ``weight`` (share)."""

    kind: Literal["pku_saferlhf", "hh_rlhf", "preference", "coconot", "refusal_pairs"] = opt(
        "preference", help="Loader: pku_saferlhf (original or safer-pair schema), hh_rlhf transcripts, preference "
        "(generic prompt/chosen/rejected with column mapping), coconot (benign look-alike pairs), refusal_pairs "
        "(chosen = a written refusal for red-team prompts, rejected = a response file or the base model's answer).")
    path: str = opt("", help="Hub dataset name or local file/folder (JSONL/JSON/CSV/parquet, .gz ok). "
                    "'shared:' prefix = ../shared/data.")
    split: str = opt("train", help="Split expression for hub datasets, e.g. train[:2000].")
    count: int | None = opt(None, help="Take this many rows from the source (after validation).")
    weight: float | None = opt(None, help="Share of the mixture when count is not given.")
    columns: dict[str, str] = opt(factory=dict, help="Column mapping {prompt: ..., chosen: ..., rejected: ...}.")
    pair_by: Literal["safer", "better"] = opt("safer", help="PKU-SafeRLHF: choose chosen by safer or better id.")
    only_one_safe: bool = opt(False, help="PKU-SafeRLHF: keep only pairs where exactly one response is safe.")
    lang: str | None = opt(None, help="Language tag (en/zh) when the source does not carry one.")
    filter: dict[str, str] = opt(factory=dict, help="Keep rows whose field equals the value, e.g. {category: X}.")


@dataclass
class DataConfig:
    """Training data: sources, mixing, validation limits and the train/eval split."""

    sources: list[SourceConfig] = opt(factory=lambda: [SourceConfig(
        kind="pku_saferlhf", path="PKU-Alignment/PKU-SafeRLHF-10K", split="train[:2000]")],
        help="Preference sources, mixed in order.")
    seed: int = opt(42, help="Seed for shuffling and splitting.")
    eval_fraction: float = opt(0.05, help="Fraction of pairs held out for eval loss.")
    max_chars: int = opt(8000, help="Rows whose prompt/chosen/rejected is longer than this are skipped (too_long).")
    max_rows: int | None = opt(None, help="Cap on the mixed dataset size.")
    exclude_prompts_from: list[str] = opt(factory=list, help="Eval suites whose prompts must not appear in training.")
    num_samples: int = opt(8, help="How many dataset samples to keep for the comparison report.")
