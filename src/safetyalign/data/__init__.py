"""Data stage: preference-pair loading, validation, mixing, chat formatting, statistics and plots.

Public API (cheap to import; heavy libraries load lazily)::

    from safetyalign.data import build_dataset, analyse, to_trl_rows, fill_on_policy, prompt_hash_fraction
"""

from __future__ import annotations

from typing import Any

__all__ = ["DatasetBundle", "analyse", "build_dataset", "fill_on_policy", "fill_rejected", "load_bundle",
           "prompt_hash_fraction", "to_trl_rows"]


def __getattr__(name: str) -> Any:
    if name in ("DatasetBundle", "build_dataset", "load_bundle"):
        from safetyalign.data import build

        return getattr(build, name)
    if name in ("to_trl_rows", "fill_on_policy", "fill_rejected"):
        from safetyalign.data import formatting

        return getattr(formatting, name)
    if name == "analyse":
        from safetyalign.data.stats import analyse

        return analyse
    if name == "prompt_hash_fraction":
        from safetyalign.data.split import prompt_hash_fraction

        return prompt_hash_fraction
    raise AttributeError(name)
