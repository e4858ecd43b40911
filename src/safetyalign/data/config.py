"""Data section of an experiment config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from safetyalign.configlib import check_range, opt

SOURCE_KINDS = ("pku_saferlhf", "hh_rlhf", "preference", "coconot", "refusal_pairs", "helpful_pairs")


@dataclass
class HoldoutConfig:
    """Deterministic hash split of one source by prompt (see ``safetyalign.data.split``)."""

    part: Literal["train", "eval"] = opt("train", help="Which part this source keeps: 'train' keeps prompts with "
                                         "prompt_hash_fraction < fraction, 'eval' keeps the others.")
    fraction: float = opt(0.5, help="Share of prompts (by hash) that belongs to the train part.")

    def validate(self) -> None:
        """Fraction must lie in [0, 1]."""
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"holdout.fraction must be in [0, 1], got {self.fraction}")


@dataclass
class SourceConfig:
    """One preference-data source. Several sources are mixed by ``count`` (rows) or ``weight`` (share)."""

    kind: Literal["pku_saferlhf", "hh_rlhf", "preference", "coconot", "refusal_pairs", "helpful_pairs"] = opt(
        "preference", help="Loader: pku_saferlhf (original or safer-pair schema), hh_rlhf transcripts, preference "
        "(generic prompt/chosen/rejected with column mapping; LLaMA-Factory ShareGPT ranking files are detected), "
        "coconot (benign look-alike pairs), refusal_pairs (chosen = a written refusal for red-team prompts, "
        "rejected = a response column or the base model's answer), helpful_pairs (benign prompt + helpful answer "
        "column or, without one or when a default-named one is empty, the base model's own answer; rejected = a "
        "written refusal: teaches not to over-refuse).")
    path: str = opt("", help="Hub dataset name or local file/folder (JSONL/JSON/CSV/parquet, .gz ok). "
                    "'shared:' prefix = ../shared/data.")
    subset: str | None = opt(None, help="Hub dataset config name (datasets.load_dataset's second argument).")
    data_dir: str | None = opt(None, help="Hub dataset sub-folder, e.g. harmless-base for Anthropic/hh-rlhf.")
    split: str = opt("train", help="Split expression, e.g. train[:2000], train[10%:20%]; the slice also applies "
                     "to local files (the split name picks files in a folder when their names contain it).")
    count: int | None = opt(None, help="Take this many rows from the source (after validation).")
    weight: float | None = opt(None, help="Share of the mixture when count is not given.")
    columns: dict[str, str] = opt(factory=dict, help="Column mapping {prompt: ..., chosen: ..., rejected: ..., "
                                  "input: ..., category: ..., lang: ...}; keys are our fields, values the file's.")
    pair_by: Literal["safer", "better"] = opt("safer", help="PKU-SafeRLHF: choose chosen by safer or better id.")
    only_one_safe: bool = opt(False, help="PKU-SafeRLHF: keep only pairs where exactly one response is safe.")
    lang: str | None = opt(None, help="Language tag (en/zh) when the source does not carry one.")
    refusal_lang: str | None = opt(None, help="refusal_pairs / helpful_pairs: language of the written refusal "
                                   "(en/zh); default: the prompt's language.")
    filter: dict[str, str] = opt(factory=dict, help="Keep rows whose field equals the value, e.g. {category: X}; "
                                 "'A|B' matches either value, a leading '!' negates.")
    name: str | None = opt(None, help="Display name of the source (default: kind:file name).")
    holdout: HoldoutConfig | None = opt(None, help="Keep only one hash part of this source's prompts, e.g. "
                                        "{part: train, fraction: 0.5}; eval suites take the other part.")
    multi_turn: Literal["messages", "flatten"] = opt("messages", help="hh_rlhf / ShareGPT multi-turn prompts: "
                                                     "'messages' = a chat message list (rendered by the chat "
                                                     "template), 'flatten' = one text with 'Human:/Assistant:' turns.")

    def validate(self) -> None:
        """count and weight must be positive."""
        if self.count is not None and self.count < 0:
            raise ValueError(f"count must be >= 0, got {self.count}")
        if self.weight is not None and self.weight <= 0:
            raise ValueError(f"weight must be > 0, got {self.weight}")


@dataclass
class DataConfig:
    """Training data: sources, mixing, validation limits and the train/eval split."""

    sources: list[SourceConfig] = opt(factory=lambda: [SourceConfig(
        kind="pku_saferlhf", path="PKU-Alignment/PKU-SafeRLHF-10K", split="train[:2000]")],
        help="Preference sources, mixed in order.")
    seed: int = opt(42, help="Seed for shuffling and splitting.")
    eval_fraction: float = opt(0.05, help="Fraction of pairs held out for eval loss (split by prompt, so a prompt "
                               "never lands in both parts).")
    max_chars: int = opt(8000, help="Rows whose prompt/chosen/rejected is longer than this are skipped (too_long).")
    max_rows: int | None = opt(None, help="Cap on the mixed dataset size.")
    exclude_prompts_from: list[str] = opt(factory=list, help="Eval suites whose prompts must not appear in training "
                                          "(JSONL/JSON/CSV paths, 'shared:' paths or built-in suite names).")
    num_samples: int = opt(8, help="How many dataset samples to keep for the comparison report.")
    holdout_sources: list[str] = opt(factory=list, help="Datasets that must not train this run (leave-source-out: "
                                     "shared-data folder names such as toxicchat-test, or 'project'); a configured "
                                     "source from one of them is a one-line error.")
    holdout_categories: list[str] = opt(factory=list, help="Harm taxonomy categories held out of training: harmful "
                                        "rows of these categories are skipped (reason held_out_category) and the "
                                        "evaluation reports them under heldout_category/ (keys: "
                                        "safetyalign.taxonomy.CATEGORIES).")
    dedupe: bool = opt(True, help="Drop exact repeats of a (prompt, chosen, rejected) triple (skip reason "
                       "'duplicate'); PKU-SafeRLHF splits contain many.")

    def validate(self) -> None:
        """eval_fraction in [0, 1); positive max_chars / max_rows."""
        if not 0.0 <= self.eval_fraction < 1.0:
            raise ValueError(f"data.eval_fraction must be in [0, 1), got {self.eval_fraction}")
        for name in ("max_chars", "max_rows"):
            check_range(self, "data", name, lo=1)
        check_range(self, "data", "num_samples", lo=0)
        from safetyalign.taxonomy import CATEGORIES

        bad = [c for c in self.holdout_categories if c not in CATEGORIES]
        if bad:
            raise ValueError(f"data.holdout_categories: unknown {bad}; known: {', '.join(CATEGORIES)}")
